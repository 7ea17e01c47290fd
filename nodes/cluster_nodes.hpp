// The node processes of an `actorrent cluster`: starting them and waiting
// until their control ports answer, asking them for their actors, and
// stopping them. A node is only ever signalled while its pid still runs
// that node's config (nodes/processes.hpp).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include "messages/cluster.pb.h"
#include "nodes/commands.hpp"
#include "nodes/config.hpp"
#include "nodes/processes.hpp"

namespace actorrent {

/// How long `start_nodes` waits for a node, and `stop_nodes` for SIGTERM.
constexpr std::chrono::seconds ready_timeout{30};
constexpr std::chrono::seconds stop_timeout{5};

/// A CAF system with a middleman, to reach nodes' control ports (every
/// connect and request bounded: a hung node answers nothing).
class control_client {
public:
  control_client();

  /// Sends a command to the control actor on 127.0.0.1:port; code 1 naming
  /// why when the node cannot be reached.
  command_output send(uint32_t port, const parsed_command& cmd);

  /// The node's supervised actors (the control `actors` request). Empty, or
  /// why it did not answer.
  std::string actors(const pb::ClusterNode& node, pb::ActorList& out);

private:
  static node_config& init(node_config& cfg);
  node_config cfg_;
  caf::actor_system sys_;
  caf::scoped_actor self_;
};

pb::ClusterNode* find_node(pb::ClusterFile& file, const std::string& name);
/// The mirror node hosting mirror actor `id`, or null.
pb::ClusterNode* find_mirror_host(pb::ClusterFile& file, const std::string& id);
std::vector<pb::ClusterNode*> all_nodes(pb::ClusterFile& file);

/// Whether the node's recorded pid still runs its config.
process_state state_of(const pb::ClusterNode& node);

/// "tracker    pid 123  port 4001  control 4002  m00..m09".
void print_node(const pb::ClusterNode& node);

/// Starts `nodes` (children of this process) from their configs, records
/// their pids in DIR/cluster.json and waits until each answers on its
/// control port. Empty, or which node failed (how it ended, or that it did
/// not answer in time) and the end of its log.
std::string start_nodes(control_client& client, pb::ClusterFile& file,
                        const std::vector<pb::ClusterNode*>& nodes);

/// SIGTERM to every node of `nodes` still running (in reverse order),
/// SIGKILL to those still there after stop_timeout; prints what happened to
/// each.
void stop_nodes(const std::vector<pb::ClusterNode*>& nodes);

/// "10 actors, 9 running; m03 restarting": a mirror node's actors.
std::string actor_summary(const pb::ActorList& xs);

} // namespace actorrent
