// The simulation harness: builds a cluster from a scenario with the node
// wiring of nodes/wiring.hpp (start_tracker, start_mirrors, start_peer) and
// the simulation's seams (a site_io per site over one sim_disk, a directory
// per site over one network, scheduled blocking actors, seeded randomness,
// wall-clock time derived from the actor clock), injects the scenario's
// faults, runs it to the end (deterministic: CAF's test coordinator on this
// thread, virtual time, every message into the trace digest; real time: the
// sharing scheduler's threads), checks the invariants and collects what the
// report shows. Nothing in the actors knows it is simulated.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/core/manifest.hpp"
#include "nodes/wiring.hpp"
#include "simulations/sim/faults.hpp"
#include "simulations/sim/network.hpp"
#include "simulations/sim/scenario.hpp"
#include "simulations/sim/sim_io.hpp"

namespace caf::scheduler { class test_coordinator; }

namespace actorrent::sim {

/// Virtual or real time as whole milliseconds (reports, traces, faults).
inline int64_t ms_of(caf::timespan t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t).count();
}

struct client_info {
  std::string name;                 // client-N, also its site and host
  caf::timespan arrive{0};
  bool started = false;
  bool dead = false;                // killed for good (the whole node)
  bool leaves = false;              // the mirrors' publisher: leaves after
  std::set<std::string> holds;      // files it starts with
  std::vector<std::string> wants;   // files it downloads
  std::map<std::string, std::vector<bool>> pieces;  // written, per file
  std::map<std::string, caf::timespan> done;        // completion per file
  uint64_t pieces_wanted = 0;
  uint64_t pieces_got = 0;
  caf::timespan finished{-1};
  std::string incomplete;           // at the end: why not complete
  peer_node node;
};

struct mirror_site {
  std::string site;
  std::vector<std::string> ids;     // mirror-N
  mirror_node node;
};

struct invariant {
  explicit invariant(std::string n) : name(std::move(n)) {}
  std::string name;
  bool pass = true;
  std::string detail;
};

/// One sample of placement: live replicas of every part.
struct replica_sample {
  caf::timespan at{0};
  std::vector<uint32_t> replicas;   // per part, in order of `part_names`
};

struct supervised {
  std::string state;
  uint32_t restarts = 0;
};

/// What a run produced (the report is made from it).
struct outcome {
  std::string digest;               // deterministic mode
  uint64_t events = 0;
  caf::timespan virtual_end{0};
  double wall_seconds = 0;
  uint64_t peak_rss_kib = 0;
  /// sim.profile: wall time per kind of event ("receiver message"), the
  /// costliest first.
  struct profile_line {
    std::string kind;
    uint64_t events = 0;
    double seconds = 0;
  };
  std::vector<profile_line> profile;
  std::vector<invariant> invariants;
  bool passed() const;
};

class harness {
public:
  explicit harness(scenario_config& cfg);
  ~harness();

  /// Builds the cluster; "" or what went wrong.
  std::string setup();
  /// Runs until every client is done (and every fault is resolved) or the
  /// scenario's duration; returns early when `until` (virtual) is reached.
  void run(caf::timespan until);
  /// Runs `n` events (deterministic mode) or for `n` ms (real time).
  void step(size_t n);
  bool finished() const;
  /// Checks the invariants, gathers the figures.
  outcome finish();
  /// Removes the scratch directory (SQLite files, mirror indexes) now, for
  /// a process that ends without destroying the harness.
  void remove_scratch();

  // -- the console (and the fault schedule) use these --------------------------
  /// Injects a fault now; "" or what is wrong.
  std::string inject(const std::string& text);
  std::string status() const;
  std::string actors(const std::string& node);
  caf::timespan now() const;
  void note(const std::string& line);  // enters the trace

  // -- what the report reads ---------------------------------------------------
  const scenario_config& config() const { return cfg_; }
  const std::vector<client_info>& clients() const { return clients_; }
  const std::vector<fault>& faults() const { return faults_; }
  const std::map<std::string, uint64_t> bytes_by_kind() const;
  /// Bytes written into downloads, per 100 ms of (virtual) time.
  const std::map<int64_t, uint64_t>& throughput() const {
    return bytes_per_tenth_;
  }
  const std::vector<replica_sample>& replicas() const { return replicas_; }
  const std::vector<std::string>& part_names() const { return part_names_; }
  const std::map<std::string, supervised>& supervision() const {
    return supervision_;
  }
  uint64_t connections_lost() const { return net_->connections_lost(); }
  const std::vector<std::string>& log() const { return log_; }
  std::string sample_timeline() const;

private:
  using action = std::function<void()>;
  struct timed {
    caf::timespan at;
    uint64_t seq;
  };
  bool deterministic() const { return sched_ != nullptr; }
  // -- setup (in this order: the sites take seeded draws in turn) ----------
  /// The shared disk (its observer) and the network (its reply sizes).
  void setup_disk_and_network();
  std::string setup_tracker();
  std::string setup_mirrors();
  /// The clients' sites, what each holds and wants.
  void setup_clients();
  /// When each client arrives; the fault schedule.
  std::string schedule_arrivals_and_faults();
  /// The harness's seeded draws.
  uint64_t next_random();
  /// A site's link: a server's or a client's, latency spread drawn.
  link_params link_for(bool server);
  environment env_of(const std::string& site);
  void at(caf::timespan when, action f);
  void run_due();
  size_t drain();
  /// Runs the next event: records it in the trace (and the profile).
  void step();
  void record();
  /// The kind of the next event for the profile: receiver and first atom,
  /// or what the message is (response, error, down, exit).
  std::string next_kind();
  void post(action f);   // runs on the harness thread
  void run_posted();
  template <class Reply, class Handle, class... Ts>
  void ask(const Handle& dest, caf::timespan timeout,
           std::function<void(std::optional<Reply>, std::string)> done,
           Ts... xs);

  void start_client(size_t i);
  void fetch(size_t i);
  void publish_to_mirrors();
  void on_written(const std::string& site, const std::string& file,
                  uint64_t offset, size_t len, bool ok);
  void on_completed(const std::string& site, const std::string& file);
  client_info* client(const std::string& name);
  void poll_placement();
  void poll_supervisor(const std::string& node);
  void check_conditions();
  void track_faults();
  // faults
  std::string resolve(const std::string& target);
  std::string site_of(const std::string& target) const;
  void apply(fault& f);
  void kill_target(const std::string& target, bool hard);
  void restart_target(const std::string& target);
  /// Asks the supervisor of `target` to `verb` (kill_atom/restart_atom and
  /// its arguments after the child's name); a failure is noted.
  template <class Atom, class... Ts>
  void to_supervisor(const std::string& verb, const std::string& target,
                     Atom atom, Ts... xs);
  supervisor_actor supervisor_of(const std::string& target,
                                 std::string& child) const;
  void collect_end();

  scenario_config& cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  caf::scheduler::test_coordinator* sched_ = nullptr;
  std::string tmp_;
  std::shared_ptr<sim_disk> disk_;
  std::shared_ptr<network> net_;
  tracker_node tracker_;
  std::vector<mirror_site> mirrors_;
  std::map<std::string, std::string> mirror_node_of_;  // mirror id -> site
  std::vector<client_info> clients_;
  std::map<std::string, size_t> client_index_;
  std::vector<fault> faults_;
  std::map<std::string, uint32_t> piece_sizes_;         // by file name
  std::map<std::string, uint64_t> file_sizes_;
  caf::actor_clock::time_point t0_;
  std::multimap<caf::timespan, action> actions_;
  mutable std::mutex posted_mtx_;
  std::deque<action> posted_;
  sha256_stream trace_;
  std::string trace_buf_;  // trace lines not hashed yet
  void flush_trace();
  uint64_t events_ = 0;
  std::map<std::string, outcome::profile_line> profile_;
  uint64_t rng_state_ = 0;
  bool publishing_ = false;        // the mirrors' publisher is at work
  bool published_ = false;
  size_t asks_in_flight_ = 0;
  // figures
  std::map<int64_t, uint64_t> bytes_per_tenth_;
  std::vector<replica_sample> replicas_;
  std::vector<std::string> part_names_;
  std::map<std::string, std::string> mirror_health_;
  std::map<std::string, caf::timespan> mirror_dead_at_;
  /// Each placement poll: when, and whether some part was short.
  std::vector<std::pair<caf::timespan, bool>> polls_;
  /// The first poll at or after `when` that found every part on R live
  /// mirrors; -1 if none.
  caf::timespan full_after(caf::timespan when) const;
  bool under_replicated_ = false;
  /// finished(): clients before this one are done.
  mutable size_t waiting_from_ = 0;
  std::map<std::string, supervised> supervision_;
  std::vector<std::string> log_;
  std::set<std::string> catalog_;
  bool catalog_checked_ = false;
  mutable std::mutex mtx_;          // what observers update (real time)
};

/// Peak resident memory of this process (VmHWM), KiB.
uint64_t peak_rss_kib();

} // namespace actorrent::sim
