#include "nodes/nodes.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
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
#include "actors/peer/library.hpp"
#include "actors/core/log.hpp"
#include "actors/peer/peer.hpp"
#include "actors/transfer/piece_server.hpp"
#include "actors/node/supervisor.hpp"
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

// Polls `pred` every 10 ms for at most 10 s.
template <class Pred>
bool wait_for(Pred pred) {
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

// The interactive shell of a node: reads command lines from stdin and sends
// them to the control actor.
void shell(caf::actor_system& sys, control_actor ctl) {
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
                             std::chrono::seconds(600));
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

// Checks the peer settings shared by `peer` and `fetch`.
int peer_options_from(const node_config& cfg, peer_options& opts) {
  endpoint tracker;
  if (!split_endpoint(cfg.peer_tracker, tracker.host, tracker.port)) {
    std::cerr << "error: peer.tracker: expected host:port, got '"
              << cfg.peer_tracker << "'\n";
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
  opts.trackers = {tracker};
  opts.host = cfg.peer_host;
  opts.share_dir = cfg.peer_share_dir;
  opts.download_dir = cfg.peer_download_dir;
  opts.state_db = cfg.peer_state_db;
  opts.piece_size = cfg.peer_piece_size;
  opts.window = cfg.peer_window;
  opts.request_timeout_ms = cfg.peer_request_timeout_ms;
  try {
    peer_store probe{opts.state_db};
  } catch (std::exception& e) {
    std::cerr << "error: peer.state-db: " << e.what() << "\n";
    return 2;
  }
  return 0;
}

} // namespace

int run_tracker(std::vector<std::string> args) {
  node_config cfg;
  bool done = false;
  if (auto rc = load_config(cfg, "tracker", std::move(args), done); rc || done)
    return rc;
  try {
    tracker_store probe{cfg.tracker_db};
  } catch (std::exception& e) {
    std::cerr << "error: tracker.db: " << e.what() << "\n";
    return 2;
  }
  auto signals = block_signals();
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  tracker_options opts;
  opts.db = cfg.tracker_db;
  opts.heartbeat_ms = cfg.tracker_heartbeat_ms;
  opts.offline_ms = cfg.tracker_offline_ms;
  tracker_node node;
  auto err = start_tracker(sys, make_node_environment(sys), opts, cfg.tracker_host, cfg.tracker_port,
                           cfg.tracker_control_port, node);
  serve(sys, signals, node, err,
        "tracker listening on " + cfg.tracker_host + ":"
          + std::to_string(node.port));
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
  auto signals = block_signals();
  opts.on_quit = [] { ::kill(::getpid(), SIGTERM); };
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  peer_node node;
  auto err = start_peer(sys, make_node_environment(sys), opts, cfg.peer_port, cfg.peer_control_port,
                        cfg.peer_upload_limit, node);
  // The interactive shell; the process ends (and with it the shell) when a
  // signal or `quit` arrives.
  if (err.empty() && ::isatty(STDIN_FILENO))
    std::thread{[&] { shell(sys, node.ctl); }}.detach();
  serve(sys, signals, node, err,
        "peer listening on " + cfg.peer_host + ":" + std::to_string(node.port));
}

namespace {

void print_progress(const pb::DownloadStatus& s, bool tty) {
  auto pct = percent_done(s);
  double left = static_cast<double>(s.size() - std::min(s.size(), s.bytes_done()));
  std::string eta = s.rate_bps() > 1
                      ? std::to_string(static_cast<long>(left / s.rate_bps()))
                          + "s"
                      : "?";
  if (tty) {
    int width = 30;
    int filled = static_cast<int>(pct / 100.0 * width);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(static_cast<size_t>(width), '.');
    fprintf(stderr, "\r%s [%s] %5.1f%% %s/%s %s/s ETA %s, %u sources   ",
            s.name().c_str(), bar.c_str(), pct,
            human_bytes(static_cast<double>(s.bytes_done())).c_str(),
            human_bytes(static_cast<double>(s.size())).c_str(),
            human_bytes(s.rate_bps()).c_str(), eta.c_str(), s.sources());
  } else {
    fprintf(stderr, "%s: %s %.1f%% (%llu of %llu bytes), %s/s, ETA %s, %u "
                    "sources\n",
            s.name().c_str(), to_string(s.state()), pct,
            static_cast<unsigned long long>(s.bytes_done()),
            static_cast<unsigned long long>(s.size()),
            human_bytes(s.rate_bps()).c_str(), eta.c_str(), s.sources());
  }
  fflush(stderr);
}

} // namespace

int run_fetch(std::vector<std::string> args) {
  std::vector<std::string> names;
  std::vector<std::string> rest;
  std::string tracker;
  std::string to = ".";
  for (size_t i = 0; i < args.size(); ++i) {
    auto& a = args[i];
    if ((a == "--tracker" || a == "--to") && i + 1 < args.size()) {
      (a == "--tracker" ? tracker : to) = args[i + 1];
      ++i;
    } else if (a.rfind("--tracker=", 0) == 0) {
      tracker = a.substr(10);
    } else if (a.rfind("--to=", 0) == 0) {
      to = a.substr(5);
    } else if (a == "-h" || a == "--help") {
      std::cout
        << "usage: actorrent fetch --tracker HOST:PORT NAME... [--to DIR]"
           " [--peer.KEY=VALUE...]\n\n"
           "Downloads files and exits 0 once every one is complete and its\n"
           "SHA-256 verified; exits 1 when a download fails (no online source\n"
           "has some piece, tracker unreachable, disk error). Progress goes to\n"
           "stderr. While it runs it serves the pieces it has verified. A\n"
           "killed fetch started again with the same --to resumes.\n\n"
           "  --tracker HOST:PORT   the tracker (default peer.tracker)\n"
           "  --to DIR              where the files go (default .)\n"
           "  --peer.window=N       piece requests in flight per source\n"
           "  --peer.host=ADDR      address to serve pieces on (127.0.0.1)\n"
           "  --log.level=LEVEL     debug, info, warn, error (default warn)\n";
      return 0;
    } else if (a.rfind("--", 0) == 0) {
      rest.push_back(a);
    } else {
      names.push_back(a);
    }
  }
  if (names.empty()) {
    std::cerr << "usage: actorrent fetch --tracker HOST:PORT NAME... [--to DIR]\n";
    return 2;
  }
  node_config cfg;
  cfg.log_level = "warn";
  cfg.peer_share_dir = "";
  cfg.peer_download_dir = to;
  if (!tracker.empty())
    rest.push_back("--peer.tracker=" + tracker);
  bool done = false;
  if (auto rc = load_config(cfg, "fetch", rest, done); rc || done)
    return rc;
  if (!make_dirs(to)) {
    std::cerr << "error: cannot create directory " << to << "\n";
    return 2;
  }
  cfg.peer_state_db = to + "/.actorrent-fetch.db";
  peer_options opts;
  if (auto rc = peer_options_from(cfg, opts))
    return rc;
  opts.share_dir.clear();
  opts.one_shot = true;
  // No signal mask: SIGTERM/SIGINT end a one-shot fetch at once; it resumes.
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  peer_node node;
  if (auto err = start_peer(sys, make_node_environment(sys), opts, cfg.peer_port, cfg.peer_control_port,
                            cfg.peer_upload_limit, node);
      !err.empty()) {
    std::cerr << "error: " << err << "\n";
    stop(sys, node);
    exit_now(2);
  }
  caf::scoped_actor self{sys};
  parsed_command cmd;
  cmd.kind = parsed_command::peer;
  auto& f = *cmd.request.mutable_fetch();
  for (auto& n : names)
    f.add_names(n);
  f.set_dest(to);
  // The peer agent starts right after the node is wired: wait for it.
  if (!wait_for([&] { return node.peer_slot->get() != nullptr; })) {
    std::cerr << "error: the peer did not start\n";
    stop(sys, node);
    exit_now(1);
  }
  auto started_fetch = run_command(self, node.ctl, cmd, std::chrono::seconds(30));
  if (started_fetch.code != 0) {
    std::cerr << started_fetch.text;
    stop(sys, node);
    exit_now(started_fetch.code);
  }
  bool tty = ::isatty(STDERR_FILENO);
  auto started = std::chrono::steady_clock::now();
  auto last_line = started;
  auto connect_limit = std::chrono::seconds(15);
  std::string failure;
  bool complete = false;
  bool ever_online = false;
  while (!complete && failure.empty()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto peer_ptr = node.peer_slot->get();
    if (!peer_ptr)
      continue;
    auto p = caf::actor_cast<peer_actor>(peer_ptr);
    pb::DownloadList list;
    self->request(p, std::chrono::seconds(5), status_atom::value)
      .receive([&](pb::DownloadList& xs) { list = std::move(xs); },
               [&](const caf::error&) {});
    auto now = std::chrono::steady_clock::now();
    ever_online = ever_online || list.session() == pb::SESSION_ONLINE;
    if (!ever_online && now - started > connect_limit)
      failure = "tracker " + cfg.peer_tracker + " not reachable";
    complete = list.downloads_size() > 0;
    for (auto& s : list.downloads()) {
      if (std::find(names.begin(), names.end(), s.name()) == names.end())
        continue;
      if (s.state() == pb::FAILED)
        failure = s.name() + ": " + s.reason();
      complete = complete && s.state() == pb::COMPLETE;
      if (tty || now - last_line > std::chrono::seconds(1)
          || s.state() == pb::COMPLETE)
        print_progress(s, tty);
    }
    if (!tty && now - last_line > std::chrono::seconds(1))
      last_line = now;
  }
  if (tty)
    fprintf(stderr, "\n");
  stop(sys, node);
  if (!failure.empty()) {
    std::cerr << "error: " << failure << "\n";
    exit_now(1);
  }
  for (auto& n : names)
    std::cout << "complete: " << to << "/" << n << "\n";
  exit_now(0);
}

int run_ctl(std::vector<std::string> args) {
  bool json = false;
  std::string node;
  std::vector<std::string> words;
  for (size_t i = 0; i < args.size(); ++i) {
    if (words.empty() && args[i] == "--json")
      json = true;
    else if (words.empty() && args[i] == "--node" && i + 1 < args.size())
      node = args[++i];
    else if (words.empty() && args[i].rfind("--node=", 0) == 0)
      node = args[i].substr(7);
    else if (words.empty() && (args[i] == "-h" || args[i] == "--help")) {
      std::cout << "usage: actorrent ctl [--json] --node HOST:PORT COMMAND...\n\n"
                   "Sends one command to a node's control port. --json prints\n"
                   "machine-readable output. Exit code: the command's.\n\n"
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
  node_config cfg;
  cfg.load<caf::io::middleman>();
  log::setup("ctl", log::level::error);
  caf::actor_system sys{cfg};
  auto ctl = sys.middleman().remote_actor<control_actor>(host, port);
  if (!ctl) {
    std::cerr << "error: cannot reach node " << node << ": "
              << render(ctl.error()) << "\n";
    return 1;
  }
  caf::scoped_actor self{sys};
  auto out = run_command(self, *ctl, cmd, std::chrono::seconds(120));
  if (json)
    std::cout << out.json << "\n";
  else if (out.code == 0)
    std::cout << out.text;
  else
    std::cerr << (out.code == 1 ? "error: " + node + ": " : "") << out.text;
  return out.code;
}

} // namespace actorrent
