// Shared test fixtures: a threaded actor system, CAF's deterministic
// scheduler with virtual time, and real `actorrent` processes on loopback.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>

#include "messages/actorrent.pb.h"
#include "nodes/cluster_config.hpp"
#include "nodes/config.hpp"

namespace actorrent::test {

/// Real scheduler, two threads, with a middleman: nodes in one process.
struct threaded_fixture {
  node_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  static node_config& init(node_config& c) {
    c.set("scheduler.max-threads", 2);
    c.load<caf::io::middleman>();
    return c;
  }
  threaded_fixture() : sys(init(cfg)), self(sys) {}
};

/// Deterministic scheduler with virtual time: nothing runs until the test
/// says so; `sched.advance_time(d)` fires timers.
struct deterministic_fixture {
  node_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  caf::scheduler::test_coordinator& sched;
  static node_config& init(node_config& c) {
    c.set("scheduler.policy", caf::atom("testing"));
    return c;
  }
  deterministic_fixture()
    : sys(init(cfg)), self(sys, true),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {
  }
  ~deterministic_fixture() { sched.run(); }
};

/// A manifest of `pieces` 16 KiB pieces whose hashes are all `fill` bytes
/// (for catalog tests: nothing is ever hashed).
inline pb::Manifest manifest_of(const std::string& name, uint32_t pieces,
                                char fill) {
  pb::Manifest m;
  m.set_name(name);
  m.set_piece_size(16384);
  m.set_size(uint64_t{pieces} * 16384);
  for (uint32_t i = 0; i < pieces; ++i)
    m.add_piece_sha256(std::string(32, fill));
  m.set_file_sha256(std::string(32, fill));
  return m;
}

/// An unsigned announce of `peer` at 127.0.0.1:port holding the pieces of
/// `m` set in the bitfield bytes `have` (for the catalog store, or to be
/// signed).
inline pb::Announce plain_announce(const std::string& peer, uint32_t port,
                                   const pb::Manifest& m,
                                   const std::string& have) {
  pb::Announce a;
  a.set_peer_id(peer);
  a.set_host("127.0.0.1");
  a.set_port(port);
  *a.add_files() = m;
  auto& h = *a.add_holdings();
  h.set_name(m.name());
  h.set_bitfield(have);
  return a;
}

/// A fresh directory under /tmp, removed at the end.
struct temp_dir {
  std::string path;
  temp_dir() {
    char buf[] = "/tmp/actorrent-test-XXXXXX";
    path = ::mkdtemp(buf);
  }
  ~temp_dir() {
    if (!std::getenv("ACTORRENT_KEEP_TEST_DIRS"))
      std::system(("rm -rf '" + path + "'").c_str());
  }
  std::string operator/(const std::string& x) const { return path + "/" + x; }
};

/// Writes `size` pseudo-random bytes (seeded) to `path`.
inline void write_random_file(const std::string& path, size_t size,
                              uint64_t seed) {
  std::mt19937_64 rng{seed};
  std::string buf(size, '\0');
  for (size_t i = 0; i + 8 <= size; i += 8) {
    auto x = rng();
    std::memcpy(&buf[i], &x, 8);
  }
  for (size_t i = size - size % 8; i < size; ++i)
    buf[i] = static_cast<char>(rng());
  std::ofstream{path, std::ios::binary}.write(buf.data(),
                                              static_cast<std::streamsize>(size));
}

inline std::string read_file(const std::string& path) {
  std::ifstream f{path, std::ios::binary};
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// A loopback TCP port that is free now, below the kernel's ephemeral
/// range (see `free_ports`): each call gives another port.
inline uint16_t free_port() {
  auto ports = free_ports(1);
  BOOST_REQUIRE_MESSAGE(!ports.empty(), "no free loopback port");
  return ports.front();
}

/// The last `lines` lines of a text file (a node's log, for a failure
/// message), or "" when it cannot be read.
inline std::string tail_of(const std::string& path, size_t lines = 20) {
  std::ifstream in{path};
  std::vector<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(line.substr(0, 300));
    if (last.size() > lines)
      last.erase(last.begin());
  }
  std::string out;
  for (auto& l : last)
    out += l + "\n";
  return out;
}

/// Polls `pred` every 100 ms until it holds or `timeout` passes.
inline bool wait_until(std::function<bool()> pred,
                       std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return pred();
}

/// A running `actorrent` process; SIGKILLed when it goes out of scope.
class process {
public:
  process(std::vector<std::string> args, const std::string& log,
          const std::string& cwd = {}) {
    pid_ = ::fork();
    if (pid_ == 0) {
      if (!cwd.empty() && ::chdir(cwd.c_str()) != 0)
        ::_exit(127);
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      int devnull = ::open("/dev/null", O_RDONLY);
      ::dup2(devnull, 0);
      std::vector<char*> argv;
      std::string bin = ACTORRENT_BIN;
      argv.push_back(bin.data());
      for (auto& a : args)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(bin.c_str(), argv.data());
      ::_exit(127);
    }
  }
  process(const process&) = delete;
  ~process() { kill(SIGKILL); }
  void kill(int sig = SIGKILL) {
    if (pid_ > 0) {
      ::kill(pid_, sig);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }
  bool running() const {
    return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0;
  }
  pid_t pid() const { return pid_; }

private:
  pid_t pid_ = -1;
};

struct run_result {
  int code = -1;
  std::string out;   // stdout and stderr
};

/// Runs `actorrent args...` to completion (killed after `timeout`).
inline run_result run(std::vector<std::string> args,
                      std::chrono::seconds timeout = std::chrono::seconds(60)) {
  std::string cmd = "timeout -s KILL " + std::to_string(timeout.count()) + " '"
                    + std::string{ACTORRENT_BIN} + "'";
  for (auto& a : args)
    cmd += " '" + a + "'";
  cmd += " 2>&1";
  run_result r;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
    r.out.append(buf, n);
  int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

/// First integer value of `"key":N` in a JSON text, or -1.
inline int64_t json_int(const std::string& json, const std::string& key) {
  std::smatch m;
  std::regex re{"\"" + key + "\":(-?[0-9]+)"};
  if (std::regex_search(json, m, re))
    return std::stoll(m[1]);
  return -1;
}

/// Every string value of `"key":"..."` in a JSON text.
inline std::vector<std::string> json_strings(const std::string& json,
                                             const std::string& key) {
  std::vector<std::string> out;
  std::regex re{"\"" + key + "\":\"([^\"]*)\""};
  for (std::sregex_iterator i{json.begin(), json.end(), re}, e; i != e; ++i)
    out.push_back((*i)[1]);
  return out;
}

} // namespace actorrent::test
