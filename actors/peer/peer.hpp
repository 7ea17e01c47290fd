// A peer's agent: shares the files of its library, keeps its session with the
// tracker, runs one piece fetcher per download and answers the peer's
// commands (shell and `ctl`). Runs detached: it hashes files and writes its
// SQLite state.
//
// Tracker session states (transitions are logged):
//   disconnected -> connecting -> announcing -> online
//   online -> announcing       (tracker lost our session: restarted)
//   connecting/announcing/online -> disconnected
//                              (connection down, request timed out;
//                               reconnect with backoff 250 ms .. 5 s)
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "actors/interfaces.hpp"
#include "actors/peer/library.hpp"
#include "actors/store/peer_store.hpp"

namespace actorrent {

struct peer_options {
  std::string tracker_host = "127.0.0.1";
  uint16_t tracker_port = 6881;
  std::string host = "127.0.0.1";   // announced address of the piece server
  uint16_t port = 0;                // announced port of the piece server
  std::string share_dir;            // empty: shares nothing on its own
  std::string download_dir = "downloads";
  std::string state_db = "peer.db";
  uint32_t piece_size = 1 << 20;
  uint32_t window = 8;
  uint32_t request_timeout_ms = 10000;
  bool one_shot = false;            // downloads fail instead of stalling
  uint32_t group_timeout_ms = 30000; // group commands (Argon2id is slow)
  std::function<void()> on_quit;    // `quit` command
};

enum class session_state { disconnected, connecting, announcing, online };
const char* to_string(session_state x);


struct peer_state {
  peer_options opts;
  std::shared_ptr<library> lib;
  std::unique_ptr<peer_store> store;
  std::string peer_id;
  session_state session = session_state::disconnected;
  tracker_actor tracker;
  caf::timespan backoff;
  uint32_t heartbeat_ms = 1000;
  std::map<std::string, std::vector<uint32_t>> pending_haves;
  std::map<std::string, fetcher_actor> fetchers;
  /// Every fetcher spawned; they end with the peer (shared with a cleanup
  /// functor that outlives the state).
  std::shared_ptr<std::vector<caf::actor_addr>> children
    = std::make_shared<std::vector<caf::actor_addr>>();
  std::map<std::string, pb::DownloadStatus> downloads;
  std::vector<std::string> rejected;   // last announce: refused by tracker
  std::string user;                    // logged-in user, or ""
  std::string token;                   // its session at the group manager

  void transition(session_state to, const std::string& why = {});
  static inline const char* name = "peer";
};

peer_actor::behavior_type peer(peer_actor::stateful_pointer<peer_state> self,
                               peer_options opts, std::shared_ptr<library> lib);

} // namespace actorrent
