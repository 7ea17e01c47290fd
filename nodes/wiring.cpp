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
                          uint16_t control_port, tracker_node& node,
                          placement_options popts) {
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
  opts.random = env.random;
  // Placement shares the tracker's database file (tables of its own); the
  // tracker asks it for the mirrors of a file.
  popts.db = opts.db;
  popts.id = opts.id;
  child_spec place{"placement", [popts, mode](caf::actor_system& sys) {
                     return ptr_of(spawn_blocking(sys, mode, placement, popts));
                   }};
  opts.placement = place.slot;
  spec.start = [opts, mode](caf::actor_system& sys) {
    return ptr_of(spawn_blocking(sys, mode, tracker, opts));
  };
  node.front = sys.spawn(
    front_triple<tracker_actor, group_actor, placement_actor>::run, spec.slot,
    groups.slot, place.slot);
  node.port = port;
  node.dir = env.dir;
  if (auto err = publish(sys, *env.dir, node.front, node.port, host, "tracker.port");
      !err.empty())
    return err;
  node.sup = sys.spawn(supervisor,
                       std::vector<child_spec>{spec, groups, place},
                       supervisor_options{});
  node.ctl = sys.spawn(control, node.sup, std::string{"tracker"},
                       std::shared_ptr<actor_slot>{}, place.slot,
                       node.control_token);
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
  piece_server_options so;
  so.io = env.io;
  so.upload_limit = upload_limit;
  so.unix_time = env.unix_time;
  if (env.streams) {
    piece_stream_options po;
    po.upload_limit = upload_limit;
    po.host = opts.host;
    po.port = node.stream_port;
    po.unix_time = env.unix_time;
    node.stream = std::make_shared<piece_stream_server>(lib, env.io, po,
                                                        env.random);
    if (auto err = node.stream->open(); !err.empty())
      return err + " (peer.stream-port)";
    node.stream_port = node.stream->port();
    so.streams = node.stream->grants();
  }
  // Scheduled, not detached, even in a node: a request then reaches it
  // without waking a thread of its own (one hand-off less per piece), and
  // its reads come from the page cache (a pread of 1 MiB: ~0.1 ms).
  child_spec server{"pserver", [lib, so](caf::actor_system& sys) {
                      return ptr_of(sys.spawn(piece_server, lib, so));
                    }};
  node.front = sys.spawn(front<piece_server_actor>::run, server.slot);
  node.port = port;
  node.dir = env.dir;
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
  node.ctl = sys.spawn(control, node.sup, std::string{"peer"}, agent.slot,
                       std::shared_ptr<actor_slot>{},
                       node.control_token);
  node.control_port = control_port;
  return publish(sys, *env.dir, node.ctl, node.control_port, "127.0.0.1",
                 "peer.control-port");
}

void stop(caf::actor_system& sys, peer_node& node) {
  stop_all(sys, node.front, node.sup, node.ctl);
  node.stream.reset();
}

std::string start_mirrors(caf::actor_system& sys, const environment& env,
                          const mirror_node_options& opts, uint16_t port,
                          uint16_t control_port, mirror_node& node) {
  // The front is published first: each mirror registers with the node's
  // address, and the front hands out whatever incarnation its slot holds.
  std::vector<child_spec> children;
  mirror_slots slots;
  for (auto& id : opts.ids) {
    children.push_back(child_spec{id, nullptr});
    slots[id] = children.back().slot;
  }
  node.front = sys.spawn(mirror_front, slots);
  node.port = port;
  node.dir = env.dir;
  if (auto err = publish(sys, *env.dir, node.front, node.port, opts.host,
                         "mirror.port");
      !err.empty())
    return err;
  for (auto& c : children) {
    mirror_options mo;
    mo.id = c.name;
    mo.host = opts.host;
    mo.port = node.port;
    mo.capacity = opts.capacity;
    mo.data_dir = opts.data_dir + "/" + c.name;
    if (!opts.index_dir.empty())
      mo.index_db = opts.index_dir + "/" + c.name + ".db";
    mo.trackers = opts.trackers;
    mo.heartbeat = opts.heartbeat;
    mo.scrub_interval = opts.scrub_interval;
    mo.io = env.io;
    mo.connector = env.dir->connector();
    c.start = [mo, mode = env.blocking](caf::actor_system& sys) {
      return ptr_of(spawn_blocking(sys, mode, mirror, mo));
    };
  }
  node.sup = sys.spawn(supervisor, children, supervisor_options{});
  node.ctl = sys.spawn(control, node.sup, std::string{"mirror"},
                       std::shared_ptr<actor_slot>{},
                       std::shared_ptr<actor_slot>{}, node.control_token);
  node.control_port = control_port;
  return publish(sys, *env.dir, node.ctl, node.control_port, "127.0.0.1",
                 "mirror.control-port");
}

void stop(caf::actor_system& sys, mirror_node& node) {
  stop_all(sys, node.front, node.sup, node.ctl);
}

} // namespace actorrent
