// The group manager: accounts, sessions, groups and group-scoped files, in
// the tracker's SQLite database. Runs detached (database calls and Argon2id
// hashing block). Answers `download` with the file's sources and a ticket
// signed with the tracker's Ed25519 key, which serving peers check.
#pragma once

#include <memory>
#include <string>

#include "actors/store/group_store.hpp"
#include "actors/interfaces.hpp"
#include "actors/store/tracker_store.hpp"

namespace actorrent {

struct group_manager_state {
  std::unique_ptr<group_store> groups;
  std::unique_ptr<tracker_store> catalog;
  int64_t ticket_ttl = 3600;
  static inline const char* name = "group_manager";
};

group_actor::behavior_type
group_manager(group_actor::stateful_pointer<group_manager_state> self,
              std::string db, int64_t ticket_ttl_seconds);

} // namespace actorrent
