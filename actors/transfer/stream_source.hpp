// The downloader's end of a piece stream (piece_stream.hpp): to the fetcher
// a piece server like any other, local to it. It writes each piece request
// to the stream (4 bytes) and keeps its response promise in order; its
// reader, a detached blocking actor, connects, sends the hello and reads
// every reply straight into a pooled block, which it hands back here.
//
// States (transitions logged):
//   connecting -> open       (the reader connected and sent the hello)
//   connecting -> closed     (connect failed, refused)
//   open -> closed           (the source closed the stream, an error, a reply
//                              out of order or over its size bound)
// Closed fails every request waiting and ends the actor (its fetcher's
// monitor sees a lost source); the actor also ends with its owner.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include <caf/typed_response_promise.hpp>

#include "actors/interfaces.hpp"

namespace actorrent {

struct stream_source_options {
  std::string host;
  uint16_t port = 0;
  std::string token;       // from the grant
  std::string name;        // the file's catalog name (reply headers)
  uint32_t max_piece = 0;  // replies larger than this close the stream
  caf::actor_addr owner;   // the stream ends with it
};

enum class stream_phase { connecting, open, closed };
const char* to_string(stream_phase x);

/// The socket, shared by the actor (writes) and its reader (reads); closed
/// when both are done with it.
struct stream_socket {
  std::atomic<int> fd{-1};
  std::atomic<bool> closing{false};
  stream_socket();
  ~stream_socket();
  /// Wakes the reader: its next read ends.
  void shutdown();
};

struct stream_source_state {
  using reply_promise
    = caf::typed_response_promise<pb::PieceHeader, piece_bytes>;
  struct waiting {
    uint32_t index;
    reply_promise rp;
  };
  stream_source_options opts;
  stream_phase phase = stream_phase::connecting;
  std::shared_ptr<stream_socket> sock;
  std::deque<waiting> pending;  // in the order of their requests
  size_t written = 0;           // of `pending`, already on the stream
  stream_source_actor::stateful_pointer<stream_source_state> self = nullptr;

  caf::result<pb::PieceHeader, piece_bytes> request(uint32_t index);
  /// Writes the requests not yet on the stream; false when writing failed.
  bool flush();
  void on_reply(uint32_t index, uint32_t status, piece_bytes& bytes);
  /// Moves to closed: every waiting request fails, the actor ends.
  void close(const std::string& why);
  ~stream_source_state();
  static inline const char* name = "stream_source";
};

stream_source_actor::behavior_type
stream_source(stream_source_actor::stateful_pointer<stream_source_state> self,
              stream_source_options opts);

} // namespace actorrent
