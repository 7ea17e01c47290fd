#include "actors/node/control.hpp"

#include <chrono>
#include <sstream>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/json.hpp"
#include "actors/core/log.hpp"

namespace actorrent {

pb::CommandReply make_reply(int code, std::string text, std::string json) {
  pb::CommandReply r;
  r.set_code(code);
  if (json.empty())
    json = json_object{}
             .add("ok", code == 0)
             .add(code == 0 ? "message" : "error", text)
             .str();
  r.set_text(std::move(text));
  r.set_json(std::move(json));
  return r;
}

control_actor::behavior_type
control(control_actor::stateful_pointer<control_state> self,
        supervisor_actor sup, std::string node_kind,
        std::shared_ptr<actor_slot> commands) {
  self->state.sup = sup;
  self->state.node_kind = node_kind;
  constexpr auto timeout = std::chrono::seconds(10);
  return {
    [=](command_atom, const pb::Command& cmd)
      -> caf::result<pb::CommandReply> {
      // Once a response promise exists, CAF 0.17 drops a value returned by
      // the handler: every path answers through the promise.
      auto rp = self->make_response_promise<pb::CommandReply>();
      auto answer = [rp](pb::CommandReply r) mutable {
        rp.deliver(std::move(r));
        return rp;
      };
      std::vector<std::string> args(cmd.args().begin(), cmd.args().end());
      auto on_error = [rp](const caf::error& err) mutable {
        rp.deliver(make_reply(1, render(err)));
      };
      LOG_DEBUG("control", "received " << (args.empty() ? "" : args[0]));
      if (args.empty())
        return answer(make_reply(2, "no command given"));
      if (args[0] == "actors") {
        self->request(self->state.sup, timeout, list_atom::value)
          .then(
            [rp](const pb::ActorList& xs) mutable {
              std::ostringstream text;
              std::vector<std::string> js;
              text << "NAME        STATE       RESTARTS  LAST EXIT\n";
              for (auto& a : xs.actors()) {
                char line[256];
                snprintf(line, sizeof(line), "%-11s %-11s %8u  %s\n",
                         a.name().c_str(), a.state().c_str(), a.restarts(),
                         a.last_exit().c_str());
                text << line;
                js.push_back(json_object{}
                               .add("name", a.name())
                               .add("state", a.state())
                               .add("restarts", a.restarts())
                               .add("last_exit", a.last_exit())
                               .str());
              }
              rp.deliver(make_reply(0, text.str(), json_array(js)));
            },
            on_error);
        return rp;
      }
      if (args[0] == "kill" || args[0] == "restart") {
        bool hard = args.size() == 3 && args[1] == "--hard";
        if (args.size() != (hard ? 3u : 2u) || (args[0] == "restart" && hard))
          return answer(
            make_reply(2, "usage: kill [--hard] NAME | restart NAME"));
        auto name = args.back();
        auto ok = [rp, name, verb = args[0], hard](caf::ok_atom) mutable {
          rp.deliver(make_reply(0, verb == "restart" ? "restarted " + name
                                   : hard            ? "killed " + name
                                                         + " for good"
                                                     : "killed " + name));
        };
        if (args[0] == "kill")
          self->request(self->state.sup, timeout, kill_atom::value, name, hard)
            .then(ok, on_error);
        else
          self->request(self->state.sup, timeout, restart_atom::value, name)
            .then(ok, on_error);
        return rp;
      }
      auto ptr = commands ? commands->get() : nullptr;
      if (!ptr)
        return answer(make_reply(1, "unknown command '" + args[0] + "' for a "
                                      + self->state.node_kind
                                      + " node (or its command actor is"
                                        " restarting)"));
      auto target = caf::actor_cast<control_actor>(ptr);
      LOG_DEBUG("control", "command " << args[0] << " to " << ptr->id());
      self->request(target, std::chrono::minutes(10), command_atom::value, cmd)
        .then([rp](pb::CommandReply& r) mutable { rp.deliver(std::move(r)); },
              on_error);
      return rp;
    },
  };
}

} // namespace actorrent
