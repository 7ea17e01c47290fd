// One download. Asks its peer for the file's manifest and online sources,
// connects to every source directly, keeps `window` piece requests in flight
// per source (rarest first, endgame at the end), hands each piece to its
// writer for verification, and fails over when a source dies, times out or
// sends bad pieces.
//
// Download states (transitions are logged):
//   fetching_info -> downloading -> verifying -> complete
//   downloading -> stalled   (no online source has some missing piece;
//                              back to downloading when one appears)
//   any -> failed            (one-shot stall, bad file, disk error)
// Source states:
//   connecting -> active -> lost      (connection down, timeout: may reconnect)
//   connecting -> lost                (connect failed)
//   active -> banned                  (3 pieces that failed their SHA-256)
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "actors/interfaces.hpp"
#include "actors/peer/library.hpp"
#include "actors/transfer/piece_picker.hpp"

namespace actorrent {

struct fetch_options {
  std::string name;         // catalog name (a group key for group files)
  std::string dest_dir;
  std::string state_db;
  std::string self_id;      // this peer: never its own source
  uint32_t window = 8;
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds refresh_interval{1000};
  bool fail_when_stalled = false;  // one-shot downloads give up
  std::optional<pb::Manifest> manifest;  // resume
  std::string have;                      // resume: verified pieces
};

enum class download_state {
  fetching_info, downloading, verifying, complete, stalled, failed
};
enum class source_state { connecting, active, lost, banned };

const char* to_string(download_state x);
const char* to_string(source_state x);

struct fetch_source {
  std::string host;
  uint16_t port = 0;
  source_state state = source_state::connecting;
  piece_server_actor handle;
  uint64_t epoch = 0;          // bumped per connection; stale replies ignored
  int bad_pieces = 0;
  std::string reason;          // why lost or banned
  std::string holds;           // bitfield from the tracker
  std::chrono::steady_clock::time_point retry_at;
};

struct piece_fetcher_state {
  fetch_options opts;
  peer_actor peer;
  std::shared_ptr<library> lib;
  download_state state = download_state::fetching_info;
  std::string reason;
  std::optional<pb::Manifest> manifest;
  std::optional<piece_picker> picker;
  writer_actor writer;
  std::map<std::string, fetch_source> sources;
  std::set<uint32_t> writing;  // pieces handed to the writer
  uint64_t bytes_done = 0;
  uint64_t bytes_received = 0;
  uint64_t epochs = 0;
  // rate over the last tick
  uint64_t rate_mark = 0;
  std::chrono::steady_clock::time_point rate_time;
  double rate_bps = 0;
  std::string final_path;
  pb::SignedTicket ticket;     // group files: shown to every source

  /// Moves to `to`, logging the transition and its reason.
  void transition(download_state to, std::string why = {});
  pb::DownloadStatus status() const;
  static inline const char* name = "piece_fetcher";
};

fetcher_actor::behavior_type
piece_fetcher(fetcher_actor::stateful_pointer<piece_fetcher_state> self,
              fetch_options opts, peer_actor peer,
              std::shared_ptr<library> lib);

} // namespace actorrent
