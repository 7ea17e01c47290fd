// The tracker: catalog of files and of who holds which pieces, backed by
// SQLite. Runs detached (its database calls block). Peers keep a session
// alive with heartbeats; a peer silent for `offline_ms` is marked offline and
// no longer handed out as a source.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "actors/interfaces.hpp"
#include "actors/store/tracker_store.hpp"

namespace actorrent {

struct tracker_options {
  std::string db;
  uint32_t heartbeat_ms = 1000;
  uint32_t offline_ms = 2500;
  std::string public_key;  // handed to peers: they check group tickets
};

struct tracker_state {
  std::unique_ptr<tracker_store> store;
  tracker_options opts;
  /// Peers with a live session and when they were last heard from.
  std::map<std::string, std::chrono::steady_clock::time_point> sessions;
  static inline const char* name = "tracker";
};

tracker_actor::behavior_type
tracker(tracker_actor::stateful_pointer<tracker_state> self,
        tracker_options opts);

} // namespace actorrent
