#include "nodes/cluster.hpp"

#include <signal.h>
#include <stdlib.h>

#include <climits>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/core/file_io.hpp"
#include "actors/core/log.hpp"
#include "actors/core/manifest.hpp"
#include "nodes/cluster_config.hpp"
#include "nodes/commands.hpp"
#include "nodes/config.hpp"
#include "nodes/nodes.hpp"
#include "nodes/processes.hpp"
#include "nodes/replies.hpp"
#include "actors/types.hpp"

namespace actorrent {

namespace {

using args_t = std::vector<std::string>;
using namespace std::chrono_literals;

const char* cluster_usage
  = "usage: actorrent cluster COMMAND --dir DIR ...\n\n"
    "  up --dir DIR [--mirrors 50] [--mirror-processes 5] [--peers 0]\n"
    "     [--replicas 5] [--part-size 67108864] [--piece-size 1048576]\n"
    "     [--dead-after-ms 3000] [--max-copies-per-mirror 4]\n"
    "     [--capacity 107374182400] [--log-level info]\n"
    "        writes DIR/NODE.ini per node, starts a tracker, the mirror\n"
    "        processes and the peers on free loopback ports (logs in\n"
    "        DIR/NODE.log), waits until each answers on its control port,\n"
    "        prints them and lists them in DIR/cluster.json\n"
    "  status --dir DIR\n"
    "        each node: pid, running|stopped|dead, control answers, and the\n"
    "        mirror actors of mirror nodes (exit 1 unless all run and answer)\n"
    "  kill --dir DIR TARGET [--hard | --stop | --cont]\n"
    "        TARGET a node (tracker, mirror-2, peer-0): SIGKILL, SIGSTOP or\n"
    "        SIGCONT it; a mirror id (m07): `kill [--hard]` through the\n"
    "        control port of the node hosting it\n"
    "  start --dir DIR NODE\n"
    "        starts a node that is not running from its config (same ports)\n"
    "  down --dir DIR\n"
    "        SIGTERM to every node it started (SIGKILL after 5 s)\n\n"
    "Exit codes: 0 ok, 1 the operation failed, 2 bad usage.\n";

const auto ready_timeout = 30s;
const auto stop_timeout = 5s;

int usage_error(const std::string& what) {
  std::cerr << "error: " << what << "\n(`actorrent cluster --help` lists the "
               "commands and options)\n";
  return 2;
}

// -- the command line ------------------------------------------------------------

struct cli {
  std::map<std::string, std::string> values;  // --name VALUE, --name=VALUE
  std::set<std::string> flags;                // --name
  args_t words;
};

// Splits `args` into options (only `value_opts` and `flag_opts`) and words.
// Empty, or what is wrong.
std::string parse_cli(const args_t& args, const std::set<std::string>& value_opts,
                      const std::set<std::string>& flag_opts, cli& out) {
  for (size_t i = 0; i < args.size(); ++i) {
    auto& a = args[i];
    if (a.rfind("--", 0) != 0) {
      out.words.push_back(a);
      continue;
    }
    auto eq = a.find('=');
    auto name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    if (flag_opts.count(name) && eq == std::string::npos)
      out.flags.insert(name);
    else if (!value_opts.count(name))
      return "unknown option '" + a + "'";
    else if (eq != std::string::npos)
      out.values[name] = a.substr(eq + 1);
    else if (i + 1 < args.size())
      out.values[name] = args[++i];
    else
      return "option --" + name + " needs a value";
  }
  return {};
}

// Reads option `name` (if given) as a number in [min, max]. Empty, or what
// is wrong.
std::string number(const cli& c, const std::string& name, uint64_t min,
                   uint64_t max, uint64_t& out) {
  auto i = c.values.find(name);
  if (i == c.values.end())
    return {};
  auto& text = i->second;
  auto bad = "--" + name + ": expected a number from " + std::to_string(min)
             + " to " + std::to_string(max) + ", got '" + text + "'";
  if (text.empty() || text.size() > 19
      || text.find_first_not_of("0123456789") != std::string::npos)
    return bad;
  auto x = std::stoull(text);
  if (x < min || x > max)
    return bad;
  out = x;
  return {};
}

// The absolute form of --dir (created when `create`). Empty, or what is wrong.
std::string dir_of(const cli& c, bool create, std::string& out) {
  auto i = c.values.find("dir");
  if (i == c.values.end() || i->second.empty())
    return "--dir DIR is required";
  if (create && !make_dirs(i->second))
    return "--dir: cannot create directory " + i->second;
  char buf[PATH_MAX];
  if (::realpath(i->second.c_str(), buf) == nullptr)
    return "--dir: no directory " + i->second;
  out = buf;
  return {};
}

std::string check_up_options(const cli& c, cluster_options& o) {
  std::string err;
  auto num = [&](const char* name, uint64_t min, uint64_t max, uint64_t& out) {
    if (err.empty())
      err = number(c, name, min, max, out);
  };
  num("mirrors", 0, 1000, o.mirrors);
  num("mirror-processes", 1, 1000, o.mirror_processes);
  num("peers", 0, 100, o.peers);
  num("replicas", 1, 1000, o.replicas);
  num("piece-size", min_piece_size, max_piece_size, o.piece_size);
  num("part-size", min_piece_size, uint64_t{1} << 40, o.part_size);
  num("dead-after-ms", 100, 3600000, o.dead_after_ms);
  num("max-copies-per-mirror", 1, 1000, o.max_copies_per_mirror);
  num("capacity", 1, uint64_t{1} << 60, o.capacity);
  if (!err.empty())
    return err;
  if (o.mirrors > 0 && o.mirror_processes > o.mirrors)
    return "--mirror-processes: at most --mirrors (" + std::to_string(o.mirrors)
           + ")";
  if (o.part_size % o.piece_size != 0)
    return "--part-size: must be a multiple of --piece-size ("
           + std::to_string(o.piece_size) + ")";
  if (auto i = c.values.find("log-level"); i != c.values.end())
    o.log_level = i->second;
  log::level lvl;
  if (!log::parse_level(o.log_level, lvl))
    return "--log-level: expected debug, info, warn or error, got '"
           + o.log_level + "'";
  if (!c.words.empty())
    return "unexpected argument '" + c.words.front() + "'";
  return dir_of(c, true, o.dir);
}

// -- talking to control ports ------------------------------------------------------

// A CAF system with a middleman, to send commands to nodes' control ports.
struct control_client {
  node_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  static node_config& init(node_config& c) {
    log::setup("cluster", log::level::error);
    c.load<caf::io::middleman>();
    return c;
  }
  control_client() : sys(init(cfg)), self(sys) {}

  caf::expected<control_actor> connect(uint32_t port) {
    return connect_control(self, "127.0.0.1", static_cast<uint16_t>(port), 2s);
  }

  // Sends `cmd` to 127.0.0.1:port; code 1 naming why when unreachable.
  command_output send(uint32_t port, const parsed_command& cmd) {
    auto ctl = connect(port);
    if (!ctl)
      return plain_output(1, "cannot reach control port "
                               + std::to_string(port) + ": "
                               + render(ctl.error()));
    return run_command(self, *ctl, cmd, 5s);
  }

  // The node's supervised actors (the control `actors` request). Empty, or
  // why it did not answer.
  std::string actors(const pb::ClusterNode& node, pb::ActorList& out) {
    auto ctl = connect(node.control_port());
    if (!ctl)
      return render(ctl.error());
    std::string err;
    self->request(*ctl, 5s, list_atom::value)
      .receive([&](pb::ActorList& xs) { out = std::move(xs); },
               [&](caf::error& e) { err = render(e); });
    return err;
  }
};

// -- nodes -----------------------------------------------------------------------

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

process_state state_of(const pb::ClusterNode& node) {
  return actorrent::state_of(node.pid(), node.config());
}

std::string id_range(const pb::ClusterNode& node) {
  if (node.mirror_ids().empty())
    return "";
  return node.mirror_ids(0) + ".." + *node.mirror_ids().rbegin();
}

void print_node(const pb::ClusterNode& node) {
  std::printf("%-10s pid %-8d port %-6u control %-6u %s\n", node.name().c_str(),
              node.pid(), node.port(), node.control_port(),
              id_range(node).c_str());
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
// or which node failed and the tail of its log.
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

// SIGTERM to every running node of `nodes` (in reverse order), SIGKILL to
// those still there after stop_timeout; prints what happened to each.
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
      std::printf("%-10s pid %d stopped\n", n->name().c_str(), n->pid());
      continue;
    }
    signal_if_ours(n->pid(), n->config(), SIGKILL);
    wait_state(n->pid(), n->config(), process_state::dead, 2s);
    std::printf("%-10s pid %d killed (no exit within %lld s of SIGTERM)\n",
                n->name().c_str(), n->pid(),
                static_cast<long long>(stop_timeout.count()));
  }
}

std::vector<pb::ClusterNode*> all_nodes(pb::ClusterFile& file) {
  std::vector<pb::ClusterNode*> out;
  for (auto& node : *file.mutable_nodes())
    out.push_back(&node);
  return out;
}

// Reads --dir and DIR/cluster.json for the commands after `up`.
int load(const cli& c, pb::ClusterFile& file) {
  std::string dir;
  if (auto err = dir_of(c, false, dir); !err.empty())
    return usage_error(err);
  if (auto err = load_cluster(dir, file); !err.empty()) {
    std::cerr << "error: " << err << "\n";
    return 1;
  }
  file.set_dir(dir);
  return 0;
}

// -- the commands ------------------------------------------------------------------

// A cluster already running in DIR is not started twice.
bool running_cluster(const std::string& dir) {
  pb::ClusterFile old;
  if (!load_cluster(dir, old).empty())
    return false;
  for (auto& node : old.nodes())
    if (state_of(node) != process_state::dead) {
      std::cerr << "error: " << node.name() << " of the cluster in " << dir
                << " still runs (pid " << node.pid()
                << "): `actorrent cluster down --dir " << dir << "` first\n";
      return true;
    }
  return false;
}

// Spawns `nodes`, records their pids and waits until they answer.
std::string start_nodes(control_client& client, pb::ClusterFile& file,
                        const std::vector<pb::ClusterNode*>& nodes) {
  for (auto n : nodes) {
    auto err = spawn_node(*n, file.dir());
    if (auto saved = save_cluster(file); err.empty())
      err = saved;
    if (!err.empty())
      return n->name() + ": " + err;
  }
  return wait_ready(client, nodes);
}

int cluster_up(const args_t& args) {
  cli c;
  if (auto err = parse_cli(args,
                           {"dir", "mirrors", "mirror-processes", "peers",
                            "replicas", "part-size", "piece-size",
                            "dead-after-ms", "max-copies-per-mirror",
                            "capacity", "log-level"},
                           {}, c);
      !err.empty())
    return usage_error(err);
  cluster_options opts;
  if (auto err = check_up_options(c, opts); !err.empty())
    return usage_error(err);
  if (running_cluster(opts.dir))
    return 1;
  pb::ClusterFile file;
  if (auto err = write_node_configs(opts, file); !err.empty()) {
    std::cerr << "error: " << err << "\n";
    return 1;
  }
  control_client client;
  auto nodes = all_nodes(file);
  // The tracker first: mirrors and peers register with it.
  auto err = start_nodes(client, file, {nodes.front()});
  if (err.empty())
    err = start_nodes(client, file, {nodes.begin() + 1, nodes.end()});
  if (!err.empty()) {
    std::cerr << "error: " << err << "stopping the nodes started:\n"
              << std::flush;
    stop_nodes(nodes);
    return 1;
  }
  for (auto n : nodes)
    print_node(*n);
  std::printf("cluster up: %d nodes, listed in %s\n", file.nodes_size(),
              cluster_file_path(file.dir()).c_str());
  return 0;
}

// "10 actors, 9 running; m03 restarting" from a mirror node's `actors`.
std::string actor_summary(control_client& client, const pb::ClusterNode& node,
                          bool& answers) {
  pb::ActorList xs;
  auto err = client.actors(node, xs);
  answers = err.empty();
  if (!answers)
    return err;
  if (node.kind() != "mirror")
    return "";
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

int cluster_status(const args_t& args) {
  cli c;
  if (auto err = parse_cli(args, {"dir"}, {}, c); !err.empty())
    return usage_error(err);
  if (!c.words.empty())
    return usage_error("unexpected argument '" + c.words.front() + "'");
  pb::ClusterFile file;
  if (auto rc = load(c, file))
    return rc;
  control_client client;
  bool all_up = true;
  std::printf("%-10s %-8s %-8s %-8s %s\n", "NODE", "PID", "STATE", "CONTROL",
              "ACTORS");
  for (auto& node : file.nodes()) {
    auto st = state_of(node);
    bool answers = false;
    std::string summary;
    if (st == process_state::running)
      summary = actor_summary(client, node, answers);
    all_up = all_up && st == process_state::running && answers;
    std::printf("%-10s %-8d %-8s %-8s %s\n", node.name().c_str(), node.pid(),
                to_string(st), answers ? "yes" : "no", summary.c_str());
  }
  return all_up ? 0 : 1;
}

int kill_node(pb::ClusterNode& node, int sig) {
  auto want = sig == SIGKILL   ? process_state::dead
              : sig == SIGSTOP ? process_state::stopped
                               : process_state::running;
  if (!signal_if_ours(node.pid(), node.config(), sig)) {
    std::cerr << "error: " << node.name() << " is not running (pid "
              << node.pid() << ")\n";
    return 1;
  }
  if (!wait_state(node.pid(), node.config(), want, 5s)) {
    std::cerr << "error: " << node.name() << " (pid " << node.pid()
              << ") is not " << to_string(want) << " 5 s after the signal\n";
    return 1;
  }
  std::printf("%s (pid %d): %s\n", node.name().c_str(), node.pid(),
              sig == SIGKILL   ? "killed (SIGKILL)"
              : sig == SIGSTOP ? "stopped (SIGSTOP)"
                               : "continued (SIGCONT)");
  return 0;
}

int kill_actor(pb::ClusterNode& host, const std::string& id, bool hard) {
  if (state_of(host) != process_state::running) {
    std::cerr << "error: " << host.name() << " (hosting " << id
              << ") is not running\n";
    return 1;
  }
  control_client client;
  auto out = client.send(host.control_port(),
                         parse_command(hard ? args_t{"kill", "--hard", id}
                                            : args_t{"kill", id}));
  (out.code == 0 ? std::cout : std::cerr)
    << (out.code == 0 ? host.name() + ": " : "error: " + host.name() + ": ")
    << out.text << "\n";
  return out.code;
}

int cluster_kill(const args_t& args) {
  cli c;
  if (auto err = parse_cli(args, {"dir"}, {"hard", "stop", "cont"}, c);
      !err.empty())
    return usage_error(err);
  if (c.words.size() != 1)
    return usage_error("kill needs one TARGET: a node name or a mirror id");
  if (c.flags.size() > 1)
    return usage_error("--hard, --stop and --cont exclude each other");
  pb::ClusterFile file;
  if (auto rc = load(c, file))
    return rc;
  auto& target = c.words.front();
  if (auto node = find_node(file, target))
    return kill_node(*node, c.flags.count("stop")   ? SIGSTOP
                            : c.flags.count("cont") ? SIGCONT
                                                    : SIGKILL);
  if (auto host = find_mirror_host(file, target)) {
    if (c.flags.count("stop") || c.flags.count("cont"))
      return usage_error("--stop and --cont apply to nodes, not to mirror "
                         "actor " + target);
    return kill_actor(*host, target, c.flags.count("hard") > 0);
  }
  return usage_error("unknown target '" + target + "': neither a node nor a "
                     "mirror id of " + cluster_file_path(file.dir()));
}

int cluster_start(const args_t& args) {
  cli c;
  if (auto err = parse_cli(args, {"dir"}, {}, c); !err.empty())
    return usage_error(err);
  if (c.words.size() != 1)
    return usage_error("start needs one NODE");
  pb::ClusterFile file;
  if (auto rc = load(c, file))
    return rc;
  auto node = find_node(file, c.words.front());
  if (!node)
    return usage_error("unknown node '" + c.words.front() + "' in "
                       + cluster_file_path(file.dir()));
  if (auto st = state_of(*node); st != process_state::dead) {
    std::cerr << "error: " << node->name() << " is " << to_string(st)
              << " (pid " << node->pid() << ")\n";
    return 1;
  }
  control_client client;
  if (auto err = start_nodes(client, file, {node}); !err.empty()) {
    std::cerr << "error: " << err << "stopping it\n";
    stop_nodes({node});
    return 1;
  }
  print_node(*node);
  return 0;
}

int cluster_down(const args_t& args) {
  cli c;
  if (auto err = parse_cli(args, {"dir"}, {}, c); !err.empty())
    return usage_error(err);
  if (!c.words.empty())
    return usage_error("unexpected argument '" + c.words.front() + "'");
  pb::ClusterFile file;
  if (auto rc = load(c, file))
    return rc;
  stop_nodes(all_nodes(file));
  return 0;
}

} // namespace

int run_cluster(args_t args) {
  if (args.empty())
    return usage_error("a cluster command is needed: up, status, kill, "
                       "start or down");
  auto cmd = args.front();
  args.erase(args.begin());
  for (auto& a : args)
    if (a == "-h" || a == "--help")
      cmd = "--help";
  int rc = 2;
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    std::cout << cluster_usage;
    rc = 0;
  } else if (cmd == "up")
    rc = cluster_up(args);
  else if (cmd == "status")
    rc = cluster_status(args);
  else if (cmd == "kill")
    rc = cluster_kill(args);
  else if (cmd == "start")
    rc = cluster_start(args);
  else if (cmd == "down")
    rc = cluster_down(args);
  else
    rc = usage_error("unknown cluster command '" + cmd + "'");
  // The control connections are not waited for.
  exit_now(rc);
}

} // namespace actorrent
