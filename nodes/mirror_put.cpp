// `actorrent mirror-put`: publishes files to the mirror cluster and exits
// once every part is stored and verified on its mirrors. It runs a peer node
// of its own that serves the files while the mirrors copy them.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/core/json.hpp"
#include "nodes/commands.hpp"
#include "nodes/config.hpp"
#include "nodes/nodes.hpp"
#include "nodes/replies.hpp"
#include "actors/store/peer_store.hpp"
#include "nodes/wiring.hpp"

namespace actorrent {

namespace {

const char* put_help
  = "usage: actorrent mirror-put --tracker HOST:PORT FILE... [--peer.KEY=VALUE...]\n\n"
    "Publishes files to the mirror cluster: each file is split into parts\n"
    "(placement.part-size on the tracker) and every part is copied to its\n"
    "mirrors, which verify each piece's SHA-256. Exits 0 once every part is\n"
    "stored on as many mirrors as placement asks for; exits 1 naming the\n"
    "parts that fell short and why. Progress goes to stderr.\n\n"
    "  --tracker HOST:PORT   the tracker (with placement)\n"
    "  --peer.piece-size=N   piece size (default 1 MiB)\n"
    "  --log.level=LEVEL     debug, info, warn, error (default warn)\n";

struct put_args {
  std::vector<std::string> files;
  std::vector<std::string> rest;
  std::string tracker;
  bool help = false;
};

put_args parse_put_args(const std::vector<std::string>& args) {
  put_args out;
  for (size_t i = 0; i < args.size(); ++i) {
    auto& a = args[i];
    if (a == "--tracker" && i + 1 < args.size())
      out.tracker = args[++i];
    else if (a.rfind("--tracker=", 0) == 0)
      out.tracker = a.substr(10);
    else if (a == "-h" || a == "--help")
      out.help = true;
    else if (a.rfind("--", 0) == 0)
      out.rest.push_back(a);
    else
      out.files.push_back(a);
  }
  return out;
}

// Polls placement every 500 ms and shows how many part copies of the files
// are still to be made and how many are in flight, until `done`.
void show_progress(caf::actor_system& sys, const std::string& host,
                   uint16_t port, std::vector<std::string> names,
                   std::atomic<bool>& done) {
  auto tracker = sys.middleman().remote_actor<placement_actor>(host, port);
  if (!tracker)
    return;
  caf::scoped_actor self{sys};
  auto ours = [&](const std::string& n) {
    return std::find(names.begin(), names.end(), n) != names.end();
  };
  while (!done) {
    self->request(*tracker, std::chrono::seconds(2), placement_atom::value)
      .receive(
        [&](const pb::PlacementStatus& s) {
          uint64_t missing = 0;
          uint64_t flying = 0;
          for (auto& p : s.under_replicated())
            if (ours(p.name()))
              missing += s.replicas()
                         - std::min<uint64_t>(s.replicas(), p.holders_size());
          for (auto& c : s.copies())
            if (ours(c.name()))
              ++flying;
          if (!done)
            fprintf(stderr, "\rpublishing: %llu part copies to go, %llu in "
                            "flight   ",
                    static_cast<unsigned long long>(missing),
                    static_cast<unsigned long long>(flying));
          fflush(stderr);
        },
        [](const caf::error&) {});
    for (int i = 0; i < 5 && !done; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

} // namespace

int run_mirror_put(std::vector<std::string> args) {
  auto a = parse_put_args(args);
  if (a.help) {
    std::cout << put_help;
    return 0;
  }
  if (a.files.empty() || a.tracker.empty()) {
    std::cerr << "usage: actorrent mirror-put --tracker HOST:PORT FILE...\n";
    return 2;
  }
  for (auto& f : a.files)
    if (::access(f.c_str(), R_OK) != 0) {
      std::cerr << "error: cannot read " << f << "\n";
      return 2;
    }
  // A peer of its own: shares nothing else, keeps its state in a scratch
  // directory that is removed at the end.
  char tmpl[] = "/tmp/actorrent-put-XXXXXX";
  if (!::mkdtemp(tmpl)) {
    std::cerr << "error: cannot create a scratch directory in /tmp\n";
    return 1;
  }
  std::string scratch = tmpl;
  node_config cfg;
  cfg.log_level = "warn";
  auto rest = a.rest;
  rest.push_back("--peer.tracker=" + a.tracker);
  cfg.peer_share_dir = "";
  cfg.peer_download_dir = scratch;
  bool done = false;
  peer_options opts;
  if (auto rc = load_config(cfg, "fetch", rest, done); rc || done)
    return rc;
  cfg.peer_state_db = scratch + "/peer.db";
  if (auto rc = peer_options_from(cfg, opts))
    return rc;
  opts.share_dir.clear();
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  peer_node node;
  auto finish = [&](int rc, const std::string& text) {
    std::cerr << text;
    stop(sys, node);
    std::system(("rm -rf '" + scratch + "'").c_str());
    exit_now(rc);
  };
  if (auto err = start_peer(sys, make_node_environment(sys, guard_of(cfg)), opts, 0, 0, 0,
                            node);
      !err.empty())
    finish(2, "error: " + err + "\n");
  caf::scoped_actor self{sys};
  // Online first: publishing needs the tracker session.
  bool online = wait_for([&] {
    auto ptr = node.peer_slot->get();
    if (!ptr)
      return false;
    bool ok = false;
    self->request(caf::actor_cast<peer_actor>(ptr), std::chrono::seconds(1),
                  status_atom::value)
      .receive(
        [&](const pb::DownloadList& l) {
          ok = l.session() == pb::SESSION_ONLINE;
        },
        [](const caf::error&) {});
    return ok;
  });
  if (!online)
    finish(1, "error: tracker " + a.tracker + " not reachable\n");
  parsed_command cmd;
  cmd.kind = parsed_command::peer;
  std::vector<std::string> names;
  for (auto& f : a.files) {
    cmd.request.mutable_mirror_publish()->add_paths(f);
    names.push_back(base_name(f));
  }
  std::atomic<bool> published{false};
  std::thread progress;
  bool tty = ::isatty(STDERR_FILENO);
  std::string host;
  uint16_t port = 0;
  split_endpoint(a.tracker, host, port);
  if (tty)
    progress = std::thread{[&] {
      show_progress(sys, host, port, names, published);
    }};
  auto out = run_command(self, node.ctl, cmd, std::chrono::hours(24),
                         node.control_token);
  published = true;
  // Not joined: its connection attempt may hang on a stopped tracker, and
  // the process ends with exit_now below anyway.
  if (progress.joinable())
    progress.detach();
  if (tty)
    fprintf(stderr, "\n");
  std::cout << out.text;
  finish(out.code, "");
  return out.code;
}

} // namespace actorrent
