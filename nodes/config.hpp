// Node configuration: one config class for every node kind, loaded from an
// INI file whose keys are validated (CAF 0.17 silently ignores unknown keys in
// files), then overridden by `--category.key=value` on the command line.
#pragma once

#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/timespan.hpp>

#include "actors/core/guard.hpp"
#include "actors/core/endpoint.hpp"

namespace actorrent {

struct node_config : caf::actor_system_config {
  // [tracker]
  std::string tracker_host = "127.0.0.1";
  uint16_t tracker_port = 6881;
  uint16_t tracker_control_port = 6880;
  std::string tracker_db = "tracker.db";
  uint32_t tracker_heartbeat_ms = 1000;
  uint32_t tracker_offline_ms = 2500;
  uint64_t tracker_max_file_size = uint64_t{64} << 30;
  uint32_t tracker_max_pieces = uint32_t{1} << 20;
  std::string tracker_control_token_file;
  // [placement] (tracker nodes)
  uint32_t placement_replicas = 5;
  uint64_t placement_part_size = uint64_t{64} << 20;
  uint32_t placement_dead_after_ms = 3000;
  uint32_t placement_max_copies_per_mirror = 2;
  // [mirror]
  std::string mirror_tracker = "127.0.0.1:6881";
  std::string mirror_host = "127.0.0.1";
  uint16_t mirror_port = 0;
  uint16_t mirror_control_port = 0;
  std::string mirror_data_dir = "mirror-data";
  std::string mirror_ids = "[\"m00\"]";
  std::string mirror_control_token_file;
  uint64_t mirror_capacity = uint64_t{100} << 30;
  uint32_t mirror_heartbeat_ms = 500;
  uint32_t mirror_scrub_interval_ms = 5000;
  // [peer]
  std::string peer_tracker = "127.0.0.1:6881";
  std::string peer_host = "127.0.0.1";
  uint16_t peer_port = 0;
  uint16_t peer_control_port = 0;
  std::string peer_share_dir = "share";
  std::string peer_download_dir = "downloads";
  std::string peer_state_db = "peer.db";
  uint32_t peer_piece_size = 1 << 20;
  uint32_t peer_window = 8;
  uint32_t peer_request_timeout_ms = 10000;
  uint64_t peer_upload_limit = 0;
  uint32_t peer_serve_cache_mib = 64;
  std::string peer_streams = "true"; // true or false, as guard_enabled
  std::string peer_direct_writes = "true"; // true or false
  uint32_t peer_write_behind_mib = 0;
  uint16_t peer_stream_port = 0;
  std::string peer_control_token_file;
  // [log]
  std::string log_level = "info";
  // [guard] (every node kind)
  std::string guard_enabled = "true"; // CAF 0.17 takes no value for bools
  uint32_t guard_max_per_address = 256;
  uint32_t guard_max_connections = 1024;
  uint32_t guard_handshake_ms = 5000;
  uint64_t guard_max_message = 0; // set from limits.hpp
  uint64_t guard_in_flight = uint64_t{256} << 20;

  node_config();
  const caf::config_option_set& options() const { return custom_options_; }
};

/// Where a config key is allowed: the categories of each node kind.
std::vector<std::string> categories_of(const std::string& kind);

/// Loads `--config FILE` (if given) and then the command line. Returns 0 when
/// the node may start, otherwise prints a message naming the file, line and
/// key (or option) to stderr and returns the exit code: 2 for bad usage or
/// config, 0 when only help was printed (`done` is then set).
int load_config(node_config& cfg, const std::string& kind,
                std::vector<std::string> args, bool& done);

/// The control token kept in `path` (setting `key`): read when the file
/// exists, made (32 random bytes as hex, mode 0600) when it does not; empty
/// `path`: no token. Returns 0, or 2 after naming the problem on stderr (a
/// file other users may read or write, an unreadable file).
int control_token_from(const std::string& path, const char* key,
                       std::string& token);

/// Checks one INI text; returns the CLI arguments it stands for or an error
/// message "FILE:LINE: ..." in `error`.
std::vector<std::string>
ini_to_args(const node_config& cfg, const std::vector<std::string>& categories,
            const std::string& file, const std::string& text,
            std::string& error);

/// The guard in front of the node's published ports, from [guard] (checked
/// by load_config).
guard_options guard_of(const node_config& cfg);

/// Splits "host:port"; false when malformed.
bool split_endpoint(const std::string& text, std::string& host,
                    uint16_t& port);

/// One "host:port" or a list of them (`["h:p", "h:p"]`, quotes optional):
/// the trackers of `peer.tracker` and `mirror.tracker`. Empty, with `why`
/// naming the entry, when one is malformed.
std::vector<endpoint> split_endpoints(const std::string& text,
                                      std::string& why);

} // namespace actorrent
