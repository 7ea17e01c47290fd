#include "nodes/cluster.hpp"

#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>

#include "actors/core/file_io.hpp"
#include "actors/core/log.hpp"
#include "actors/core/manifest.hpp"
#include "nodes/cluster_config.hpp"
#include "nodes/cluster_nodes.hpp"
#include "nodes/nodes.hpp"

namespace actorrent {

namespace {

using args_t = std::vector<std::string>;
using namespace std::chrono_literals;

const char* cluster_usage
  = "usage: actorrent cluster COMMAND --dir DIR ...\n\n"
    "  up --dir DIR [--mirrors 50] [--mirror-processes 5] [--peers 0]\n"
    "     [--replicas 5] [--part-size 67108864] [--piece-size 1048576]\n"
    "     [--dead-after-ms 3000] [--max-copies-per-mirror 2]\n"
    "     [--capacity 107374182400] [--scrub-interval-ms 5000]\n"
    "     [--log-level info]\n"
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
  num("scrub-interval-ms", 10, uint64_t{1} << 31, o.scrub_interval_ms);
  if (!err.empty())
    return err;
  if (!c.values.count("mirror-processes"))
    o.mirror_processes = std::max<uint64_t>(1, std::min(o.mirror_processes,
                                                        o.mirrors));
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

// The command line of the commands after `up`: --dir, the `flags` allowed,
// and exactly `words` words (`what` they are); then DIR/cluster.json (a
// missing or malformed one is bad input too). 0, or 2 after saying what is
// wrong.
int parse_and_load(const args_t& args, const std::set<std::string>& flags,
                   size_t words, const std::string& what, cli& c,
                   pb::ClusterFile& file) {
  if (auto err = parse_cli(args, {"dir"}, flags, c); !err.empty())
    return usage_error(err);
  if (c.words.size() != words)
    return usage_error(words == 0 ? "unexpected argument '" + c.words.front()
                                      + "'"
                                  : "expected " + what);
  std::string dir;
  if (auto err = dir_of(c, false, dir); !err.empty())
    return usage_error(err);
  if (auto err = load_cluster(dir, file); !err.empty())
    return usage_error(err);
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

int cluster_up(const args_t& args) {
  cli c;
  if (auto err = parse_cli(args,
                           {"dir", "mirrors", "mirror-processes", "peers",
                            "replicas", "part-size", "piece-size",
                            "dead-after-ms", "max-copies-per-mirror",
                            "capacity", "scrub-interval-ms", "log-level"},
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

int cluster_status(const args_t& args) {
  cli c;
  pb::ClusterFile file;
  if (auto rc = parse_and_load(args, {}, 0, "", c, file))
    return rc;
  control_client client;
  bool all_up = true;
  std::printf("%-10s %-8s %-8s %-8s %s\n", "NODE", "PID", "STATE", "CONTROL",
              "ACTORS");
  for (auto& node : file.nodes()) {
    auto st = state_of(node);
    pb::ActorList xs;
    auto why = st == process_state::running ? client.actors(node, xs)
                                            : std::string{"-"};
    bool answers = why.empty();
    auto summary = !answers                ? why
                   : node.kind() == "mirror" ? actor_summary(xs)
                                             : std::string{};
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
  auto text = out.text;
  if (text.empty() || text.back() != '\n')
    text += "\n";
  (out.code == 0 ? std::cout : std::cerr)
    << (out.code == 0 ? "" : "error: ") << host.name() << ": " << text;
  return out.code;
}

int cluster_kill(const args_t& args) {
  cli c;
  pb::ClusterFile file;
  if (auto rc = parse_and_load(args, {"hard", "stop", "cont"}, 1,
                               "one TARGET: a node name or a mirror id", c,
                               file))
    return rc;
  if (c.flags.size() > 1)
    return usage_error("--hard, --stop and --cont exclude each other");
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
  pb::ClusterFile file;
  if (auto rc = parse_and_load(args, {}, 1, "one NODE", c, file))
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
  pb::ClusterFile file;
  if (auto rc = parse_and_load(args, {}, 0, "", c, file))
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
