// A tracker and two peers, wired by the same code as the nodes, download a
// file entirely under CAF's deterministic scheduler: virtual time, in-memory
// files, an in-process directory, every actor scheduled (none detached, no
// middleman). Every message delivered goes into a trace; its SHA-256 is the
// run's digest. The same seed gives the same digest; another seed another.
#define BOOST_TEST_MODULE deterministic_download
#include <boost/test/unit_test.hpp>

#include <dirent.h>

#include <iostream>
#include <regex>

#include <caf/send.hpp>

#include "actors/core/manifest.hpp"
#include "nodes/commands.hpp"
#include "nodes/wiring.hpp"
#include "tests/fixtures.hpp"
#include "tests/nodes/in_process.hpp"

using namespace actorrent;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t file_size = 2 * 1024 * 1024 + 12345;
constexpr uint32_t piece = 64 * 1024;

size_t thread_count() {
  size_t n = 0;
  if (auto d = ::opendir("/proc/self/task")) {
    while (auto e = ::readdir(d))
      n += e->d_name[0] != '.';
    ::closedir(d);
  }
  return n;
}

// Bytes of the shared file: a function of the seed and the offset.
void generate(uint64_t seed, uint64_t off, char* buf, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    auto x = derive_seed(seed, std::to_string((off + i) / 8));
    buf[i] = static_cast<char>(x >> (8 * ((off + i) % 8)));
  }
}

struct outcome {
  std::string digest;
  size_t events = 0;
  caf::timespan virtual_time{0};  // when the download completed
  bool complete = false;
  bool identical = false;
  size_t max_threads = 0;
};

// One whole run: wiring, download, teardown.
class run {
public:
  explicit run(uint64_t seed) : sys_(init(cfg_)), self_(sys_, true),
    sched_(dynamic_cast<caf::scheduler::test_coordinator&>(sys_.scheduler())) {
    io_ = std::make_shared<memory_io>();
    env_.io = io_;
    env_.dir = make_local_directory(sys_);
    env_.blocking = blocking_mode::scheduled;
    env_.seed = seed;
    env_.random = seeded_random(derive_seed(seed, "random bytes"));
    env_.unix_time = [this] {
      return int64_t{1700000000}
             + std::chrono::duration_cast<std::chrono::seconds>(
                 sys_.clock().now().time_since_epoch())
                 .count();
    };
    io_->add_generated("/a/share/data.bin", file_size,
                       [seed](const std::string&, uint64_t off, char* buf,
                              size_t len) { generate(seed, off, buf, len); });
  }

  outcome go() {
    outcome out;
    tracker_options topts;
    topts.db = dir_ / "tracker.db";
    BOOST_REQUIRE_EQUAL(start_tracker(sys_, env_, topts, "127.0.0.1", 6881, 0,
                                      tracker_),
                        "");
    add_peer(a_, "a", "/a/share");
    add_peer(b_, "b", "");
    step_until([&] { return online(a_) && online(b_); }, 10s, out);
    BOOST_REQUIRE(online(a_) && online(b_));
    auto fetched = command(b_, {"fetch", "data.bin", "--to", "/b/downloads"});
    BOOST_REQUIRE_EQUAL(fetched.code, 0);
    step_until([&] { return download_complete(b_); }, 60s, out);
    out.complete = download_complete(b_);
    std::string got, want(file_size, '\0');
    generate(env_.seed, 0, want.data(), want.size());
    out.identical = io_->get("/b/downloads/data.bin", got) && got == want;
    out.digest = hex(trace_.finish());
    out.events = events_;
    auto stop = [](const auto&... hs) {
      (caf::anon_send_exit(hs, caf::exit_reason::user_shutdown), ...);
    };
    stop(a_.front, a_.sup, a_.ctl, b_.front, b_.sup, b_.ctl, tracker_.front,
         tracker_.sup, tracker_.ctl);
    sched_.run();
    return out;
  }

private:
  static node_config& init(node_config& c) {
    c.set("scheduler.policy", caf::atom("testing"));
    return c;
  }

  void add_peer(peer_node& n, const std::string& name,
                const std::string& share) {
    auto opts = test::in_process_peer(dir_.path, name, share, piece);
    BOOST_REQUIRE_EQUAL(start_peer(sys_, env_, opts, 0, 0, 0, n), "");
  }

  // Runs every message that is due, recording it, then advances virtual
  // time by 10 ms; until `done` or `limit`.
  template <class Pred>
  void step_until(Pred done, caf::timespan limit, outcome& out) {
    auto start = sys_.clock().now();
    for (;;) {
      events_ += drain();
      out.max_threads = std::max(out.max_threads, thread_count());
      out.virtual_time = sys_.clock().now().time_since_epoch();
      if (done() || sys_.clock().now() - start >= limit)
        return;
      sched_.advance_time(10ms);
    }
  }

  // Runs every job there is, recording each message; returns how many.
  size_t drain() {
    size_t n = 0;
    while (sched_.has_job()) {
      record();
      sched_.run_once();
      ++n;
    }
    return n;
  }

  // The next message: who gets it, when, and what it says (node ids, which
  // differ between actor systems, scrubbed).
  void record() {
    auto& dest = sched_.next_job<caf::local_actor>();
    auto elem = dest.peek_at_next_mailbox_element();
    if (elem == nullptr)
      return;
    static const std::regex node_id{"[0-9A-F]{40}#[0-9]+"};
    std::ostringstream line;
    line << sys_.clock().now().time_since_epoch().count() << " "
         << dest.name() << "#" << dest.id() << " "
         << std::regex_replace(caf::to_string(elem->content()), node_id, "N")
         << "\n";
    auto text = line.str();
    trace_.update(text.data(), text.size());
    if (auto path = std::getenv("ACTORRENT_TRACE"))
      std::ofstream{path, std::ios::app} << text;
  }

  // Asks a node's control actor; the answer comes while the scheduler runs.
  command_output command(peer_node& n, std::vector<std::string> args) {
    auto cmd = parse_command(args);
    self_->send(n.ctl, command_atom::value, cmd.request, std::string{});
    events_ += drain();
    command_output out;
    out.code = -1;
    self_->receive([&](const pb::PeerReply& r) { out.code = r.code(); },
                   [&](const caf::error& err) { out.text = render(err); },
                   caf::after(0s) >> [] {});
    return out;
  }

  pb::DownloadList downloads(peer_node& n) {
    auto ptr = n.peer_slot->get();
    pb::DownloadList out;
    if (!ptr)
      return out;
    self_->send(caf::actor_cast<peer_actor>(ptr), status_atom::value);
    events_ += drain();
    self_->receive([&](pb::DownloadList& xs) { out = std::move(xs); },
                   caf::after(0s) >> [] {});
    return out;
  }

  bool online(peer_node& n) {
    return downloads(n).session() == pb::SESSION_ONLINE;
  }

  bool download_complete(peer_node& n) {
    auto xs = downloads(n);
    return xs.downloads_size() == 1
           && xs.downloads(0).state() == pb::COMPLETE;
  }

  test::temp_dir dir_;
  node_config cfg_;
  caf::actor_system sys_;
  caf::scoped_actor self_;
  caf::scheduler::test_coordinator& sched_;
  std::shared_ptr<memory_io> io_;
  environment env_;
  tracker_node tracker_;
  peer_node a_, b_;
  sha256_stream trace_;
  size_t events_ = 0;
};

} // namespace

BOOST_AUTO_TEST_CASE(one_run_traced) {
  // ACTORRENT_TRACE=FILE writes the trace of one run (seed 42) for reading.
  if (std::getenv("ACTORRENT_TRACE"))
    run{42}.go();
}

BOOST_AUTO_TEST_CASE(same_seed_same_trace) {
  auto first = run{42}.go();
  auto again = run{42}.go();
  auto other = run{43}.go();
  for (auto* o : {&first, &again, &other}) {
    BOOST_TEST(o->complete);
    BOOST_TEST(o->identical);
    BOOST_TEST(o->max_threads == 1u, "threads: " << o->max_threads);
  }
  std::cout << "trace digest (seed 42): " << first.digest << " after "
            << first.events << " events, "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                 first.virtual_time)
                 .count()
            << " ms of virtual time\n";
  BOOST_TEST(first.digest == again.digest);
  BOOST_TEST(first.events == again.events);
  BOOST_TEST(first.digest != other.digest);
}
