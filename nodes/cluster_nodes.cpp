#include "nodes/cluster_nodes.hpp"

#include <signal.h>

#include <cstdio>
#include <thread>

#include <caf/io/middleman.hpp>

#include "actors/core/log.hpp"
#include "actors/types.hpp"
#include "nodes/cluster_config.hpp"
#include "nodes/replies.hpp"

namespace actorrent {

using namespace std::chrono_literals;

namespace {

constexpr auto connect_timeout = 10s;
constexpr auto request_timeout = 5s;

std::string id_range(const pb::ClusterNode& node) {
  if (node.mirror_ids().empty())
    return "";
  return node.mirror_ids(0) + ".." + *node.mirror_ids().rbegin();
}

// Starts one node from its config; the pid is recorded in `node`.
std::string spawn_node(pb::ClusterNode& node, const std::string& dir) {
  std::string err;
  auto pid = spawn_detached(self_exe(), {node.kind(), "--config", node.config()},
                            dir, node.log(), err);
  node.set_pid(pid > 0 ? pid : 0);
  return err;
}

// Why `node` (a child of this process) is not up yet: empty once its
// control port answers `actors`; `pending` while it may still come up.
std::string not_up(control_client& client, const pb::ClusterNode& node,
                   bool& pending) {
  pending = false;
  if (auto how = child_exit(node.pid()); !how.empty())
    return node.name() + " " + how;
  pb::ActorList xs;
  if (client.actors(node, xs).empty())
    return {};
  pending = true;
  return node.name() + " did not answer on control port "
         + std::to_string(node.control_port()) + " within "
         + std::to_string(ready_timeout.count()) + " s";
}

// Waits until every node in `nodes` answers (at most ready_timeout). Empty,
// or which node failed and the end of its log.
std::string wait_ready(control_client& client,
                       const std::vector<pb::ClusterNode*>& nodes) {
  auto until = std::chrono::steady_clock::now() + ready_timeout;
  std::vector<pb::ClusterNode*> waiting = nodes;
  while (!waiting.empty()) {
    auto node = waiting.front();
    bool pending = false;
    auto why = not_up(client, *node, pending);
    if (why.empty()) {
      waiting.erase(waiting.begin());
      continue;
    }
    if (!pending || std::chrono::steady_clock::now() >= until)
      return why + "; the end of " + node->log() + ":\n"
             + tail_of(node->log(), 15);
    std::this_thread::sleep_for(100ms);
  }
  return {};
}

} // namespace

node_config& control_client::init(node_config& cfg) {
  log::setup("cluster", log::level::error);
  cfg.load<caf::io::middleman>();
  return cfg;
}

control_client::control_client() : sys_(init(cfg_)), self_(sys_) {
}

command_output control_client::send(uint32_t port, const parsed_command& cmd) {
  auto ctl = connect_control(self_, "127.0.0.1", static_cast<uint16_t>(port),
                             connect_timeout);
  if (!ctl)
    return plain_output(1, "cannot reach control port " + std::to_string(port)
                             + ": " + render(ctl.error()));
  return run_command(self_, *ctl, cmd, request_timeout);
}

std::string control_client::actors(const pb::ClusterNode& node,
                                   pb::ActorList& out) {
  auto ctl = connect_control(self_, "127.0.0.1",
                             static_cast<uint16_t>(node.control_port()),
                             connect_timeout);
  if (!ctl)
    return render(ctl.error());
  std::string err;
  self_->request(*ctl, request_timeout, list_atom::value, std::string{})
    .receive([&](pb::ActorList& xs) { out = std::move(xs); },
             [&](caf::error& e) { err = render(e); });
  return err;
}

pb::ClusterNode* find_node(pb::ClusterFile& file, const std::string& name) {
  for (auto& node : *file.mutable_nodes())
    if (node.name() == name)
      return &node;
  return nullptr;
}

pb::ClusterNode* find_mirror_host(pb::ClusterFile& file, const std::string& id) {
  for (auto& node : *file.mutable_nodes())
    for (auto& x : node.mirror_ids())
      if (x == id)
        return &node;
  return nullptr;
}

std::vector<pb::ClusterNode*> all_nodes(pb::ClusterFile& file) {
  std::vector<pb::ClusterNode*> out;
  for (auto& node : *file.mutable_nodes())
    out.push_back(&node);
  return out;
}

process_state state_of(const pb::ClusterNode& node) {
  return state_of(node.pid(), node.config());
}

void print_node(const pb::ClusterNode& node) {
  std::printf("%-10s pid %-8d port %-6u control %-6u %s\n", node.name().c_str(),
              node.pid(), node.port(), node.control_port(),
              id_range(node).c_str());
}

std::string start_nodes(control_client& client, pb::ClusterFile& file,
                        const std::vector<pb::ClusterNode*>& nodes) {
  for (auto n : nodes) {
    auto err = spawn_node(*n, file.dir());
    // Recorded at once: `down` finds it even if this process dies now.
    if (auto saved = save_cluster(file); err.empty())
      err = saved;
    if (!err.empty())
      return n->name() + ": " + err;
  }
  return wait_ready(client, nodes);
}

void stop_nodes(const std::vector<pb::ClusterNode*>& nodes) {
  std::vector<pb::ClusterNode*> running;
  for (auto i = nodes.rbegin(); i != nodes.rend(); ++i) {
    auto& n = **i;
    if (signal_if_ours(n.pid(), n.config(), SIGTERM)) {
      signal_if_ours(n.pid(), n.config(), SIGCONT);  // a stopped one too
      running.push_back(&n);
    } else
      std::printf("%-10s %s\n", n.name().c_str(),
                  n.pid() > 0 ? "not running" : "never started");
  }
  auto until = std::chrono::steady_clock::now() + stop_timeout;
  for (auto n : running) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      until - std::chrono::steady_clock::now());
    if (wait_state(n->pid(), n->config(), process_state::dead,
                   std::max(left, std::chrono::milliseconds(0)))) {
      std::printf("%-10s pid %d ended (SIGTERM)\n", n->name().c_str(),
                  n->pid());
      continue;
    }
    signal_if_ours(n->pid(), n->config(), SIGKILL);
    wait_state(n->pid(), n->config(), process_state::dead, 2s);
    std::printf("%-10s pid %d killed (SIGKILL: no exit %lld s after SIGTERM)\n",
                n->name().c_str(), n->pid(),
                static_cast<long long>(stop_timeout.count()));
  }
}

std::string actor_summary(const pb::ActorList& xs) {
  size_t running = 0;
  std::string others;
  for (auto& a : xs.actors()) {
    if (a.state() == "running")
      ++running;
    else
      others += "; " + a.name() + " " + a.state();
  }
  return std::to_string(xs.actors_size()) + " actors, "
         + std::to_string(running) + " running" + others;
}

} // namespace actorrent
