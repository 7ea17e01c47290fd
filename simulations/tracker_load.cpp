// Load driver for simulations/bench_trackers.py: simulated peers speaking
// the tracker protocol (signed announce, haves) to real tracker processes.
//
//   tracker_load --trackers H:P[,H:P] [--peers 1000] [--threads 16]
//                [--seconds 10] [--kill-pid PID]
//
// Each of `threads` threads owns peers/threads peers and sends one request
// at a time (a closed loop: `threads` requests in flight). Peer i uses
// tracker i % trackers. Phases: every peer announces one file of 64 pieces
// (challenge + announce); then haves of one piece each, round robin over
// its peers, for `seconds`. Each thread's requests also keep its peers'
// sessions alive. With --kill-pid (two trackers, every peer on the first):
// after the have phase the driver SIGKILLs that process; each thread
// notices through a monitor (down message) or a have unanswered for 300 ms
// (a peer's request timeout, shortened), waits the peers' backoff (250 ms)
// and announces its peers to the next tracker; it reports the
// time from the kill to the last peer announced there. Prints one JSON
// object. Every loop is bounded; the driver stops by itself.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include <caf/io/middleman.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/core/identity.hpp"
#include "actors/core/manifest.hpp"
#include "actors/core/ticket.hpp"
#include "actors/interfaces.hpp"
#include "nodes/config.hpp"

using namespace actorrent;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr uint32_t pieces = 64;

struct sim_peer {
  signing_key key;
  pb::Manifest file;
  std::string id;
  std::string session;
  size_t tracker = 0;
  uint32_t next_piece = 1;
};

// Latencies (microseconds) and failures of one kind of request.
struct series {
  std::mutex mtx;
  std::vector<int64_t> us;
  size_t failed = 0;
  double seconds = 0;

  void add(int64_t x) {
    std::lock_guard<std::mutex> g{mtx};
    us.push_back(x);
  }
  void fail() {
    std::lock_guard<std::mutex> g{mtx};
    ++failed;
  }
  std::string json() {
    std::sort(us.begin(), us.end());
    auto at = [&](double q) {
      return us.empty() ? 0.0
                        : us[std::min(us.size() - 1,
                                      static_cast<size_t>(q * us.size()))]
                            / 1000.0;
    };
    std::ostringstream out;
    out << "{\"ok\":" << us.size() << ",\"failed\":" << failed
        << ",\"seconds\":" << seconds << ",\"per_second\":"
        << (seconds > 0 ? us.size() / seconds : 0) << ",\"p50_ms\":" << at(0.5)
        << ",\"p99_ms\":" << at(0.99) << "}";
    return out.str();
  }
};

// A manifest of 16 KiB pieces whose hashes are derived from `n` (nothing
// is ever hashed: the tracker only checks the manifest's shape).
pb::Manifest load_manifest(const std::string& name, uint32_t count, size_t n) {
  pb::Manifest m;
  m.set_name(name);
  m.set_piece_size(16384);
  m.set_size(uint64_t{count} * 16384);
  std::string h(32, '\0');
  for (size_t i = 0; i < 8; ++i)
    h[i] = static_cast<char>(n >> (8 * i));
  for (uint32_t i = 0; i < count; ++i)
    m.add_piece_sha256(h);
  m.set_file_sha256(h);
  return m;
}

int64_t micros_since(clock_type::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           clock_type::now() - t)
    .count();
}

struct driver {
  caf::actor_system& sys;
  std::vector<tracker_node_actor> trackers;
  std::vector<std::atomic<bool>> down;
  /// Request timeout; short for the requests to a killed tracker (a real
  /// peer drops them when the down message comes instead of waiting).
  std::atomic<int64_t> timeout_ms{5000};

  driver(caf::actor_system& s, std::vector<tracker_node_actor> ts)
    : sys(s), trackers(std::move(ts)), down(trackers.size()) {
  }

  template <class T, class... Ts>
  bool ask(caf::scoped_actor& self, size_t t, T& out, Ts&&... xs) {
    bool ok = false;
    self->request(trackers[t], std::chrono::milliseconds(timeout_ms.load()),
                  std::forward<Ts>(xs)...)
      .receive(
        [&](T& x) {
          out = std::move(x);
          ok = true;
        },
        [&](caf::error&) {});
    return ok;
  }

  bool announce(caf::scoped_actor& self, sim_peer& p) {
    pb::Challenge c;
    if (!ask(self, p.tracker, c, challenge_atom::value))
      return false;
    pb::Announce msg;
    msg.set_host("127.0.0.1");
    msg.set_port(30000);
    *msg.add_files() = p.file;
    auto& h = *msg.add_holdings();
    h.set_name(p.file.name());
    bitfield b{pieces};
    b.set(0);
    h.set_bitfield(b.bytes());
    sign_announce(p.key, c.nonce(), msg);
    pb::AnnounceReply r;
    if (!ask(self, p.tracker, r, announce_atom::value, msg))
      return false;
    p.id = msg.peer_id();
    p.session = r.session();
    return true;
  }

  bool have(caf::scoped_actor& self, sim_peer& p) {
    pb::Have msg;
    msg.set_peer_id(p.id);
    msg.set_session(p.session);
    msg.set_name(p.file.name());
    msg.add_pieces(p.next_piece);
    p.next_piece = p.next_piece % (pieces - 1) + 1;
    caf::ok_atom ok;
    return ask(self, p.tracker, ok, have_atom::value, msg);
  }
};

} // namespace

int main(int argc, char** argv) {
  std::string tracker_list;
  size_t peers = 1000, threads = 16;
  double seconds = 10;
  pid_t kill_pid = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--trackers")
      tracker_list = v;
    else if (k == "--peers")
      peers = std::stoul(v);
    else if (k == "--threads")
      threads = std::stoul(v);
    else if (k == "--seconds")
      seconds = std::stod(v);
    else if (k == "--kill-pid")
      kill_pid = std::stoi(v);
  }
  std::string why;
  std::replace(tracker_list.begin(), tracker_list.end(), ',', ' ');
  std::vector<endpoint> eps;
  {
    std::istringstream in{tracker_list};
    std::string one;
    while (in >> one) {
      auto e = split_endpoints(one, why);
      if (e.empty()) {
        std::cerr << "error: --trackers: " << why << "\n";
        return 2;
      }
      eps.push_back(e[0]);
    }
  }
  if (eps.empty() || peers == 0 || threads == 0
      || (kill_pid > 0 && eps.size() < 2)) {
    std::cerr << "usage: tracker_load --trackers H:P[,H:P] [--peers N]"
                 " [--threads N] [--seconds S] [--kill-pid PID]\n";
    return 2;
  }
  node_config cfg;
  cfg.set("scheduler.max-threads", 2);
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  std::vector<tracker_node_actor> handles;
  for (auto& e : eps) {
    auto h = sys.middleman().remote_actor<tracker_node_actor>(e.host, e.port);
    if (!h) {
      std::cerr << "error: cannot reach tracker " << e.str() << "\n";
      return 1;
    }
    handles.push_back(*h);
  }
  driver d{sys, handles};
  // A monitor per tracker: its down message marks the tracker down.
  for (size_t t = 0; t < handles.size(); ++t)
    sys.spawn([&d, t](caf::event_based_actor* self) {
      self->monitor(d.trackers[t]);
      self->set_down_handler([&d, t](caf::down_msg&) { d.down[t] = true; });
      return caf::behavior{[](caf::ok_atom) {}};
    });
  std::vector<sim_peer> all(peers);
  for (size_t i = 0; i < peers; ++i) {
    all[i].key = signing_key::generate(system_random());
    all[i].file = load_manifest("load-" + std::to_string(i), pieces, i);
    all[i].tracker = kill_pid > 0 ? 0 : i % handles.size();
  }
  series announces, haves;
  std::atomic<int64_t> last_reannounce_us{-1};
  std::atomic<size_t> reannounced{0};
  clock_type::time_point killed_at;
  auto run_threads = [&](auto body) {
    std::vector<std::thread> ts;
    for (size_t t = 0; t < threads; ++t)
      ts.emplace_back([&, t] {
        caf::scoped_actor self{sys};
        body(self, t);
      });
    for (auto& x : ts)
      x.join();
  };
  auto mine = [&](size_t t) {
    std::vector<sim_peer*> out;
    for (size_t i = t; i < peers; i += threads)
      out.push_back(&all[i]);
    return out;
  };
  auto start = clock_type::now();
  run_threads([&](caf::scoped_actor& self, size_t t) {
    for (auto* p : mine(t)) {
      auto t0 = clock_type::now();
      if (d.announce(self, *p))
        announces.add(micros_since(t0));
      else
        announces.fail();
    }
  });
  announces.seconds = micros_since(start) / 1e6;
  start = clock_type::now();
  auto until = start + std::chrono::duration<double>(seconds);
  run_threads([&](caf::scoped_actor& self, size_t t) {
    auto ps = mine(t);
    for (size_t k = 0; clock_type::now() < until; ++k) {
      auto* p = ps[k % ps.size()];
      if (p->session.empty())
        continue;
      auto t0 = clock_type::now();
      if (d.have(self, *p))
        haves.add(micros_since(t0));
      else
        haves.fail();
    }
  });
  haves.seconds = micros_since(start) / 1e6;
  std::ostringstream failover;
  if (kill_pid > 0) {
    d.timeout_ms = 300;
    killed_at = clock_type::now();
    ::kill(kill_pid, SIGKILL);
    run_threads([&](caf::scoped_actor& self, size_t t) {
      auto ps = mine(t);
      // Haves go on until the tracker is seen down: its down message, or
      // a have without an answer in 300 ms (at most 10 s).
      auto give_up = killed_at + std::chrono::seconds(10);
      for (size_t k = 0; !d.down[0] && clock_type::now() < give_up; ++k)
        if (!d.have(self, *ps[k % ps.size()]))
          break;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      d.timeout_ms = 5000;
      for (auto* p : ps) {
        p->tracker = 1;
        for (int attempt = 0; attempt < 5; ++attempt)
          if (d.announce(self, *p)) {
            ++reannounced;
            auto us = micros_since(killed_at);
            auto prev = last_reannounce_us.load();
            while (us > prev
                   && !last_reannounce_us.compare_exchange_weak(prev, us))
              ;
            break;
          }
      }
    });
    failover << ",\"failover\":{\"peers\":" << peers
             << ",\"reannounced\":" << reannounced.load()
             << ",\"last_reannounced_ms\":" << last_reannounce_us.load() / 1000.0
             << "}";
  }
  std::cout << "{\"peers\":" << peers << ",\"threads\":" << threads
            << ",\"trackers\":" << handles.size()
            << ",\"announce\":" << announces.json()
            << ",\"have\":" << haves.json() << failover.str() << "}"
            << std::endl;
  std::_Exit(0);
}
