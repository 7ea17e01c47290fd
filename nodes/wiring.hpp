// How the actors of each node kind are wired together: used by the
// executable's subcommands, by in-process tests and by simulations alike.
#pragma once

#include <memory>
#include <string>

#include "actors/node/actor_slot.hpp"
#include "actors/core/environment.hpp"
#include "actors/interfaces.hpp"
#include "actors/peer/library.hpp"
#include "actors/peer/peer.hpp"
#include "actors/tracker/tracker.hpp"

namespace caf { class actor_system; }

namespace actorrent {

struct tracker_node {
  tracker_node_actor front; // published on `port`: tracker + group manager
  supervisor_actor sup;
  control_actor ctl;        // published on `control_port` (loopback)
  uint16_t port = 0;
  uint16_t control_port = 0;
  std::string control_token; // set before start: what control requests need
};

/// Spawns a supervised tracker and group manager behind a published front. Ports of 0 pick a
/// free port (the chosen one is stored back). Returns an error message naming
/// the address that could not be used, or an empty string.
std::string start_tracker(caf::actor_system& sys, const environment& env,
                          tracker_options opts,
                          const std::string& host, uint16_t port,
                          uint16_t control_port, tracker_node& node);
void stop(caf::actor_system& sys, tracker_node& node);

struct peer_node {
  std::shared_ptr<library> lib = std::make_shared<library>();
  std::shared_ptr<actor_slot> peer_slot;   // the current peer agent
  piece_server_actor front;  // published on `port`
  supervisor_actor sup;
  control_actor ctl;         // published on `control_port` (loopback)
  uint16_t port = 0;
  uint16_t control_port = 0;
  std::string control_token; // set before start: what control requests need
};

/// Spawns a supervised piece server and peer agent; the piece server's front
/// is published on opts.host:port, which is what the peer announces.
std::string start_peer(caf::actor_system& sys, const environment& env,
                       peer_options opts,
                       uint16_t port, uint16_t control_port,
                       uint64_t upload_limit, peer_node& node);
void stop(caf::actor_system& sys, peer_node& node);

} // namespace actorrent
