#include "nodes/config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>

#include <caf/config_option_set.hpp>

#include "actors/core/log.hpp"
#include "actors/core/ticket.hpp"
#include "actors/types.hpp"

namespace actorrent {

node_config::node_config() {
  register_types(*this);
  set("middleman.app-identifiers",
      std::vector<std::string>{protocol_version});
  // Heartbeats are off by default in CAF 0.17: a hung node would never be
  // noticed. With them on, a silent connection ends after 3 s.
  set("middleman.heartbeat-interval", caf::timespan{std::chrono::milliseconds(500)});
  set("middleman.connection-timeout", caf::timespan{std::chrono::seconds(3)});
  set("scheduler.max-threads", 2);
  // Work sharing, not CAF's default work stealing: idle stealing workers
  // poll, which on 2 cores shared by several nodes costs the busy ones
  // their CPU (scenario (c): 14.1 -> 7.5 CPU s per GiB), and stealing
  // collapses under many timers.
  set("scheduler.policy", caf::atom("sharing"));
  set("logger.verbosity", caf::atom("quiet"));
  set("logger.console", caf::atom("none"));
  opt_group{custom_options_, "tracker"}
    .add(tracker_host, "host", "address the tracker listens on")
    .add(tracker_port, "port", "port of the tracker actor")
    .add(tracker_control_port, "control-port",
         "port of the control actor (ctl --node 127.0.0.1:PORT), loopback only")
    .add(tracker_db, "db", "SQLite database file of the catalog")
    .add(tracker_heartbeat_ms, "heartbeat-ms", "peers send a heartbeat this often")
    .add(tracker_offline_ms, "offline-ms",
         "a peer silent this long is marked offline")
    .add(tracker_max_file_size, "max-file-size",
         "largest file the catalog accepts, in bytes")
    .add(tracker_max_pieces, "max-pieces",
         "most pieces per file the catalog accepts")
    .add(tracker_control_token_file, "control-token-file",
         "file with the secret every control request must carry (made if"
         " missing, owner-only)");

  opt_group{custom_options_, "placement"}
    .add(placement_replicas, "replicas", "mirrors that hold each part")
    .add(placement_part_size, "part-size",
         "bytes per part of a file published to the mirrors")
    .add(placement_dead_after_ms, "dead-after-ms",
         "a mirror silent this long is dead; its parts are copied again")
    .add(placement_max_copies_per_mirror, "max-copies-per-mirror",
         "re-replication copies to one mirror at once");
  opt_group{custom_options_, "mirror"}
    .add(mirror_tracker, "tracker",
         "host:port of the tracker (placement), or a list [\"h:p\", ...]")
    .add(mirror_host, "host", "address the mirror node listens on")
    .add(mirror_port, "port", "port of the mirror node (0: any free port)")
    .add(mirror_control_port, "control-port",
         "port of the control actor, loopback only (0: any free port)")
    .add(mirror_data_dir, "data-dir", "one directory per mirror under it")
    .add(mirror_ids, "ids", "the mirrors this node hosts: [\"m00\", ...]")
    .add(mirror_capacity, "capacity", "bytes each mirror may store")
    .add(mirror_heartbeat_ms, "heartbeat-ms",
         "mirrors send placement a heartbeat this often")
    .add(mirror_scrub_interval_ms, "scrub-interval-ms",
         "each mirror re-checks one stored piece this often")
    .add(mirror_control_token_file, "control-token-file",
         "file with the secret every control request must carry (made if"
         " missing, owner-only)");
  opt_group{custom_options_, "peer"}
    .add(peer_tracker, "tracker",
         "host:port of the tracker, or a list [\"h:p\", ...] tried in turn")
    .add(peer_host, "host", "address the piece server listens on and announces")
    .add(peer_port, "port", "port of the piece server (0: any free port)")
    .add(peer_control_port, "control-port",
         "port of the control actor, loopback only (0: any free port)")
    .add(peer_share_dir, "share-dir", "every file in it is shared")
    .add(peer_download_dir, "download-dir", "where fetched files go")
    .add(peer_state_db, "state-db", "SQLite file: hash cache and downloads")
    .add(peer_piece_size, "piece-size", "piece size of files this peer shares")
    .add(peer_window, "window", "piece requests in flight per source")
    .add(peer_control_token_file, "control-token-file",
         "file with the secret every control request must carry (made if"
         " missing, owner-only)")
    .add(peer_request_timeout_ms, "request-timeout-ms",
         "a piece request not answered in this time fails over")
    .add(peer_upload_limit, "upload-limit",
         "bytes per second this peer serves at most (0: no limit)")
    .add(peer_serve_cache_mib, "serve-cache-mib",
         "MiB of just-verified pieces kept in memory for serving (0: none)")
    .add(peer_streams, "streams",
         "serve and fetch piece bytes over TCP connections of their own"
         " (false: as CAF messages only)")
    .add(peer_direct_writes, "direct-writes",
         "write verified pieces with O_DIRECT, past the page cache (false:"
         " through the page cache, written back later by the kernel)")
    .add(peer_write_behind_mib, "write-behind-mib",
         "MiB of verified pieces written through the page cache and pushed"
         " to the disk by a thread of their own, ahead of O_DIRECT writes"
         " (0: none)")
    .add(peer_stream_port, "stream-port",
         "port of the piece stream (0: a free one; told to downloaders"
         " through the peer port)");
  opt_group{custom_options_, "log"}.add(log_level, "level",
                                        "debug, info, warn or error");
  guard_max_message = default_max_message();
  opt_group{custom_options_, "guard"}
    .add(guard_enabled, "enabled",
         "true: a guard in front of every published port; false: CAF"
         " listens on them itself")
    .add(guard_max_per_address, "max-per-address",
         "connections from one remote address at most")
    .add(guard_max_connections, "max-connections",
         "connections to the node in all at most")
    .add(guard_handshake_ms, "handshake-ms",
         "a connection that has not finished its handshake by then is closed")
    .add(guard_max_message, "max-message",
         "a connection whose message header announces more bytes is closed")
    .add(guard_in_flight, "in-flight",
         "bytes of messages over 64 KiB on their way in at once, all"
         " connections together");
}

std::vector<std::string> categories_of(const std::string& kind) {
  // `fetch` is a peer that downloads and exits: it takes the peer's keys.
  if (kind == "tracker")
    return {"tracker", "placement", "log", "guard", "middleman", "scheduler"};
  if (kind == "mirror")
    return {"mirror", "log", "guard", "middleman", "scheduler"};
  return {"peer", "log", "guard", "middleman", "scheduler"};
}

namespace {

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos)
    return {};
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

} // namespace

std::vector<std::string>
ini_to_args(const node_config& cfg, const std::vector<std::string>& categories,
            const std::string& file, const std::string& text,
            std::string& error) {
  std::vector<std::string> out;
  std::istringstream in{text};
  std::string line;
  std::string section;
  int lineno = 0;
  auto fail = [&](const std::string& msg) {
    error = file + ":" + std::to_string(lineno) + ": " + msg;
    return std::vector<std::string>{};
  };
  while (std::getline(in, line)) {
    ++lineno;
    auto l = trim(line);
    if (l.empty() || l[0] == ';' || l[0] == '#')
      continue;
    if (l[0] == '[') {
      if (l.back() != ']')
        return fail("malformed section header '" + l + "'");
      section = trim(l.substr(1, l.size() - 2));
      if (std::find(categories.begin(), categories.end(), section)
          == categories.end())
        return fail("unknown section [" + section + "]");
      continue;
    }
    auto eq = l.find('=');
    if (eq == std::string::npos)
      return fail("expected key=value, got '" + l + "'");
    auto key = trim(l.substr(0, eq));
    auto value = trim(l.substr(eq + 1));
    if (section.empty())
      return fail("key '" + key + "' outside of a [section]");
    auto full = section + "." + key;
    auto opt = cfg.options().qualified_name_lookup(section, key);
    if (opt == nullptr)
      return fail("unknown key '" + full + "'");
    std::string type{opt->type_name().data(), opt->type_name().size()};
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"'
        && type == "string")
      value = value.substr(1, value.size() - 2);
    if (type != "string") {
      if (auto parsed = opt->parse(value); !parsed)
        return fail("malformed value '" + value + "' for key '" + full
                    + "' (expected " + type + ")");
    }
    out.push_back("--" + full + "=" + value);
  }
  return out;
}

guard_options guard_of(const node_config& cfg) {
  guard_options out;
  out.enabled = cfg.guard_enabled != "false";
  out.max_per_address = cfg.guard_max_per_address;
  out.max_connections = cfg.guard_max_connections;
  out.handshake_ms = std::chrono::milliseconds(cfg.guard_handshake_ms);
  out.max_message = cfg.guard_max_message;
  out.in_flight = cfg.guard_in_flight;
  return out;
}

bool split_endpoint(const std::string& text, std::string& host,
                    uint16_t& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return false;
  host = text.substr(0, colon);
  auto p = text.substr(colon + 1);
  if (!std::all_of(p.begin(), p.end(), ::isdigit) || p.size() > 5)
    return false;
  auto n = std::stoul(p);
  if (n == 0 || n > 65535)
    return false;
  port = static_cast<uint16_t>(n);
  return true;
}

std::vector<endpoint> split_endpoints(const std::string& text,
                                      std::string& why) {
  auto t = trim(text);
  std::vector<std::string> items;
  if (t.size() >= 2 && t.front() == '[' && t.back() == ']') {
    std::stringstream in{t.substr(1, t.size() - 2)};
    std::string item;
    while (std::getline(in, item, ','))
      items.push_back(item);
  } else {
    items.push_back(t);
  }
  std::vector<endpoint> out;
  for (auto item : items) {
    item = trim(item);
    if (item.size() >= 2 && item.front() == '"' && item.back() == '"')
      item = item.substr(1, item.size() - 2);
    endpoint e;
    if (!split_endpoint(item, e.host, e.port)) {
      why = "expected host:port or a list [\"host:port\", ...], got '" + item
            + "'";
      return {};
    }
    out.push_back(std::move(e));
  }
  return out;
}

void print_help(const node_config& cfg, const std::string& kind) {
  std::cout << "usage: actorrent " << kind
            << " [--config FILE] [--CATEGORY.KEY=VALUE...]\n\n"
               "Keys may be set in the config file ([CATEGORY] then KEY=VALUE)\n"
               "or on the command line, which wins. Unknown keys are errors.\n\n";
  auto cats = categories_of(kind);
  for (auto& cat : cats)
    for (auto& opt : cfg.options()) {
      if (cat == "middleman" || cat == "scheduler"
          || std::string{opt.category().data(), opt.category().size()} != cat)
        continue;
      std::string name = "--" + cat + "."
                         + std::string{opt.long_name().data(),
                                       opt.long_name().size()}
                         + "=<"
                         + std::string{opt.type_name().data(),
                                       opt.type_name().size()}
                         + ">";
      std::cout << "  " << name << std::string(name.size() < 34 ? 34 - name.size() : 1, ' ')
                << std::string{opt.description().data(),
                               opt.description().size()};
      if (auto v = opt.get())
        std::cout << " (default: " << caf::to_string(*v) << ")";
      std::cout << "\n";
    }
  std::cout << "\nAlso: [middleman] and [scheduler] keys of CAF, e.g.\n"
               "  --middleman.heartbeat-interval=500ms\n";
}

int load_config(node_config& cfg, const std::string& kind,
                std::vector<std::string> args, bool& done) {
  done = false;
  for (auto& a : args)
    if (a == "-h" || a == "--help") {
      print_help(cfg, kind);
      done = true;
      return 0;
    }
  std::vector<std::string> file_args;
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string path;
    if (args[i] == "--config") {
      if (i + 1 == args.size()) {
        std::cerr << "error: --config needs a file name\n";
        return 2;
      }
      path = args[++i];
    } else if (args[i].rfind("--config=", 0) == 0) {
      path = args[i].substr(9);
    } else {
      rest.push_back(args[i]);
      continue;
    }
    std::ifstream f{path};
    if (!f) {
      std::cerr << "error: cannot read config file " << path << "\n";
      return 2;
    }
    std::stringstream ss;
    ss << f.rdbuf();
    std::string err;
    auto xs = ini_to_args(cfg, categories_of(kind), path, ss.str(), err);
    if (!err.empty()) {
      std::cerr << "error: " << err << "\n";
      return 2;
    }
    file_args.insert(file_args.end(), xs.begin(), xs.end());
  }
  // Options of the other node kinds are refused on the command line too.
  auto allowed = categories_of(kind);
  for (auto& a : rest) {
    if (a.rfind("--", 0) != 0 || a.find('.') == std::string::npos)
      continue;
    auto cat = a.substr(2, a.find('.') - 2);
    if (std::find(allowed.begin(), allowed.end(), cat) == allowed.end()
        && cat.find('=') == std::string::npos) {
      std::cerr << "error: option " << a << " does not apply to `actorrent "
                << kind << "`\n";
      return 2;
    }
  }
  file_args.insert(file_args.end(), rest.begin(), rest.end());
  std::istringstream no_file;
  if (auto err = cfg.parse(file_args, no_file)) {
    std::cerr << "error: " << cfg.render(err) << "\n";
    return 2;
  }
  if (cfg.cli_helptext_printed) {
    done = true;
    return 0;
  }
  if (!cfg.remainder.empty()) {
    std::cerr << "error: unexpected argument '" << cfg.remainder.front()
              << "'\n";
    return 2;
  }
  log::level lvl;
  if (!log::parse_level(cfg.log_level, lvl)) {
    std::cerr << "error: log.level: expected debug, info, warn or error, got '"
              << cfg.log_level << "'\n";
    return 2;
  }
  for (auto [value, key] : {std::pair{&cfg.guard_enabled, "guard.enabled"},
                             std::pair{&cfg.peer_streams, "peer.streams"},
                             std::pair{&cfg.peer_direct_writes,
                                       "peer.direct-writes"}})
    if (*value != "true" && *value != "false") {
      std::cerr << "error: " << key << ": expected true or false, got '"
                << value->substr(0, 64) << "'\n";
      return 2;
    }
  using bound = std::pair<uint64_t, const char*>;
  for (auto [value, key] : std::initializer_list<bound>{
         {cfg.guard_max_per_address, "guard.max-per-address"},
         {cfg.guard_max_connections, "guard.max-connections"},
         {cfg.guard_handshake_ms, "guard.handshake-ms"},
         {cfg.guard_max_message, "guard.max-message"},
         {cfg.guard_in_flight, "guard.in-flight"}})
    if (value == 0) {
      std::cerr << "error: " << key << ": must be positive\n";
      return 2;
    }
  if (cfg.peer_write_behind_mib > 16384) {
    std::cerr << "error: peer.write-behind-mib: at most 16384 (16 GiB), got "
              << cfg.peer_write_behind_mib << "\n";
    return 2;
  }
  // Log lines name the node by its address when it has a fixed one.
  std::string node = kind;
  if (kind == "tracker")
    node += "@" + cfg.tracker_host + ":" + std::to_string(cfg.tracker_port);
  else if (kind == "peer" && cfg.peer_port != 0)
    node += "@" + cfg.peer_host + ":" + std::to_string(cfg.peer_port);
  log::setup(node, lvl);
  return 0;
}

int control_token_from(const std::string& path, const char* key,
                       std::string& token) {
  token.clear();
  if (path.empty())
    return 0;
  auto fail = [&](const std::string& why) {
    std::cerr << "error: " << key << ": " << path << ": " << why << "\n";
    return 2;
  };
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd >= 0) {
    auto made = random_token(system_random()) + "\n";
    bool ok = ::write(fd, made.data(), made.size())
              == static_cast<ssize_t>(made.size());
    ::close(fd);
    if (!ok)
      return fail("cannot write the token");
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return fail("cannot read the token file");
  if (st.st_uid != ::getuid())
    return fail("the token file belongs to another user");
  if ((st.st_mode & 077) != 0)
    return fail("other users may read or write the token file (chmod 600)");
  std::ifstream in{path};
  std::getline(in, token);
  if (token.size() < 16 || token.size() > 1024)
    return fail("the token must have 16 to 1024 characters on its first line");
  return 0;
}

} // namespace actorrent
