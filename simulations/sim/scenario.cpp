#include "simulations/sim/scenario.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <caf/config_option_set.hpp>

#include "actors/core/manifest.hpp"

namespace actorrent::sim {

scenario_config::scenario_config() {
  // Thousands of simulated actors: only warnings and errors by default.
  log_level = "warn";
  // One thread, virtual time: the deterministic mode. The real-time mode
  // sets the sharing scheduler before the actor system is made.
  opt_group{custom_options_, "sim"}
    .add(seed, "seed", "seeds every random choice (same seed, same run)")
    .add(mode, "mode", "deterministic (virtual time) or realtime (threads)")
    .add(duration_ms, "duration-ms", "the run ends at this (virtual) time")
    .add(trace, "trace",
         "what enters the trace digest: types (receiver, time, types) or full")
    .add(profile, "profile",
         "deterministic mode: time every event by receiver and message kind"
         " and list the costliest kinds in the summary");
  opt_group{custom_options_, "mirrors"}
    .add(mirrors, "count", "mirror servers")
    .add(mirrors_per_node, "per-node", "mirrors hosted by one mirror node")
    .add(replicas, "replicas", "mirrors holding each part (R)")
    .add(part_size, "part-size", "bytes per part (whole pieces)")
    .add(dead_after_ms, "dead-after-ms", "placement declares a silent mirror dead")
    .add(max_copies_per_mirror, "max-copies-per-mirror",
         "re-replication copies to one mirror at once")
    .add(mirror_heartbeat_ms, "heartbeat-ms", "mirror heartbeats to placement")
    .add(scrub_interval_ms, "scrub-interval-ms", "one stored piece re-hashed per interval")
    .add(mirror_capacity, "capacity", "bytes each mirror may store");
  opt_group{custom_options_, "clients"}
    .add(clients, "count", "clients (peers)")
    .add(arrival, "arrival", "all (at time 0) or poisson")
    .add(rate, "rate", "poisson: clients arriving per second")
    .add(window, "window", "piece requests in flight per source")
    .add(request_timeout_ms, "request-timeout-ms", "a piece request fails over after this")
    .add(state_db, "state-db", "disk (SQLite files) or memory (each peer's state in memory)")
    .add(upload_limit, "upload-limit", "bytes per second a client serves (0: no limit)")
    .add(heartbeat_ms, "heartbeat-ms",
         "clients send the tracker a heartbeat this often (tracker.heartbeat-ms)")
    .add(offline_ms, "offline-ms",
         "a client silent this long is offline at the tracker (tracker.offline-ms)");
  opt_group{custom_options_, "files"}
    .add(files, "count", "files")
    .add(file_size, "size", "bytes per file")
    .add(piece_size, "piece-size", "bytes per piece")
    .add(seeding, "seeding",
         "unique (client i has file i), one-seeder (client 0 has all) or"
         " mirrors (client 0 publishes all to the mirrors and leaves)");
  opt_group{custom_options_, "link"}
    .add(client_up, "client-up", "client upload, bytes per second")
    .add(client_down, "client-down", "client download, bytes per second")
    .add(server_up, "server-up", "tracker and mirror upload, bytes per second")
    .add(server_down, "server-down", "tracker and mirror download, bytes per second")
    .add(latency_ms, "latency-ms", "one-way latency of every site")
    .add(latency_spread_ms, "latency-spread-ms",
         "each site's latency is latency-ms +- up to this (seeded)")
    .add(connection_timeout_ms, "connection-timeout-ms",
         "a connection across a partition or to a hung site ends after this");
  opt_group{custom_options_, "faults"}.add(
    faults, "schedule",
    "[\"WHEN ACTION TARGET...\", ...]: WHEN is 5s, 1500ms or client-3@50%");
  opt_group{custom_options_, "invariants"}.add(
    repair_bound_ms, "repair-bound-ms",
    "after a mirror dies, every part is on R live mirrors within this");
}

std::vector<std::string> scenario_categories() {
  return {"sim", "mirrors", "clients", "files", "link", "faults", "invariants",
          "log"};
}

std::string load_scenario(scenario_config& cfg, const std::string& file,
                          const std::vector<std::string>& sets,
                          const std::string& seed) {
  std::ifstream f{file};
  if (!f)
    return "cannot read scenario file " + file;
  std::stringstream ss;
  ss << f.rdbuf();
  std::string err;
  auto cats = scenario_categories();
  auto args = ini_to_args(cfg, cats, file, ss.str(), err);
  if (!err.empty())
    return err;
  for (auto& s : sets) {
    auto eq = s.find('=');
    auto dot = s.find('.');
    if (eq == std::string::npos || dot == std::string::npos || dot > eq)
      return "--set " + s + ": expected CATEGORY.KEY=VALUE";
    auto cat = s.substr(0, dot);
    auto key = s.substr(dot + 1, eq - dot - 1);
    if (std::find(cats.begin(), cats.end(), cat) == cats.end()
        || cfg.options().qualified_name_lookup(cat, key) == nullptr)
      return "--set: unknown key '" + s.substr(0, eq) + "'";
    args.push_back("--" + s);
  }
  if (!seed.empty())
    args.push_back("--sim.seed=" + seed);
  std::istringstream no_file;
  if (auto e = cfg.parse(args, no_file))
    return cfg.render(e);
  if (!cfg.remainder.empty())
    return "unexpected argument '" + cfg.remainder.front() + "'";
  return check_scenario(cfg);
}

std::string check_scenario(const scenario_config& c) {
  auto one_of = [](const std::string& v, std::initializer_list<const char*> xs) {
    return std::any_of(xs.begin(), xs.end(), [&](const char* x) { return v == x; });
  };
  if (!one_of(c.mode, {"deterministic", "realtime"}))
    return "sim.mode: expected deterministic or realtime, got '" + c.mode + "'";
  if (!one_of(c.profile, {"true", "false"}))
    return "sim.profile: expected true or false, got '" + c.profile + "'";
  if (c.profile == "true" && c.mode != "deterministic")
    return "sim.profile: only in deterministic mode (one thread runs every"
           " event)";
  if (!one_of(c.trace, {"types", "full"}))
    return "sim.trace: expected types or full, got '" + c.trace + "'";
  if (!one_of(c.arrival, {"all", "poisson"}))
    return "clients.arrival: expected all or poisson, got '" + c.arrival + "'";
  if (!one_of(c.state_db, {"disk", "memory"}))
    return "clients.state-db: expected disk or memory, got '" + c.state_db + "'";
  if (!one_of(c.seeding, {"unique", "one-seeder", "mirrors"}))
    return "files.seeding: expected unique, one-seeder or mirrors, got '"
           + c.seeding + "'";
  if (c.clients == 0)
    return "clients.count: at least 1";
  if (c.heartbeat_ms < 10 || c.offline_ms <= c.heartbeat_ms)
    return "clients.heartbeat-ms: at least 10, and clients.offline-ms above it";
  if (c.files == 0)
    return "files.count: at least 1";
  if (c.seeding == "unique" && c.files > c.clients)
    return "files.seeding=unique needs at least as many clients as files";
  if (c.seeding == "mirrors" && c.mirrors == 0)
    return "files.seeding=mirrors needs mirrors.count > 0";
  if (c.piece_size < min_piece_size || c.piece_size > max_piece_size)
    return "files.piece-size: 4 KiB .. 16 MiB";
  if (c.file_size == 0)
    return "files.size: at least 1 byte";
  if (c.mirrors > 0 && (c.part_size == 0 || c.part_size % c.piece_size != 0))
    return "mirrors.part-size: a multiple of files.piece-size";
  if (c.mirrors_per_node == 0)
    return "mirrors.per-node: at least 1";
  if (c.arrival == "poisson" && !(c.rate > 0))
    return "clients.rate: above 0 for poisson arrivals";
  if (c.client_up == 0 || c.client_down == 0 || c.server_up == 0
      || c.server_down == 0)
    return "link: bandwidths above 0";
  if (c.duration_ms == 0)
    return "sim.duration-ms: above 0";
  return {};
}

} // namespace actorrent::sim
