// The tracker: catalog of files and of who holds which pieces, in its
// catalog_store (the only owner of that database). Blocks on the database:
// spawned with spawn_blocking. Peers keep a session alive with heartbeats; a
// peer silent for `offline_ms` (CAF's clock) is marked offline and no longer
// handed out as a source. The ticket key peers learn on announce comes from
// the group manager in the `groups` slot; announces wait until it is known.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>

#include <caf/actor_clock.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/interfaces.hpp"
#include "actors/node/actor_slot.hpp"
#include "actors/store/tracker_store.hpp"

namespace actorrent {

struct tracker_options {
  std::string db;
  uint32_t heartbeat_ms = 1000;
  uint32_t offline_ms = 2500;
  /// The group manager (group_manager_actor), asked for the ticket key.
  /// Without one the tracker serves public files only: no key, no waiting.
  std::shared_ptr<actor_slot> groups;
};

struct tracker_session {
  caf::actor_clock::time_point last_seen;
  bool expiry_pending = false;  // an expire timer is on its way
};

struct tracker_state {
  std::unique_ptr<catalog_store> store;
  tracker_options opts;
  std::string public_key;   // the ticket key, once the group manager told it
  bool asking_key = false;
  /// Peers with a live session.
  std::map<std::string, tracker_session> sessions;
  /// Announces that came before the ticket key, by peer id.
  std::map<std::string, std::pair<pb::Announce,
                                  caf::typed_response_promise<pb::AnnounceReply>>>
    waiting;
  static inline const char* name = "tracker";
};

tracker_local_actor::behavior_type
tracker(tracker_local_actor::stateful_pointer<tracker_state> self,
        tracker_options opts);

} // namespace actorrent
