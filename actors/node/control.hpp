// A node's control actor, published on its control port (loopback): answers
// `actors`, `kill` and `restart` through the node's supervisor and hands peer
// commands to the node's peer agent and `placement` to placement, each read
// from its slot. It parses and formats nothing: the shell and `ctl` do
// (nodes/commands.*). With a control token, every request must carry it.
#pragma once

#include <memory>
#include <string>

#include "actors/interfaces.hpp"
#include "actors/node/actor_slot.hpp"

namespace actorrent {

struct control_state {
  supervisor_actor sup;
  std::string node_kind;
  std::shared_ptr<actor_slot> commands;
  std::string token;  // empty: requests need none
  /// none when `given` is the node's token (or it has none).
  caf::error check(const std::string& given) const;
  std::shared_ptr<actor_slot> placement;  // tracker nodes
  static inline const char* name = "control";
};

control_actor::behavior_type
control(control_actor::stateful_pointer<control_state> self,
        supervisor_actor sup, std::string node_kind,
        std::shared_ptr<actor_slot> commands,
        std::shared_ptr<actor_slot> placement, std::string token);

} // namespace actorrent
