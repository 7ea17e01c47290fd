// Serves verified pieces of the node's library to other peers, reading
// through file_io. Detached in a node (its reads block), scheduled under the
// deterministic scheduler. With an upload limit it paces its replies with a
// token bucket without ever blocking: a reply over budget is held (its
// response promise kept) and answered by a delayed tick.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/make_message.hpp>
#include <caf/result.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/core/file_io.hpp"
#include "actors/interfaces.hpp"
#include "actors/peer/library.hpp"
#include "actors/transfer/piece_stream.hpp"
#include "actors/transfer/token_bucket.hpp"

namespace actorrent {

/// Why a piece is not served: an error code and a message for the requester.
struct serve_refusal {
  errc code = errc::bad_message;
  std::string why;
};

/// Locates the piece `req` names with the checks every way of serving makes
/// (message sizes, name, file version, piece verified, a group file's
/// ticket at `now_unix`); nullopt when refused, `no` saying why.
std::optional<piece_location> locate_requested(const library& lib,
                                               const pb::PieceRequest& req,
                                               int64_t now_unix,
                                               serve_refusal& no);

/// A view of the piece cache's block of a located piece, if it holds it
/// (counted as served).
std::optional<piece_bytes> cached_piece(library& lib, const piece_location& loc,
                                        uint32_t index);

/// The bytes of a located piece: a view of the piece cache's block when it
/// holds the piece, else read from disk; counted as served. nullopt when the
/// read failed, `no` saying why.
std::optional<piece_bytes> read_located(library& lib, file_io& io,
                                        const piece_location& loc,
                                        uint32_t index, serve_refusal& no);

/// One piece of a reply: which, and how many bytes.
struct batch_piece {
  uint32_t index = 0;
  uint32_t length = 0;
};

/// The bytes of a reply of several pieces (pb::PieceRequest::more): the
/// pieces in order, end to end, each read by `read(i, dst)` ("" or why
/// not). The first piece's failure is the reply's error; a later piece that
/// cannot be read is left out. `hdr` gets the index and the `more` of the
/// pieces the bytes hold. Mirrors and piece servers answer through it.
caf::expected<piece_bytes>
read_batch(const std::vector<batch_piece>& pieces, pb::PieceHeader& hdr,
           const std::function<std::string(size_t, char*)>& read);

/// The stream handler of a piece server that offers no stream (a mirror, a
/// stream's own end, a test's source).
inline constexpr auto no_stream
  = [](stream_atom, const pb::StreamRequest&) -> caf::result<pb::StreamGrant> {
  return make_error(errc::unsupported, "no piece stream here");
};

struct piece_server_options {
  std::shared_ptr<file_io> io;
  uint64_t upload_limit = 0;  // bytes per second, 0: unlimited
  /// Seconds since the Unix epoch (ticket expiry).
  std::function<int64_t()> unix_time;
  /// A request that would wait longer than this for upload budget is
  /// refused at once with errc::busy (the requester asks another source):
  /// the held queue stays short and every held reply is answered long
  /// before its requester's timeout.
  caf::timespan max_wait = std::chrono::seconds(2);
  /// Grants for the node's piece stream (piece_stream.hpp); null: pieces
  /// only as messages.
  std::shared_ptr<stream_grants> streams;
};

struct piece_server_state {
  using reply_promise
    = caf::typed_response_promise<pb::PieceHeader, piece_bytes>;
  /// A reply waiting for upload budget. Its pieces are located and read
  /// only when it is due: waiting replies hold no piece in memory, and a
  /// partial file renamed into place meanwhile is read where it is then.
  struct held_reply {
    caf::actor_clock::time_point due;
    reply_promise rp;
    pb::PieceRequest req;
  };
  /// The pieces of a request located: its index first, then those of
  /// `more` held here (within piece_bytes::max_size in all).
  using located = std::vector<std::pair<uint32_t, piece_location>>;
  std::shared_ptr<library> lib;
  piece_server_options opts;
  token_bucket bucket;
  std::deque<held_reply> held;  // in order of `due`
  paced_piece_server_actor::stateful_pointer<piece_server_state> self
    = nullptr;

  /// Answers one request at once, or holds it while over budget.
  caf::result<pb::PieceHeader, piece_bytes>
  serve(const pb::PieceRequest& req);
  /// A grant to stream the requested file's pieces, or why not.
  caf::result<pb::StreamGrant> grant_stream(const pb::StreamRequest& req);
  /// Answers the held replies that are due.
  void release();
  /// Locates the pieces a request asks for, with every check; nullopt
  /// when its first piece is refused, `no` saying why.
  std::optional<located> locate(const pb::PieceRequest& req,
                                serve_refusal& no);
  /// Reads located pieces into one reply (one piece from the node's piece
  /// cache when it holds it: no disk read, no copy).
  caf::expected<piece_bytes> read(const located& pieces, pb::PieceHeader& hdr);
  /// Held replies fail at once when the server ends (their requesters need
  /// not wait for their timeouts), and so do its streams.
  ~piece_server_state();
  static inline const char* name = "piece_server";
};

paced_piece_server_actor::behavior_type
piece_server(paced_piece_server_actor::stateful_pointer<piece_server_state> self,
             std::shared_ptr<library> lib, piece_server_options opts);

} // namespace actorrent
