// `actorrent fetch`: a one-shot download for scripts. It runs a peer node of
// its own (no share directory, one-shot downloads that fail instead of
// stalling), starts the downloads and watches their progress.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <set>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/core/json.hpp"
#include "nodes/commands.hpp"
#include "nodes/config.hpp"
#include "nodes/nodes.hpp"
#include "nodes/replies.hpp"
#include "nodes/wiring.hpp"

namespace actorrent {

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

// Asks the peer (in this process) how its downloads stand every 20 ms, so
// that the command ends within 20 ms of the last rename, until every one of
// `names` is complete; returns why not ("" when complete). Progress goes to
// a terminal every 200 ms, elsewhere a line per second, and the final
// state of each file always.
std::string watch(caf::scoped_actor& self, peer_node& node,
                  const std::vector<std::string>& names,
                  const std::string& tracker, bool tty) {
  using clock = std::chrono::steady_clock;
  constexpr auto poll_every = std::chrono::milliseconds(20);
  auto print_every = tty ? std::chrono::milliseconds(200)
                         : std::chrono::milliseconds(1000);
  auto started = clock::now();
  auto last_print = started;
  auto connect_limit = std::chrono::seconds(15);
  std::string failure;
  bool complete = false;
  bool ever_online = false;
  std::set<std::string> ended;  // files whose final state was printed
  while (!complete && failure.empty()) {
    std::this_thread::sleep_for(poll_every);
    auto peer_ptr = node.peer_slot->get();
    if (!peer_ptr)
      continue;
    auto p = caf::actor_cast<peer_actor>(peer_ptr);
    pb::DownloadList list;
    self->request(p, std::chrono::seconds(5), status_atom::value)
      .receive([&](pb::DownloadList& xs) { list = std::move(xs); },
               [&](const caf::error&) {});
    auto now = clock::now();
    ever_online = ever_online || list.session() == pb::SESSION_ONLINE;
    if (!ever_online && now - started > connect_limit)
      failure = "tracker " + tracker + " not reachable";
    complete = list.downloads_size() > 0;
    bool due = now - last_print >= print_every;
    for (auto& s : list.downloads()) {
      if (std::find(names.begin(), names.end(), s.name()) == names.end())
        continue;
      if (s.state() == pb::FAILED)
        failure = s.name() + ": " + s.reason();
      complete = complete && s.state() == pb::COMPLETE;
      bool ends = s.state() == pb::COMPLETE || s.state() == pb::FAILED;
      if (ends ? ended.insert(s.name()).second : due)
        print_progress(s, tty);
    }
    if (due)
      last_print = now;
  }
  return failure;
}

const char* fetch_help
  = "usage: actorrent fetch --tracker HOST:PORT NAME... [--to DIR]"
    " [--peer.KEY=VALUE...]\n\n"
    "Downloads files and exits 0 once every one is complete and its\n"
    "SHA-256 verified; exits 1 when a download fails (no online source\n"
    "has some piece, tracker unreachable, disk error). Progress goes to\n"
    "stderr. While it runs it serves the pieces it has verified. A\n"
    "killed fetch started again with the same --to resumes.\n\n"
    "  --tracker HOST:PORT   a tracker (default peer.tracker); given more\n"
    "                        than once, the next one is used when the one\n"
    "                        in use fails\n"
    "  --to DIR              where the files go (default .)\n"
    "  --peer.window=N       piece requests in flight per source\n"
    "  --peer.host=ADDR      address to serve pieces on (127.0.0.1)\n"
    "  --log.level=LEVEL     debug, info, warn, error (default warn)\n";

// The command line of `actorrent fetch`.
struct fetch_args {
  std::vector<std::string> names;
  std::vector<std::string> rest;  // other options, for load_config
  std::vector<std::string> trackers;
  std::string to = ".";
  bool help = false;
};

fetch_args parse_fetch_args(const std::vector<std::string>& args) {
  fetch_args out;
  for (size_t i = 0; i < args.size(); ++i) {
    auto& a = args[i];
    if (a == "--tracker" && i + 1 < args.size()) {
      out.trackers.push_back(args[++i]);
    } else if (a == "--to" && i + 1 < args.size()) {
      out.to = args[++i];
    } else if (a.rfind("--tracker=", 0) == 0) {
      out.trackers.push_back(a.substr(10));
    } else if (a.rfind("--to=", 0) == 0) {
      out.to = a.substr(5);
    } else if (a == "-h" || a == "--help") {
      out.help = true;
      return out;
    } else if (a.rfind("--", 0) == 0) {
      out.rest.push_back(a);
    } else {
      out.names.push_back(a);
    }
  }
  return out;
}

// A peer node of its own: no share directory, one-shot downloads that fail
// instead of stalling, its state database in the destination directory.
// 0 when the node may start, otherwise as load_config.
int configure(const fetch_args& a, node_config& cfg, peer_options& opts,
              bool& done) {
  cfg.log_level = "warn";
  cfg.peer_share_dir = "";
  cfg.peer_download_dir = a.to;
  auto rest = a.rest;
  if (!a.trackers.empty()) {
    std::string list;
    for (auto& t : a.trackers)
      list += (list.empty() ? "[" : ", ") + t;
    rest.push_back("--peer.tracker=" + list + "]");
  }
  if (auto rc = load_config(cfg, "fetch", rest, done); rc || done)
    return rc;
  if (!make_dirs(a.to)) {
    std::cerr << "error: cannot create directory " << a.to << "\n";
    return 2;
  }
  cfg.peer_state_db = a.to + "/.actorrent-fetch.db";
  if (auto rc = peer_options_from(cfg, opts))
    return rc;
  opts.share_dir.clear();
  opts.one_shot = true;
  return 0;
}

// Prints `text`, stops the node and ends the process with `rc`.
[[noreturn]] void give_up(caf::actor_system& sys, peer_node& node,
                          const std::string& text, int rc) {
  std::cerr << text;
  stop(sys, node);
  exit_now(rc);
}

// Hands the downloads to the node's peer once it runs; ends the process
// when it does not start them.
void start_downloads(caf::actor_system& sys, caf::scoped_actor& self,
                     peer_node& node, const fetch_args& a) {
  parsed_command cmd;
  cmd.kind = parsed_command::peer;
  auto& f = *cmd.request.mutable_fetch();
  for (auto& n : a.names)
    f.add_names(n);
  f.set_dest(a.to);
  // The peer agent starts right after the node is wired: wait for it.
  if (!wait_for([&] { return node.peer_slot->get() != nullptr; }))
    give_up(sys, node, "error: the peer did not start\n", 1);
  auto started = run_command(self, node.ctl, cmd, std::chrono::seconds(30),
                             node.control_token);
  if (started.code != 0)
    give_up(sys, node, started.text, started.code);
}

} // namespace

int run_fetch(std::vector<std::string> args) {
  auto a = parse_fetch_args(args);
  if (a.help) {
    std::cout << fetch_help;
    return 0;
  }
  if (a.names.empty()) {
    std::cerr << "usage: actorrent fetch --tracker HOST:PORT NAME... [--to DIR]\n";
    return 2;
  }
  node_config cfg;
  peer_options opts;
  bool done = false;
  if (auto rc = configure(a, cfg, opts, done); rc || done)
    return rc;
  // No signal mask: SIGTERM/SIGINT end a one-shot fetch at once; it resumes.
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  peer_node node;
  if (auto rc = control_token_from(cfg.peer_control_token_file,
                                   "peer.control-token-file",
                                   node.control_token))
    return rc;
  auto env = make_node_environment(sys, guard_of(cfg));
  peer_data_path_from(cfg, env, node);
  if (auto err = start_peer(sys, env, opts, cfg.peer_port,
                            cfg.peer_control_port, cfg.peer_upload_limit,
                            node);
      !err.empty())
    give_up(sys, node, "error: " + err + "\n", 2);
  caf::scoped_actor self{sys};
  start_downloads(sys, self, node, a);
  bool tty = ::isatty(STDERR_FILENO);
  auto failure = watch(self, node, a.names, cfg.peer_tracker, tty);
  if (tty)
    fprintf(stderr, "\n");
  stop(sys, node);
  if (!failure.empty()) {
    std::cerr << "error: " << failure << "\n";
    exit_now(1);
  }
  for (auto& n : a.names)
    std::cout << "complete: " << a.to << "/" << n << "\n";
  exit_now(0);
}

} // namespace actorrent
