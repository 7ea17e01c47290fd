#include "nodes/nodes.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "nodes/config.hpp"
#include "actors/node/control.hpp"
#include "actors/core/json.hpp"
#include "actors/core/manifest.hpp"
#include "actors/peer/library.hpp"
#include "actors/core/log.hpp"
#include "actors/peer/peer.hpp"
#include "actors/transfer/piece_server.hpp"
#include "actors/node/supervisor.hpp"
#include "actors/store/catalog_store.hpp"
#include "actors/store/sql.hpp"
#include "actors/tracker/tracker.hpp"
#include "nodes/commands.hpp"
#include "nodes/replies.hpp"
#include "nodes/wiring.hpp"

namespace actorrent {

namespace {

// Blocks SIGINT/SIGTERM in every thread; the main thread waits for them.
sigset_t block_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

void wait_for_signal(const sigset_t& set) {
  int sig = 0;
  sigwait(&set, &sig);
}

// Start-up of tracker.db: the catalog opens (created if missing): 0. A
// PostgreSQL catalog that is unavailable (no server answers, one is
// starting, only standbys answer) is waited for, before the tracker
// publishes anything (peers listing several trackers use another one
// meanwhile): attempts 250 ms apart, doubling to 5 s, a warning when the
// reason changes (not on every attempt), until it opens or SIGINT/SIGTERM
// ends the wait (1). Any other failure is a configuration error (2).
int open_catalog(const std::string& db, const sigset_t& signals) {
  auto wait = std::chrono::milliseconds{250};
  std::string last;
  for (int attempt = 1;; ++attempt) {
    try {
      open_catalog_store(db);
      if (attempt > 1)
        LOG_INFO("node", "tracker.db reachable after " << attempt
                                                       << " attempts");
      return 0;
    } catch (const sql::unavailable& e) {
      if (e.what() != last)
        LOG_WARN("node", "tracker.db unavailable, waiting for it (attempt "
                           << attempt << ", again every " << wait.count()
                           << " ms up to 5000): " << e.what());
      last = e.what();
    } catch (const std::exception& e) {
      std::cerr << "error: tracker.db: " << e.what() << "\n";
      return 2;
    }
    timespec ts{static_cast<time_t>(wait.count() / 1000),
                static_cast<long>(wait.count() % 1000) * 1000000L};
    if (sigtimedwait(&signals, nullptr, &ts) > 0) {
      std::cerr << "error: tracker.db: still unavailable when stopped: "
                << last << "\n";
      return 1;
    }
    wait = std::min(wait * 2, std::chrono::milliseconds{5000});
  }
}

// The interactive shell of a node: reads command lines from stdin and sends
// them to the control actor.
void shell(caf::actor_system& sys, control_actor ctl, std::string token) {
  caf::scoped_actor self{sys};
  std::string line;
  std::cout << "actorrent> " << std::flush;
  while (std::getline(std::cin, line)) {
    std::vector<std::string> args;
    std::istringstream in{line};
    std::string word;
    while (in >> word)
      args.push_back(word);
    if (!args.empty()) {
      auto out = run_command(self, ctl, parse_command(args),
                             std::chrono::seconds(600), token);
      std::cout << out.text;
      if (args[0] == "quit" && out.code == 0)
        return;
    }
    std::cout << "actorrent> " << std::flush;
  }
  ::kill(::getpid(), SIGTERM);
}

// Serves until SIGINT/SIGTERM, then stops the node's actors and exits. A node
// that could not start (`err`) is a config error: exit code 2.
template <class Node>
[[noreturn]] void serve(caf::actor_system& sys, const sigset_t& signals,
                        Node& node, const std::string& err,
                        const std::string& listening) {
  if (!err.empty()) {
    std::cerr << "error: " << err << "\n";
    stop(sys, node);
    exit_now(2);
  }
  LOG_INFO("node", listening << ", control on 127.0.0.1:"
                             << node.control_port);
  wait_for_signal(signals);
  LOG_INFO("node", "shutting down");
  stop(sys, node);
  exit_now(0);
}

// What every node kind does once its settings are checked: reads its control
// token, starts the actor system, lets `start` spawn and publish the node's
// actors, and serves until a signal. `start` returns an error text (empty:
// started); `listening` describes the started node for the log.
template <class Node, class Start, class Describe>
int run_node(node_config& cfg, const std::string& token_file,
             const char* token_key, Start start, Describe listening) {
  Node node;
  if (auto rc = control_token_from(token_file, token_key, node.control_token))
    return rc;
  auto signals = block_signals();
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  auto err = start(sys, make_node_environment(sys, guard_of(cfg)), node);
  serve(sys, signals, node, err, listening(node));
}


} // namespace

bool wait_for(const std::function<bool()>& pred) {
  for (int i = 0; i < 1000; ++i) {
    if (pred())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

[[noreturn]] void exit_now(int rc) {
  fflush(stdout);
  fflush(stderr);
  std::cout.flush();
  ::_exit(rc);
}

void peer_data_path_from(const node_config& cfg, environment& env,
                         peer_node& node) {
  env.streams = env.streams && cfg.peer_streams == "true";
  env.io = make_disk_io(cfg.peer_direct_writes == "true",
                        size_t{cfg.peer_write_behind_mib} << 20);
  node.stream_port = cfg.peer_stream_port;
}

// Checks the peer settings shared by `peer` and `fetch`.
int peer_options_from(const node_config& cfg, peer_options& opts) {
  std::string why;
  auto trackers = split_endpoints(cfg.peer_tracker, why);
  if (trackers.empty()) {
    std::cerr << "error: peer.tracker: " << why << "\n";
    return 2;
  }
  if (cfg.peer_piece_size < min_piece_size
      || cfg.peer_piece_size > max_piece_size) {
    std::cerr << "error: peer.piece-size: must be between " << min_piece_size
              << " and " << max_piece_size << "\n";
    return 2;
  }
  if (cfg.peer_window == 0) {
    std::cerr << "error: peer.window: must be at least 1\n";
    return 2;
  }
  if (cfg.peer_serve_cache_mib > 16384) {
    std::cerr << "error: peer.serve-cache-mib: at most 16384 (16 GiB), got "
              << cfg.peer_serve_cache_mib << "\n";
    return 2;
  }
  opts.trackers = std::move(trackers);
  opts.host = cfg.peer_host;
  opts.share_dir = cfg.peer_share_dir;
  opts.download_dir = cfg.peer_download_dir;
  opts.state_db = cfg.peer_state_db;
  opts.piece_size = cfg.peer_piece_size;
  opts.window = cfg.peer_window;
  opts.request_timeout_ms = cfg.peer_request_timeout_ms;
  try {
    open_peer_store(opts.state_db);
  } catch (std::exception& e) {
    std::cerr << "error: peer.state-db: " << e.what() << "\n";
    return 2;
  }
  return 0;
}

int run_tracker(std::vector<std::string> args) {
  node_config cfg;
  bool done = false;
  if (auto rc = load_config(cfg, "tracker", std::move(args), done); rc || done)
    return rc;
  if (cfg.placement_replicas == 0 || cfg.placement_replicas > 50) {
    std::cerr << "error: placement.replicas: must be between 1 and 50\n";
    return 2;
  }
  if (cfg.placement_part_size < min_piece_size
      || cfg.placement_part_size > (uint64_t{1} << 31)) {
    std::cerr << "error: placement.part-size: must be between "
              << min_piece_size << " bytes and 2 GiB\n";
    return 2;
  }
  // Waits for an unavailable PostgreSQL catalog (signals blocked first, so
  // SIGINT/SIGTERM end the wait).
  auto signals = block_signals();
  if (auto rc = open_catalog(cfg.tracker_db, signals))
    return rc;
  tracker_options opts;
  opts.db = cfg.tracker_db;
  opts.id = cfg.tracker_host + ":" + std::to_string(cfg.tracker_port);
  opts.heartbeat_ms = cfg.tracker_heartbeat_ms;
  opts.offline_ms = cfg.tracker_offline_ms;
  opts.bounds.max_file_size = cfg.tracker_max_file_size;
  opts.bounds.max_pieces = cfg.tracker_max_pieces;
  if (opts.bounds.max_file_size == 0 || opts.bounds.max_pieces == 0) {
    std::cerr << "error: tracker.max-file-size and tracker.max-pieces must"
                 " be positive\n";
    return 2;
  }
  placement_options popts;
  popts.replicas = cfg.placement_replicas;
  popts.part_size = cfg.placement_part_size;
  popts.dead_after = std::chrono::milliseconds(cfg.placement_dead_after_ms);
  popts.max_copies_per_mirror = cfg.placement_max_copies_per_mirror;
  return run_node<tracker_node>(
    cfg, cfg.tracker_control_token_file, "tracker.control-token-file",
    [&](caf::actor_system& sys, const environment& env, tracker_node& node) {
      return start_tracker(sys, env, opts, cfg.tracker_host, cfg.tracker_port,
                           cfg.tracker_control_port, node, popts);
    },
    [&](const tracker_node& node) {
      return "tracker listening on " + cfg.tracker_host + ":"
             + std::to_string(node.port);
    });
}

int run_peer(std::vector<std::string> args) {
  node_config cfg;
  bool done = false;
  if (auto rc = load_config(cfg, "peer", std::move(args), done); rc || done)
    return rc;
  peer_options opts;
  if (auto rc = peer_options_from(cfg, opts))
    return rc;
  if (!opts.share_dir.empty() && ::access(opts.share_dir.c_str(), R_OK) != 0) {
    std::cerr << "error: peer.share-dir: cannot read directory "
              << opts.share_dir << "\n";
    return 2;
  }
  opts.on_quit = [] { ::kill(::getpid(), SIGTERM); };
  return run_node<peer_node>(
    cfg, cfg.peer_control_token_file, "peer.control-token-file",
    [&](caf::actor_system& sys, const environment& env, peer_node& node) {
      if (cfg.peer_serve_cache_mib > 0)
        node.lib->cache = std::make_shared<piece_cache>(
          size_t{cfg.peer_serve_cache_mib} << 20);
      auto e = env;
      peer_data_path_from(cfg, e, node);
      auto err = start_peer(sys, e, opts, cfg.peer_port,
                            cfg.peer_control_port, cfg.peer_upload_limit, node);
      // The interactive shell; the process ends (and with it the shell) when
      // a signal or `quit` arrives.
      if (err.empty() && ::isatty(STDIN_FILENO))
        std::thread{[&sys, &node] {
          shell(sys, node.ctl, node.control_token);
        }}.detach();
      return err;
    },
    [&](const peer_node& node) {
      return "peer listening on " + cfg.peer_host + ":"
             + std::to_string(node.port);
    });
}

// "[\"m00\", \"m01\"]" or "m00,m01" -> {"m00", "m01"}; empty on a bad id.
std::vector<std::string> parse_ids(const std::string& text, std::string& why) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    auto b = cur.find_first_not_of(" \t\"");
    auto e = cur.find_last_not_of(" \t\"");
    auto id = b == std::string::npos ? "" : cur.substr(b, e - b + 1);
    cur.clear();
    if (id.empty())
      return;
    if (id.size() > 64 || !valid_name(id, why))
      why = "bad mirror id '" + id.substr(0, 64) + "'" + (why.empty() ? "" : ": " + why);
    out.push_back(id);
  };
  for (auto c : text) {
    if (c == '[' || c == ']')
      continue;
    if (c == ',')
      flush();
    else
      cur += c;
  }
  flush();
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end())
    why = "a mirror id appears twice";
  if (out.empty() && why.empty())
    why = "no mirror ids";
  return why.empty() ? out : std::vector<std::string>{};
}

int run_mirror(std::vector<std::string> args) {
  node_config cfg;
  bool done = false;
  if (auto rc = load_config(cfg, "mirror", std::move(args), done); rc || done)
    return rc;
  mirror_node_options opts;
  std::string why;
  opts.ids = parse_ids(cfg.mirror_ids, why);
  if (!why.empty()) {
    std::cerr << "error: mirror.ids: " << why << "\n";
    return 2;
  }
  opts.trackers = split_endpoints(cfg.mirror_tracker, why);
  if (opts.trackers.empty()) {
    std::cerr << "error: mirror.tracker: " << why << "\n";
    return 2;
  }
  if (!make_dirs(cfg.mirror_data_dir)) {
    std::cerr << "error: mirror.data-dir: cannot create "
              << cfg.mirror_data_dir << "\n";
    return 2;
  }
  opts.host = cfg.mirror_host;
  opts.data_dir = cfg.mirror_data_dir;
  opts.capacity = cfg.mirror_capacity;
  opts.heartbeat = std::chrono::milliseconds(std::max(cfg.mirror_heartbeat_ms, 10u));
  opts.scrub_interval
    = std::chrono::milliseconds(std::max(cfg.mirror_scrub_interval_ms, 10u));
  return run_node<mirror_node>(
    cfg, cfg.mirror_control_token_file, "mirror.control-token-file",
    [&](caf::actor_system& sys, const environment& env, mirror_node& node) {
      return start_mirrors(sys, env, opts, cfg.mirror_port,
                           cfg.mirror_control_port, node);
    },
    [&](const mirror_node& node) {
      return "mirror node (" + std::to_string(opts.ids.size())
             + " mirrors) on " + cfg.mirror_host + ":"
             + std::to_string(node.port);
    });
}

int run_ctl(std::vector<std::string> args) {
  bool json = false;
  std::string node, token_file;
  std::vector<std::string> words;
  for (size_t i = 0; i < args.size(); ++i) {
    if (words.empty() && args[i] == "--json")
      json = true;
    else if (words.empty() && args[i] == "--node" && i + 1 < args.size())
      node = args[++i];
    else if (words.empty() && args[i].rfind("--node=", 0) == 0)
      node = args[i].substr(7);
    else if (words.empty() && args[i] == "--token-file" && i + 1 < args.size())
      token_file = args[++i];
    else if (words.empty() && (args[i] == "-h" || args[i] == "--help")) {
      std::cout << "usage: actorrent ctl [--json] [--token-file FILE] --node"
                   " HOST:PORT COMMAND...\n\n"
                   "Sends one command to a node's control port. --json prints\n"
                   "machine-readable output. --token-file: the node's\n"
                   "control-token-file. Exit code: the command's.\n\n"
                << command_help;
      return 0;
    } else
      words.push_back(args[i]);
  }
  std::string host;
  uint16_t port = 0;
  if (words.empty() || !split_endpoint(node, host, port)) {
    std::cerr << "usage: actorrent ctl [--json] --node HOST:PORT COMMAND...\n";
    return 2;
  }
  auto cmd = parse_command(words);
  if (cmd.kind == parsed_command::invalid) {
    std::cerr << cmd.usage << "\n";
    return 2;
  }
  std::string token;
  if (!token_file.empty()) {
    std::ifstream in{token_file};
    if (!in || !std::getline(in, token)) {
      std::cerr << "error: --token-file: cannot read " << token_file << "\n";
      return 2;
    }
  }
  node_config cfg;
  cfg.load<caf::io::middleman>();
  log::setup("ctl", log::level::error);
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto ctl = connect_control(self, host, port, std::chrono::seconds(10));
  if (!ctl) {
    std::cerr << "error: cannot reach node " << node << ": "
              << render(ctl.error()) << "\n";
    return 1;
  }
  auto out = run_command(self, *ctl, cmd, std::chrono::seconds(120), token);
  if (json)
    std::cout << out.json << "\n";
  else if (out.code == 0)
    std::cout << out.text;
  else
    std::cerr << (out.code == 1 ? "error: " + node + ": " : "") << out.text;
  return out.code;
}

} // namespace actorrent
