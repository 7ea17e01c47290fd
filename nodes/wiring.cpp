#include "nodes/wiring.hpp"

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/node/control.hpp"
#include "actors/node/front.hpp"
#include "actors/tracker/group_manager.hpp"
#include "actors/transfer/piece_server.hpp"
#include "actors/node/supervisor.hpp"

namespace actorrent {

namespace {

template <class Handle>
caf::strong_actor_ptr ptr_of(const Handle& h) {
  return caf::actor_cast<caf::strong_actor_ptr>(h);
}

template <class Handle>
std::string publish(caf::actor_system& sys, directory& dir, const Handle& h,
                    uint16_t& port, const std::string& host, const char* key) {
  auto err = dir.publish(sys, h, host, port);
  if (!err.empty())
    return err + " (" + key + "; port already in use?)";
  return {};
}

// Ends actors and waits (bounded) until they are gone.
template <class... Hs>
void stop_all(caf::actor_system& sys, const Hs&... hs) {
  caf::scoped_actor self{sys};
  size_t pending = 0;
  auto stop_one = [&](const auto& h) {
    if (!h)
      return;
    self->monitor(h);
    caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
    ++pending;
  };
  (stop_one(hs), ...);
  for (size_t i = 0; i < pending; ++i)
    self->receive([](const caf::down_msg&) {},
                  caf::after(std::chrono::seconds(5)) >> [] {});
}

} // namespace

std::string start_tracker(caf::actor_system& sys, const environment& env,
                          tracker_options opts,
                          const std::string& host, uint16_t port,
                          uint16_t control_port, tracker_node& node) {
  // The tracker owns the catalog, the group manager the group database and
  // the ticket key. Each finds the other's current incarnation in its slot:
  // the tracker asks for the key until the group manager answers (announces
  // wait for it), the group manager asks the tracker about group files.
  child_spec spec{"tracker", nullptr};
  child_spec groups{"groups", nullptr};
  group_manager_options gopts;
  gopts.db = opts.db;
  gopts.unix_time = env.unix_time;
  gopts.random = env.random;
  gopts.tracker = spec.slot;
  auto mode = env.blocking;
  groups.start = [gopts, mode](caf::actor_system& sys) {
    return ptr_of(spawn_blocking(sys, mode, group_manager, gopts));
  };
  opts.groups = groups.slot;
  spec.start = [opts, mode](caf::actor_system& sys) {
    return ptr_of(spawn_blocking(sys, mode, tracker, opts));
  };
  node.front = sys.spawn(front_pair<tracker_actor, group_actor>::run, spec.slot,
                         groups.slot);
  node.port = port;
  if (auto err = publish(sys, *env.dir, node.front, node.port, host, "tracker.port");
      !err.empty())
    return err;
  node.sup = sys.spawn(supervisor, std::vector<child_spec>{spec, groups},
                       supervisor_options{});
  node.ctl = sys.spawn(control, node.sup, std::string{"tracker"},
                       std::shared_ptr<actor_slot>{});
  node.control_port = control_port;
  return publish(sys, *env.dir, node.ctl, node.control_port, "127.0.0.1",
                 "tracker.control-port");
}

void stop(caf::actor_system& sys, tracker_node& node) {
  stop_all(sys, node.front, node.sup, node.ctl);
}

std::string start_peer(caf::actor_system& sys, const environment& env,
                       peer_options opts,
                       uint16_t port, uint16_t control_port,
                       uint64_t upload_limit, peer_node& node) {
  auto lib = node.lib;
  piece_server_options so{env.io, upload_limit, env.unix_time};
  // Scheduled, not detached, even in a node: a request then reaches it
  // without waking a thread of its own (one hand-off less per piece), and
  // its reads come from the page cache (a pread of 1 MiB: ~0.1 ms).
  child_spec server{"pserver", [lib, so](caf::actor_system& sys) {
                      return ptr_of(sys.spawn(piece_server, lib, so));
                    }};
  node.front = sys.spawn(front<piece_server_actor>::run, server.slot);
  node.port = port;
  if (auto err = publish(sys, *env.dir, node.front, node.port, opts.host, "peer.port");
      !err.empty())
    return err;
  opts.port = node.port;
  child_spec agent{"peer", [opts, env, lib](caf::actor_system& sys) {
                     return ptr_of(spawn_blocking(sys, env.blocking, peer,
                                                  opts, env, lib));
                   }};
  node.peer_slot = agent.slot;
  node.sup = sys.spawn(supervisor, std::vector<child_spec>{server, agent},
                       supervisor_options{});
  node.ctl = sys.spawn(control, node.sup, std::string{"peer"}, agent.slot);
  node.control_port = control_port;
  return publish(sys, *env.dir, node.ctl, node.control_port, "127.0.0.1",
                 "peer.control-port");
}

void stop(caf::actor_system& sys, peer_node& node) {
  stop_all(sys, node.front, node.sup, node.ctl);
}

} // namespace actorrent
