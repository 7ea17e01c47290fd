// How the actors of each node kind are wired together: used by the
// executable's subcommands, by in-process tests and by simulations alike.
#pragma once

#include <memory>
#include <string>

#include "actors/node/actor_slot.hpp"
#include "actors/core/environment.hpp"
#include "actors/interfaces.hpp"
#include "actors/peer/library.hpp"
#include "actors/transfer/piece_stream.hpp"
#include "actors/peer/peer.hpp"
#include "actors/mirror/mirror_front.hpp"
#include "actors/mirror/mirror_server.hpp"
#include "actors/placement/placement.hpp"
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
  std::shared_ptr<directory> dir; // where its ports are published (kept open)
};

/// Spawns a supervised tracker, group manager and placement behind a
/// published front (placement keeps its state in the tracker's database).
/// Ports of 0 pick a free port (the chosen one is stored back). Returns an
/// error message naming the address that could not be used, or an empty
/// string.
std::string start_tracker(caf::actor_system& sys, const environment& env,
                          tracker_options opts,
                          const std::string& host, uint16_t port,
                          uint16_t control_port, tracker_node& node,
                          placement_options popts = {});
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
  std::shared_ptr<directory> dir; // where its ports are published (kept open)
  /// Its piece stream (piece_stream.hpp), when the environment has streams
  /// and uploads are not paced; `stream_port` is set before start (0: a
  /// free one) and holds the port after.
  std::shared_ptr<piece_stream_server> stream;
  uint16_t stream_port = 0;
};

/// Spawns a supervised piece server and peer agent; the piece server's front
/// is published on opts.host:port, which is what the peer announces.
std::string start_peer(caf::actor_system& sys, const environment& env,
                       peer_options opts,
                       uint16_t port, uint16_t control_port,
                       uint64_t upload_limit, peer_node& node);
void stop(caf::actor_system& sys, peer_node& node);

struct mirror_node_options {
  std::vector<std::string> ids;  // the mirrors it hosts
  std::string host = "127.0.0.1";
  std::string data_dir;          // DATA_DIR/ID per mirror
  /// Where each mirror's index database goes (INDEX_DIR/ID.db); empty:
  /// DATA_DIR/ID/index.db. Simulations keep data in memory, indexes on disk.
  std::string index_dir;
  std::vector<endpoint> trackers;
  uint64_t capacity = uint64_t{100} << 30;
  std::chrono::milliseconds heartbeat{500};
  std::chrono::milliseconds scrub_interval{5000};
};

struct mirror_node {
  std::string control_token; // set before start: what control requests need
  mirror_node_actor front;   // published on `port`: hands out mirrors
  supervisor_actor sup;      // one child per mirror, named by its id
  control_actor ctl;
  uint16_t port = 0;
  uint16_t control_port = 0;
  std::shared_ptr<directory> dir; // where its ports are published (kept open)
};

/// Spawns one supervised mirror per id behind a published front.
std::string start_mirrors(caf::actor_system& sys, const environment& env,
                          const mirror_node_options& opts, uint16_t port,
                          uint16_t control_port, mirror_node& node);
void stop(caf::actor_system& sys, mirror_node& node);

} // namespace actorrent
