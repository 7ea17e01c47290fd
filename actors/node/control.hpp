// A node's control actor, published on its control port (loopback): answers
// `actors`, `kill [--hard] NAME` and `restart NAME` through the supervisor and
// hands every other command to the node's command actor (e.g. the peer), read
// from its slot.
#pragma once

#include <memory>

#include "actors/node/actor_slot.hpp"
#include "actors/interfaces.hpp"

namespace actorrent {

struct control_state {
  supervisor_actor sup;
  std::string node_kind;
  static inline const char* name = "control";
};

/// Builds a reply with exit code, text and JSON.
pb::CommandReply make_reply(int code, std::string text, std::string json = {});

control_actor::behavior_type
control(control_actor::stateful_pointer<control_state> self,
        supervisor_actor sup, std::string node_kind,
        std::shared_ptr<actor_slot> commands);

} // namespace actorrent
