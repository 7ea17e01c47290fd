#include "actors/node/control.hpp"

#include <caf/actor_cast.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/log.hpp"

namespace actorrent {

control_actor::behavior_type
control(control_actor::stateful_pointer<control_state> self,
        supervisor_actor sup, std::string node_kind,
        std::shared_ptr<actor_slot> commands,
        std::shared_ptr<actor_slot> placement) {
  self->state.sup = std::move(sup);
  self->state.node_kind = std::move(node_kind);
  self->state.commands = std::move(commands);
  self->state.placement = std::move(placement);
  return {
    [=](list_atom a) { return self->delegate(self->state.sup, a); },
    [=](kill_atom a, const std::string& name, bool hard) {
      LOG_INFO("control", "kill " << (hard ? "--hard " : "") << name);
      return self->delegate(self->state.sup, a, name, hard);
    },
    [=](restart_atom a, const std::string& name) {
      LOG_INFO("control", "restart " << name);
      return self->delegate(self->state.sup, a, name);
    },
    [=](command_atom a, const pb::PeerRequest& rq)
      -> caf::result<pb::PeerReply> {
      auto& st = self->state;
      auto ptr = st.commands ? st.commands->get() : nullptr;
      if (!st.commands)
        return make_error(errc::no_such_actor,
                          "peer commands need a peer node; this is a "
                            + st.node_kind + " node");
      if (!ptr)
        return make_error(errc::no_such_actor,
                          "the peer agent is restarting");
      return self->delegate(caf::actor_cast<peer_actor>(ptr), a, rq);
    },
    [=](placement_atom a) -> caf::result<pb::PlacementStatus> {
      auto& st = self->state;
      if (!st.placement)
        return make_error(errc::no_such_actor,
                          "placement runs on the tracker node; this is a "
                            + st.node_kind + " node");
      auto ptr = st.placement->get();
      if (!ptr)
        return make_error(errc::no_such_actor, "placement is restarting");
      return self->delegate(caf::actor_cast<placement_actor>(ptr), a);
    },
  };
}

} // namespace actorrent
