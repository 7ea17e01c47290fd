// A simulation scenario: what `actorrent sim --scenario FILE` reads. A CAF
// INI file like every node config, checked the same way (an unknown section
// or key is an error naming the file, line and key); `--set KEY=VALUE`
// overrides one key, `--seed N` the seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nodes/config.hpp"

namespace actorrent::sim {

/// Every key of a scenario file, with its default. The actor system of a
/// simulation is built from it (it is a node_config: the same types).
struct scenario_config : node_config {
  // [sim]
  uint64_t seed = 1;
  std::string mode = "deterministic";  // or "realtime"
  uint32_t duration_ms = 120000;       // virtual time at most
  std::string trace = "types";         // "full": every message's content
  std::string profile = "false";       // "true": wall time per kind of event
                                       // (CAF 0.17 takes no value for bools)
  // [mirrors]
  uint32_t mirrors = 0;
  uint32_t mirrors_per_node = 1;
  uint32_t replicas = 5;
  uint64_t part_size = 4 << 20;
  uint32_t dead_after_ms = 3000;
  uint32_t max_copies_per_mirror = 2;
  uint32_t mirror_heartbeat_ms = 500;
  uint32_t scrub_interval_ms = 5000;
  uint64_t mirror_capacity = uint64_t{100} << 30;
  // [clients]
  uint32_t clients = 4;
  std::string arrival = "all";        // or "poisson"
  double rate = 10;                   // arrivals per second (poisson)
  uint32_t window = 8;
  uint32_t request_timeout_ms = 10000;
  std::string state_db = "disk";      // or "memory"
  uint64_t upload_limit = 0;
  /// The tracker's heartbeat-ms and offline-ms (what a node's tracker.*
  /// keys set): how often clients send a heartbeat, and how long a silent
  /// one stays listed as a source.
  uint32_t heartbeat_ms = 1000;
  uint32_t offline_ms = 2500;
  // [files]
  uint32_t files = 4;
  uint64_t file_size = 1 << 20;
  uint32_t piece_size = 64 << 10;
  /// "unique": client i starts with file i; "one-seeder": client 0 holds
  /// every file; "mirrors": client 0 publishes every file to the mirrors
  /// and leaves once they hold it.
  std::string seeding = "unique";
  // [link]
  uint64_t client_up = 12500000;      // bytes per second
  uint64_t client_down = 12500000;
  uint64_t server_up = 125000000;     // tracker and mirrors
  uint64_t server_down = 125000000;
  uint32_t latency_ms = 20;           // one way
  uint32_t latency_spread_ms = 0;     // each site: latency +- spread (seeded)
  uint32_t connection_timeout_ms = 3000;
  // [faults]
  std::vector<std::string> faults;
  // [invariants]
  uint32_t repair_bound_ms = 30000;

  scenario_config();
};

/// The categories a scenario file may use.
std::vector<std::string> scenario_categories();

/// Loads FILE, then `sets` ("key=value" with key "category.name") and the
/// seed (when `seed` is not empty). Returns "" or what is wrong (naming
/// the file, line and key): exit code 2.
std::string load_scenario(scenario_config& cfg, const std::string& file,
                          const std::vector<std::string>& sets,
                          const std::string& seed);

/// Checks values that parse but make no sense (0 clients, pieces larger
/// than files, unknown modes); "" or what is wrong.
std::string check_scenario(const scenario_config& cfg);

} // namespace actorrent::sim
