#include "actors/node/control.hpp"

#include <caf/actor_cast.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/log.hpp"
#include "actors/node/unexpected.hpp"

namespace actorrent {

namespace {

// Compares in time independent of where the texts differ.
bool same_secret(const std::string& a, const std::string& b) {
  if (a.size() != b.size())
    return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

} // namespace

caf::error control_state::check(const std::string& given) const {
  if (token.empty() || same_secret(given, token))
    return caf::none;
  LOG_WARN("control", "refused a request without the control token");
  return make_error(errc::denied, "control token missing or wrong (ctl"
                                  " --token-file FILE)");
}

control_actor::behavior_type
control(control_actor::stateful_pointer<control_state> self,
        supervisor_actor sup, std::string node_kind,
        std::shared_ptr<actor_slot> commands,
        std::shared_ptr<actor_slot> placement, std::string token) {
  self->state.sup = std::move(sup);
  self->state.node_kind = std::move(node_kind);
  self->state.commands = std::move(commands);
  self->state.placement = std::move(placement);
  self->state.token = std::move(token);
  drop_unexpected(self, "control");
  return {
    [=](list_atom a, const std::string& token) -> caf::result<pb::ActorList> {
      if (auto err = self->state.check(token))
        return err;
      return self->delegate(self->state.sup, a);
    },
    [=](kill_atom a, const std::string& name, bool hard,
        const std::string& token) -> caf::result<caf::ok_atom> {
      if (auto err = self->state.check(token))
        return err;
      LOG_INFO("control", "kill " << (hard ? "--hard " : "") << name);
      return self->delegate(self->state.sup, a, name, hard);
    },
    [=](restart_atom a, const std::string& name,
        const std::string& token) -> caf::result<caf::ok_atom> {
      if (auto err = self->state.check(token))
        return err;
      LOG_INFO("control", "restart " << name);
      return self->delegate(self->state.sup, a, name);
    },
    [=](command_atom a, const pb::PeerRequest& rq,
        const std::string& token) -> caf::result<pb::PeerReply> {
      auto& st = self->state;
      if (auto err = st.check(token))
        return err;
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
    [=](placement_atom a,
        const std::string& token) -> caf::result<pb::PlacementStatus> {
      auto& st = self->state;
      if (auto err = st.check(token))
        return err;
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
