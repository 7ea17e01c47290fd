#include "actors/node/supervisor.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/log.hpp"

namespace actorrent {

namespace {
long long millis(caf::timespan x) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(x).count();
}
} // namespace

const char* to_string(child_state x) {
  static const char* names[] = {"running", "restarting", "stopped", "failed"};
  return names[static_cast<int>(x)];
}

child_entry* supervisor_state::find(const std::string& name) {
  for (auto& c : children)
    if (c.spec.name == name)
      return &c;
  return nullptr;
}

void supervisor_state::start(child_entry& c) {
  c.actor = c.spec.start(self->system());
  if (!c.actor) {
    c.state = child_state::failed;
    c.last_exit = "could not start";
    LOG_ERROR("supervisor", c.spec.name << " could not start");
    return;
  }
  self->monitor(c.actor);
  c.spec.slot->set(c.actor);
  c.state = child_state::running;
  c.started = self->clock().now();
  ++c.generation;
  LOG_INFO("supervisor", c.spec.name << " running (restarts: " << c.restarts
                                     << ")");
}

void supervisor_state::on_down(const caf::down_msg& dm) {
  child_entry* c = nullptr;
  for (auto& x : children)
    if (x.actor && x.actor->address() == dm.source)
      c = &x;
  if (c == nullptr)
    return;
  c->spec.slot->set(nullptr);
  c->actor = nullptr;
  c->last_exit = dm.reason ? self->system().render(dm.reason) : "normal";
  if (c->restart_now) {
    c->restart_now = false;
    ++c->restarts;
    start(*c);
  } else if (c->state == child_state::stopped || !dm.reason) {
    c->state = child_state::stopped;
    LOG_INFO("supervisor", c->spec.name << " stopped (" << c->last_exit
                                        << ")");
  } else {
    schedule_restart(*c);
  }
}

bool supervisor_state::schedule_restart(child_entry& c) {
  auto now = self->clock().now();
  // A child that ran quietly for a whole window starts over.
  if (now - c.started > opts.window)
    c.backoff = opts.initial_backoff;
  while (!c.recent.empty() && now - c.recent.front() > opts.window)
    c.recent.pop_front();
  if (c.recent.size() >= opts.max_restarts) {
    c.state = child_state::failed;
    LOG_ERROR("supervisor", "giving up on "
                              << c.spec.name << ": more than "
                              << opts.max_restarts << " restarts within "
                              << millis(opts.window)
                              << " ms, last exit: " << c.last_exit);
    return false;
  }
  c.recent.push_back(now);
  c.state = child_state::restarting;
  LOG_WARN("supervisor", c.spec.name << " exited (" << c.last_exit
                                     << "), restarting in "
                                     << millis(c.backoff) << " ms");
  self->delayed_send(self, c.backoff, respawn_atom::value, c.spec.name,
                     c.generation);
  c.backoff = std::min(c.backoff * 2, opts.max_backoff);
  return true;
}

pb::ActorList supervisor_state::list() const {
  pb::ActorList out;
  for (auto& c : children) {
    auto& a = *out.add_actors();
    a.set_name(c.spec.name);
    a.set_state(to_string(c.state));
    a.set_restarts(c.restarts);
    a.set_last_exit(c.last_exit);
  }
  return out;
}

caf::result<caf::ok_atom> supervisor_state::kill(const std::string& name,
                                                 bool hard) {
  auto c = find(name);
  if (c == nullptr)
    return make_error(errc::no_such_actor, name);
  if (!c->actor)
    return make_error(errc::no_such_actor, name + " is not running");
  LOG_WARN("supervisor", "operator kills " << name
                                           << (hard ? " for good" : ""));
  if (hard)
    c->state = child_state::stopped;
  caf::anon_send_exit(c->actor, caf::exit_reason::kill);
  return caf::ok_atom::value;
}

caf::result<caf::ok_atom> supervisor_state::restart(const std::string& name) {
  auto c = find(name);
  if (c == nullptr)
    return make_error(errc::no_such_actor, name);
  LOG_INFO("supervisor", "operator restarts " << name);
  c->recent.clear();
  c->backoff = opts.initial_backoff;
  if (c->actor) {
    c->restart_now = true;
    caf::anon_send_exit(c->actor, caf::exit_reason::kill);
  } else {
    ++c->restarts;
    start(*c);
  }
  return caf::ok_atom::value;
}

void supervisor_state::respawn(const std::string& name, uint64_t generation) {
  auto c = find(name);
  if (c == nullptr || c->generation != generation
      || c->state != child_state::restarting)
    return;
  ++c->restarts;
  start(*c);
}

supervisor_actor::behavior_type
supervisor(supervisor_actor::stateful_pointer<supervisor_state> self,
           std::vector<child_spec> specs, supervisor_options opts) {
  auto& st = self->state;
  st.opts = opts;
  for (auto& s : specs) {
    child_entry e;
    e.spec = std::move(s);
    e.backoff = opts.initial_backoff;
    st.children.push_back(std::move(e));
  }
  // The children end with their supervisor; the slots let go of them. (The
  // functor runs after the state is gone: it captures the slots by value.)
  std::vector<std::shared_ptr<actor_slot>> slots;
  for (auto& c : st.children)
    slots.push_back(c.spec.slot);
  self->attach_functor([slots] {
    for (auto& s : slots)
      if (auto child = s->get()) {
        s->set(nullptr);
        caf::anon_send_exit(child, caf::exit_reason::user_shutdown);
      }
  });
  self->set_down_handler([self](caf::down_msg& dm) { self->state.on_down(dm); });
  for (auto& c : st.children)
    st.start(c);
  return {
    [=](list_atom) { return self->state.list(); },
    [=](kill_atom, const std::string& name, bool hard) {
      return self->state.kill(name, hard);
    },
    [=](restart_atom, const std::string& name) {
      return self->state.restart(name);
    },
    [=](respawn_atom, const std::string& name, uint64_t generation) {
      self->state.respawn(name, generation);
    },
  };
}

} // namespace actorrent
