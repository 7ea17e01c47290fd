// A cluster started through `actorrent cluster` for end-to-end tests: the
// commands run as real processes, and what they claim can be checked against
// /proc and the nodes' control ports.
#pragma once

#include <signal.h>

#include <sstream>
#include <string>
#include <vector>

#include "nodes/cluster_config.hpp"
#include "tests/fixtures.hpp"

namespace actorrent::test {

inline std::string proc_text(pid_t pid, const char* what) {
  return read_file("/proc/" + std::to_string(pid) + "/" + what);
}

// The state letter of /proc/PID/stat (R, S, T, Z, ...), '?' when gone.
inline char state_letter(pid_t pid) {
  auto stat = proc_text(pid, "stat");
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() ? stat[close + 2]
                                                               : '?';
}

// True while `pid` is a live (not zombie) process whose command line holds
// `config`: read from /proc here, independently of the launcher.
inline bool alive(pid_t pid, const std::string& config) {
  auto cmdline = proc_text(pid, "cmdline");
  if (cmdline.find(std::string{'\0'} + config + '\0') == std::string::npos)
    return false;
  auto state = state_letter(pid);
  return state != '?' && state != 'Z';
}

// The line of `node` in `status` output.
inline std::string line_of(const std::string& out, const std::string& node) {
  std::istringstream in{out};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(node + " ", 0) == 0)
      return line;
  return {};
}

// A cluster directory; whatever the test left running is stopped at the end
// (through `down`, then SIGKILL for anything still alive).
struct cluster_fixture {
  temp_dir tmp;
  std::string dir = tmp / "cluster";

  ~cluster_fixture() {
    cluster({"down"});
    pb::ClusterFile file;
    if (load_cluster(dir, file).empty())
      for (auto& n : file.nodes())
        if (alive(n.pid(), n.config()))
          ::kill(n.pid(), SIGKILL);
  }

  // `actorrent cluster COMMAND --dir DIR ARGS...` for {COMMAND, ARGS...}.
  run_result cluster(const std::vector<std::string>& args) {
    std::vector<std::string> full{"cluster", args.at(0), "--dir", dir};
    full.insert(full.end(), args.begin() + 1, args.end());
    return run(full, std::chrono::seconds(60));
  }

  pb::ClusterFile file() {
    pb::ClusterFile out;
    auto err = load_cluster(dir, out);
    BOOST_REQUIRE_MESSAGE(err.empty(), err);
    return out;
  }

  pb::ClusterNode node(const std::string& name) {
    auto f = file();
    for (auto& n : f.nodes())
      if (n.name() == name)
        return n;
    BOOST_FAIL("no node " + name + " in cluster.json");
    return {};
  }

  // `actorrent ctl --node 127.0.0.1:CONTROL_PORT ARGS...` for a node.
  run_result ctl(const pb::ClusterNode& n, std::vector<std::string> args) {
    args.insert(args.begin(),
                {"ctl", "--node", "127.0.0.1:" + std::to_string(n.control_port())});
    return run(args, std::chrono::seconds(30));
  }

  bool control_answers(const pb::ClusterNode& n) {
    return ctl(n, {"actors"}).code == 0;
  }
};

} // namespace actorrent::test
