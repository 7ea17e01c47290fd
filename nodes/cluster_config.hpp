// What `actorrent cluster up` writes: a config file per node (tracker,
// mirror processes, peers) on free loopback ports, and DIR/cluster.json
// listing the nodes for the other cluster commands.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "messages/cluster.pb.h"

namespace actorrent {

struct cluster_options {
  std::string dir;
  uint64_t mirrors = 50;
  uint64_t mirror_processes = 5;
  uint64_t peers = 0;
  uint64_t replicas = 5;
  uint64_t part_size = 64 << 20;
  uint64_t piece_size = 1 << 20;
  uint64_t dead_after_ms = 3000;
  uint64_t max_copies_per_mirror = 2;
  uint64_t capacity = uint64_t{100} << 30;
  uint64_t scrub_interval_ms = 5000;  // one stored piece per interval
  std::string log_level = "info";
};

/// The mirror ids ("m00".., three digits when there are more than 100) split
/// evenly over `processes` (the first ones get one more when it does not
/// divide).
std::vector<std::vector<std::string>> mirror_ids(uint64_t mirrors,
                                                 uint64_t processes);

/// `count` distinct loopback ports that were free a moment ago, below the
/// kernel's ephemeral range when there is room (outgoing connections never
/// take those); empty when the system has none.
std::vector<uint16_t> free_ports(size_t count);

/// Plans the nodes on fresh free ports and writes their config files and
/// data directories under `opts.dir` (absolute). Empty, or what failed.
std::string write_node_configs(const cluster_options& opts,
                               pb::ClusterFile& out);

/// DIR/cluster.json.
std::string cluster_file_path(const std::string& dir);
/// Writes DIR/cluster.json (atomically: a temporary file renamed). Empty,
/// or what failed.
std::string save_cluster(const pb::ClusterFile& file);
/// Reads DIR/cluster.json. Empty, or what is wrong with it.
std::string load_cluster(const std::string& dir, pb::ClusterFile& out);

} // namespace actorrent
