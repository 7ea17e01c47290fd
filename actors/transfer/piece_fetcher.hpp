// One download. Asks its peer for the file's manifest and online sources,
// tells the peer the manifest (the peer records it for resume), connects to
// every source through a connector (the middleman or an in-process
// directory), keeps up to `window` pieces in flight per source, each
// source's window sized to what it delivers (source_window.hpp) (rarest
// first, endgame at the end; pieces smaller than 64 KiB are asked for
// several to a request), hands each piece to the least busy of its
// writers (one per core) for verification, reports each verified piece to the peer, and fails over when
// a source dies, times out or sends bad pieces. Time comes from CAF's clock
// only, randomness from `fetch_options::seed`.
//
// Download states (transitions are logged):
//   fetching_info -> downloading -> verifying -> complete
//   downloading -> stalled   (no online source has some missing piece;
//                              back to downloading when one appears)
//   any -> failed            (one-shot stall, bad file, disk error)
// Source states (transitions are logged):
//   connecting -> active -> lost      (connection down, timeout: may reconnect)
//   connecting -> lost                (connect failed)
//   lost -> connecting                (after reconnect_delay, on refresh)
//   active -> banned                  (3 pieces that failed their SHA-256)
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/system_messages.hpp>

#include "actors/core/directory.hpp"
#include "actors/core/environment.hpp"
#include "actors/interfaces.hpp"
#include "actors/peer/library.hpp"
#include "actors/transfer/download_pacing.hpp"
#include "actors/transfer/piece_picker.hpp"
#include "actors/transfer/source_window.hpp"

namespace actorrent {

struct fetch_options {
  std::string name;         // catalog name (a group key for group files)
  std::string dest_dir;
  std::string self_id;      // this peer: never its own source
  uint32_t window = 8;
  std::chrono::milliseconds request_timeout{10000};
  /// How often the sources and their pieces are asked for again: this
  /// often while the download is short of sources or pieces (other
  /// downloaders' new pieces are found this soon), doubling up to
  /// `refresh_max` while its sources are good.
  std::chrono::milliseconds refresh_interval{250};
  std::chrono::milliseconds refresh_max{4000};
  /// Requests in flight for the whole download at most (the download
  /// window grows to what the downlink delivers, up to this).
  uint32_t max_in_flight = 64;
  /// Sources connected at once at most (the tracker hands out a bounded
  /// random set of them per answer).
  uint32_t max_sources = 50;
  bool fail_when_stalled = false;  // one-shot downloads give up
  std::optional<pb::Manifest> manifest;  // resume
  std::string have;                      // resume: verified pieces
  /// Answers (connect, host, port) for sources: the middleman in a node, an
  /// in-process directory in tests and simulations.
  connector_actor connector;
  std::shared_ptr<file_io> io;           // the writer's disk
  blocking_mode blocking = blocking_mode::detached;  // how the writers run
  /// Writers (each verifies and writes pieces): hashing and writing spread
  /// over this many. 0: two per core (at most 8) when detached, so that
  /// while one waits for the disk another hashes on its core; 2 when
  /// scheduled (they never wait there).
  uint32_t writers = 0;
  uint64_t seed = 0;                     // piece picking's tie-breaks
  /// Asks each peer source for a piece stream (piece_stream.hpp) and takes
  /// its pieces from the stream when granted, as messages otherwise. True
  /// in a node (environment::streams); tests under the deterministic
  /// scheduler and simulations have no sockets.
  bool streams = false;
};

enum class download_state {
  fetching_info, downloading, verifying, complete, stalled, failed
};
enum class source_state { connecting, active, lost, banned };

const char* to_string(download_state x);
const char* to_string(source_state x);
/// The states as the wire (pb::DownloadStatus) names them.
pb::DownloadState to_proto(download_state x);
pb::SourceState to_proto(source_state x);

/// How long a source takes to answer a piece request (request to reply,
/// its queue included), smoothed as TCP smooths round-trip times (RFC 6298).
/// A request's timeout follows it: twice the smoothed time plus four times
/// its variation, at least `floor`, at most the configured timeout. A hung
/// source is then given up in about two seconds, not the configured ten.
struct latency_estimate {
  static constexpr auto floor = std::chrono::milliseconds(2000);
  double srtt_ms = -1;   // none yet
  double rttvar_ms = 0;
  void sample(caf::timespan rtt) {
    auto ms = std::chrono::duration<double, std::milli>(rtt).count();
    if (srtt_ms < 0) {
      srtt_ms = ms;
      rttvar_ms = ms / 2;
      return;
    }
    rttvar_ms = 0.75 * rttvar_ms + 0.25 * std::abs(srtt_ms - ms);
    srtt_ms = 0.875 * srtt_ms + 0.125 * ms;
  }
  /// A request timed out: the estimate doubles (RFC 6298 5.5), so a source
  /// that became slower is given longer instead of timing out forever.
  void timed_out() {
    if (srtt_ms >= 0) {
      srtt_ms *= 2;
      rttvar_ms = 0;
    }
  }
  /// Before any sample: the configured timeout (the first pieces may wait
  /// behind a whole window).
  caf::timespan timeout(std::chrono::milliseconds configured) const {
    if (srtt_ms < 0)
      return configured;
    auto ms = std::chrono::milliseconds(
      static_cast<int64_t>(2 * srtt_ms + 4 * rttvar_ms));
    return std::clamp<std::chrono::milliseconds>(
      ms, std::min(floor, configured), configured);
  }
};

struct fetch_source {
  std::string host;
  uint16_t port = 0;
  std::string mirror_id;       // a mirror: the actor behind host:port
  source_state state = source_state::lost;  // not connected yet
  piece_server_actor handle;
  /// `handle` is this download's own stream_source (ended when dropped).
  bool streamed = false;
  uint64_t epoch = 0;          // bumped per connection; stale replies ignored
  int bad_pieces = 0;
  std::string reason;          // why lost or banned
  std::string holds;           // bitfield from the tracker
  latency_estimate latency;
  caf::actor_clock::time_point retry_at;
  /// A paced source answered busy: no requests to it until then.
  caf::actor_clock::time_point busy_until;
  /// Requests in flight it gets: grows on replies, halves on busy and
  /// timeouts, at most `fetch_options::window`.
  source_window window;
};

struct piece_fetcher_state {
  using pointer = fetcher_actor::stateful_pointer<piece_fetcher_state>;
  pointer self = nullptr;
  /// Takes back its monitors on its sources: a monitor stays on the
  /// monitored actor after this one ends and keeps its memory, and a
  /// source's connection outlives many downloads.
  ~piece_fetcher_state();
  fetch_options opts;
  peer_actor peer;
  std::shared_ptr<library> lib;
  download_state state = download_state::fetching_info;
  std::string reason;
  /// Known once the peer answered (or from resume); shared with the writers.
  std::shared_ptr<const pb::Manifest> manifest;
  std::optional<piece_picker> picker;
  std::vector<writer_actor> writers;
  std::vector<uint32_t> writer_load;  // pieces handed to each writer
  /// Pieces asked for in one request at most: as many as fit in
  /// `request_bytes` (small pieces travel together), at least one.
  size_t pieces_per_request() const;
  static constexpr uint64_t request_bytes = 64 * 1024;
  std::map<std::string, fetch_source> sources;
  /// The active ones among `sources`, in id order: set_state keeps it, so
  /// that filling windows walks a few sources, not every one the tracker
  /// named (an active source is never erased from `sources`).
  std::vector<std::pair<const std::string*, fetch_source*>> active;
  std::set<uint32_t> writing;  // pieces handed to a writer
  bool informed = false;       // the peer has answered with sources once
  /// Requests in flight for the whole download.
  download_window window{8, 64};
  /// When the sources are asked for next (by the tick).
  refresh_backoff backoff{std::chrono::milliseconds(250),
                          std::chrono::milliseconds(4000)};
  caf::actor_clock::time_point next_refresh;
  caf::actor_clock::time_point last_refresh;
  bool asking = false;         // a request for sources is on its way
  size_t turn = 0;             // which source is served first (round robin)
  uint64_t bytes_done = 0;
  uint64_t bytes_received = 0;
  // rate over the last tick
  uint64_t rate_mark = 0;
  caf::actor_clock::time_point rate_time;
  double rate_bps = 0;
  std::string final_path;
  pb::SignedTicket ticket;     // group files: shown to every source

  // -- lifecycle (piece_fetcher.cpp) -----------------------------------------
  /// Takes the options; false when the download failed at once.
  bool init(pointer me, fetch_options o, peer_actor p,
            std::shared_ptr<library> l);
  /// Starts writing once the manifest is known (from the peer or resume).
  bool start(const pb::Manifest& m);
  /// Asks the peer for the manifest and fresh sources (until the manifest
  /// is known it re-arms itself; then the tick asks when `next_refresh`
  /// is due).
  void refresh();
  /// Short of sources (one was lost, pieces have none): asks at once, or
  /// as soon as `refresh_interval` since the last question allows.
  void want_sources();
  void on_info_error(const caf::error& err);
  /// Timer: rate, progress report, endgame re-requests.
  void tick();
  /// Every piece is written: asks a writer to finish the file.
  void finish();
  void complete(const std::string& path);
  /// Stops the download for good.
  void fail(std::string why);
  /// Ends the actor; its writers end with it.
  void stop();
  void report();
  bool finished() const;
  /// A source's connection ended.
  void on_down(const caf::down_msg& dm);
  /// A writer (linked) ended, or the fetcher is told to stop.
  void on_exit(const caf::exit_msg& em);
  /// Moves to `to`, logging the transition and its reason.
  void transition(download_state to, std::string why = {});
  pb::DownloadStatus status() const;

  // -- sources and pieces (fetch_sources.cpp) ---------------------------------
  /// Sources to keep connected: as many as the download window needs (each
  /// carries `window` pieces) and two spare.
  uint32_t wanted_sources() const;
  /// Merges the sources of a FileInfo; connects to new or retried ones.
  void on_info(pb::FileInfo& info);
  void connect(const std::string& id);
  /// Connects known sources (named by the tracker, not connected, due for
  /// a retry) until as many as the download window needs are connected.
  void connect_more(caf::actor_clock::time_point now);
  void on_connected(const std::string& id, uint64_t epoch,
                    piece_server_actor handle);
  /// Connected: asks a peer source for a piece stream, then activates it
  /// with the stream or, refused, with its piece server.
  void ask_stream(const std::string& id, uint64_t epoch,
                  piece_server_actor handle);
  void activate(const std::string& id, fetch_source& src,
                piece_server_actor handle);
  void on_connect_error(const std::string& id, uint64_t epoch,
                        const caf::error& err);
  /// Moves source `id` to `to`, logging the transition.
  void set_state(const std::string& id, fetch_source& src, source_state to,
                 std::string why = {});
  /// A source can no longer be used: its pieces in flight go to the others.
  void drop(const std::string& id, source_state to, std::string why);
  /// Fills every active source's window.
  void schedule();
  /// One request for pieces `ps` (several when they are small).
  void request_pieces(const std::string& id, fetch_source& src,
                      std::vector<uint32_t> ps);
  /// The pieces a reply to a request for `asked` holds (its header's index
  /// and `more`, in the order asked, `bytes` long in all); nullopt when the
  /// reply is not one to that request.
  std::optional<std::vector<uint32_t>>
  delivered(const std::vector<uint32_t>& asked, const pb::PieceHeader& hdr,
            size_t bytes) const;
  /// A reply: its pieces go to a writer together, those left out back to
  /// the picker.
  void on_pieces(const std::string& id, uint64_t epoch,
                 const std::vector<uint32_t>& asked,
                 const pb::PieceHeader& hdr, piece_bytes& data);
  void on_piece_error(const std::string& id, uint64_t epoch,
                      const std::vector<uint32_t>& asked,
                      const caf::error& err);
  /// A writer verified and wrote `pieces` but those in `bad`.
  void on_written(const std::string& id, const std::vector<uint32_t>& pieces,
                  size_t writer, const std::vector<uint32_t>& bad);
  /// A piece failed its SHA-256: counts against its source, bans at 3.
  void on_bad_piece(const std::string& id, uint32_t p);
  /// Checks whether the download can still make progress.
  void check_stall();

  static inline const char* name = "piece_fetcher";
};

fetcher_actor::behavior_type
piece_fetcher(piece_fetcher_state::pointer self, fetch_options opts,
              peer_actor peer, std::shared_ptr<library> lib);

} // namespace actorrent
