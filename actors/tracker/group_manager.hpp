// The group manager: accounts, sessions, groups and group-scoped files, in
// its group_store (the only owner of that database). Blocks on the database
// and Argon2id hashing: spawned with spawn_blocking. The catalog belongs to
// the tracker: the group manager asks the tracker in the `tracker` slot for a
// group file's sources and to withdraw holdings. Answers a download with the
// file's sources and a ticket signed with the key it keeps, which the
// tracker hands to peers so that serving peers can check tickets.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/timespan.hpp>

#include "actors/interfaces.hpp"
#include "actors/node/actor_slot.hpp"
#include "actors/store/group_store.hpp"

namespace actorrent {

struct group_manager_options {
  std::string db;
  int64_t ticket_ttl_seconds = 3600;
  /// Seconds since the Unix epoch: when tickets expire (environment).
  std::function<int64_t()> unix_time;
  /// The ticket key (made once) and session tokens (environment).
  random_source random = system_random();
  /// The tracker (tracker_local_actor): the catalog of group files.
  std::shared_ptr<actor_slot> tracker;
  caf::timespan tracker_timeout = std::chrono::seconds(5);
};

struct group_manager_state {
  std::unique_ptr<group_store> groups;
  group_manager_options opts;
  static inline const char* name = "group_manager";
};

group_manager_actor::behavior_type
group_manager(group_manager_actor::stateful_pointer<group_manager_state> self,
              group_manager_options opts);

} // namespace actorrent
