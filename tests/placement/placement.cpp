// The mirror cluster under CAF's deterministic scheduler: a tracker node
// (with placement), three mirror nodes of three mirrors each and two peers,
// wired by the same code as the real nodes, with in-memory file contents,
// an in-process directory and virtual time. Publishing puts every part on R
// mirrors of distinct nodes; a node that dies for good is re-replicated; a
// mirror restarted by its supervisor re-reports its parts; replicas of a
// mirror that comes back are trimmed; a download uses the mirrors alone.
#define BOOST_TEST_MODULE placement
#include <boost/test/unit_test.hpp>

#include <map>
#include <set>

#include <caf/send.hpp>

#include "actors/core/manifest.hpp"
#include "nodes/commands.hpp"
#include "nodes/wiring.hpp"
#include "tests/fixtures.hpp"
#include "tests/nodes/in_process.hpp"

using namespace actorrent;
using namespace std::chrono_literals;

namespace {

// 65 pieces of 16 KiB (a download asks a mirror for four at a time)
constexpr uint64_t file_size = 1024 * 1024 + 4321;
constexpr uint32_t piece = 16 * 1024;
constexpr uint64_t part_size = 16 * piece;            // 5 parts
constexpr uint32_t replicas = 3;

void generate(uint64_t off, char* buf, size_t len) {
  for (size_t i = 0; i < len; ++i)
    buf[i] = static_cast<char>(((off + i) * 2654435761u) >> 13);
}

struct cluster : test::deterministic_fixture {
  cluster() {
    io = std::make_shared<memory_io>();
    env.io = io;
    env.dir = make_local_directory(sys);
    env.blocking = blocking_mode::scheduled;
    env.seed = 7;
    env.random = seeded_random(7);
    env.unix_time = [] { return int64_t{1700000000}; };
    io->add_generated("/pub/share/data.bin", file_size,
                      [](const std::string&, uint64_t off, char* buf,
                         size_t len) { generate(off, buf, len); });
    tracker_options topts;
    topts.db = dir / "tracker.db";
    placement_options popts;
    popts.replicas = replicas;
    popts.part_size = part_size;
    popts.dead_after = 1s;
    BOOST_REQUIRE_EQUAL(start_tracker(sys, env, topts, "127.0.0.1", 6881, 0,
                                      tracker, popts),
                        "");
    for (int n = 0; n < 3; ++n)
      start_mirror_node(n);
    add_peer(pub, "pub", "/pub/share");
    add_peer(dl, "dl", "");
    step_until([&] { return online(pub) && online(dl) && alive() == 9; }, 10s);
    BOOST_REQUIRE_EQUAL(alive(), 9u);
  }

  ~cluster() {
    for (auto& [n, node] : mirror_nodes)
      stop_node(node);
    stop_node(tracker);
    stop_node(pub);
    stop_node(dl);
    sched.run();
  }

  template <class Node>
  void stop_node(Node& n) {
    for (auto& h : {caf::actor_cast<caf::actor>(n.front),
                    caf::actor_cast<caf::actor>(n.sup),
                    caf::actor_cast<caf::actor>(n.ctl)})
      if (h)
        caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
  }

  void start_mirror_node(int n) {
    mirror_node_options mo;
    for (int i = 0; i < 3; ++i)
      mo.ids.push_back("m" + std::to_string(n) + std::to_string(i));
    mo.data_dir = "/mirrors/" + std::to_string(n);
    mo.index_dir = dir / ("index-" + std::to_string(n));
    BOOST_REQUIRE(make_dirs(mo.index_dir));
    // The last node lists a tracker that is not there first: its mirrors
    // register with the next one of the list.
    mo.trackers = {{"127.0.0.1", 6881}};
    if (n == 2)
      mo.trackers.insert(mo.trackers.begin(), endpoint{"127.0.0.1", 6999});
    mo.heartbeat = 200ms;
    mo.scrub_interval = 50ms;
    BOOST_REQUIRE_EQUAL(start_mirrors(sys, env, mo,
                                      static_cast<uint16_t>(7000 + n), 0,
                                      mirror_nodes[n]),
                        "");
  }

  void add_peer(peer_node& n, const std::string& name,
                const std::string& share) {
    auto opts = test::in_process_peer(dir.path, name, share, piece);
    BOOST_REQUIRE_EQUAL(start_peer(sys, env, opts, 0, 0, 0, n), "");
  }

  template <class Pred>
  void step_until(Pred done, caf::timespan limit) {
    auto start = sys.clock().now();
    for (;;) {
      sched.run();
      if (done() || sys.clock().now() - start >= limit)
        return;
      sched.advance_time(10ms);
    }
  }

  void step_for(caf::timespan d) {
    auto end = sys.clock().now() + d;
    step_until([&] { return sys.clock().now() >= end; }, d + 10ms);
  }

  // -- asking the nodes ----------------------------------------------------------

  template <class Reply, class... Ts>
  std::optional<Reply> ask(const control_actor& ctl, Ts... xs) {
    self->send(ctl, xs...);
    sched.run();
    std::optional<Reply> out;
    self->receive([&](Reply& r) { out = std::move(r); },
                  [&](caf::error&) {}, caf::after(0s) >> [] {});
    return out;
  }

  // The latest status, kept alive for loops over its fields.
  const pb::PlacementStatus& status_now() {
    last = status();
    return last;
  }

  pb::PlacementStatus status() {
    auto s = ask<pb::PlacementStatus>(tracker.ctl, placement_atom::value,
                                      std::string{});
    BOOST_REQUIRE(s);
    return *s;
  }

  size_t alive() {
    auto s = status();
    return static_cast<size_t>(std::count_if(
      s.mirrors().begin(), s.mirrors().end(),
      [](auto& m) { return m.state() == "alive"; }));
  }

  pb::PeerReply command(peer_node& n, std::vector<std::string> args) {
    auto r = ask<pb::PeerReply>(n.ctl, command_atom::value,
                                parse_command(args).request, std::string{});
    return r ? *r : pb::PeerReply{};
  }

  bool online(peer_node& n) {
    auto r = command(n, {"status"});
    return r.status().session() == pb::SESSION_ONLINE;
  }

  bool supervise(mirror_node& n, std::vector<std::string> args) {
    auto cmd = parse_command(args);
    if (cmd.kind == parsed_command::kill)
      return ask<caf::ok_atom>(n.ctl, kill_atom::value, cmd.name, cmd.hard,
                               std::string{})
             .has_value();
    return ask<caf::ok_atom>(n.ctl, restart_atom::value, cmd.name,
                             std::string{})
      .has_value();
  }

  // Live holders of each part, from placement.
  std::map<uint32_t, std::set<std::string>> holders() {
    std::map<uint32_t, std::set<std::string>> out;
    auto s = status();
    for (uint32_t p = 0; p < s.parts(); ++p)
      out[p]; // parts not listed as short have every replica
    for (auto& p : s.under_replicated())
      out[p.part()] = {p.holders().begin(), p.holders().end()};
    return out;
  }

  bool fully_replicated() {
    auto s = status();
    return s.parts() > 0 && s.under_replicated_size() == 0
           && s.copies_size() == 0;
  }

  uint32_t parts_on(const std::string& mirror) {
    for (auto& m : status_now().mirrors())
      if (m.mirror_id() == mirror)
        return m.parts();
    return 0;
  }

  // Publishes data.bin from `pub`; the reply comes once every copy ended.
  pb::PeerReply publish() {
    auto cmd = parse_command({"mirror_publish", "/pub/share/data.bin"});
    self->send(pub.ctl, command_atom::value, cmd.request, std::string{});
    std::optional<pb::PeerReply> out;
    auto start = sys.clock().now();
    while (!out && sys.clock().now() - start < 30s) {
      sched.run();
      self->receive([&](pb::PeerReply& r) { out = std::move(r); },
                    [&](caf::error& e) { BOOST_FAIL(render(e)); },
                    caf::after(0s) >> [] {});
      sched.advance_time(10ms);
    }
    BOOST_REQUIRE(out);
    return *out;
  }

  test::temp_dir dir;
  std::shared_ptr<memory_io> io;
  environment env;
  tracker_node tracker;
  std::map<int, mirror_node> mirror_nodes;
  peer_node pub, dl;
  pb::PlacementStatus last;
};

std::string node_of(const std::string& mirror) {
  return mirror.substr(0, 2); // "m1" for m10..m12
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(mirror_cluster, cluster)

BOOST_AUTO_TEST_CASE(publishing_puts_each_part_on_r_mirrors_of_distinct_nodes) {
  auto r = publish();
  BOOST_TEST(r.code() == 0, r.ShortDebugString());
  BOOST_REQUIRE_EQUAL(r.placed_size(), 1);
  auto& placed = r.placed(0);
  BOOST_CHECK_EQUAL(placed.parts_size(), 5);
  for (auto& p : placed.parts()) {
    BOOST_CHECK_EQUAL(p.holders_size(), static_cast<int>(replicas));
    std::set<std::string> nodes;
    for (auto& h : p.holders())
      nodes.insert(node_of(h));
    BOOST_CHECK_EQUAL(nodes.size(), 3u); // one replica per node
  }
  BOOST_CHECK(fully_replicated());
  // The publisher leaves: the download is served by the mirrors alone.
  stop_node(pub);
  step_for(3s);
  BOOST_REQUIRE_EQUAL(command(dl, {"fetch", "data.bin", "--to", "/dl/d"}).code(),
                      0);
  step_until(
    [&] {
      auto d = command(dl, {"downloads"}).downloads();
      return d.downloads_size() == 1 && d.downloads(0).state() == pb::COMPLETE;
    },
    30s);
  std::string got, want(file_size, '\0');
  generate(0, want.data(), want.size());
  BOOST_REQUIRE(io->get("/dl/d/data.bin", got));
  BOOST_CHECK(got == want);
}

BOOST_AUTO_TEST_CASE(a_node_lost_for_good_is_re_replicated) {
  BOOST_REQUIRE_EQUAL(publish().code(), 0);
  // Node 1 and its three mirrors go away for good.
  stop_node(mirror_nodes[1]);
  mirror_nodes.erase(1);
  auto dead = [&] {
    size_t n = 0;
    for (auto& m : status_now().mirrors())
      n += m.state() == "dead" ? 1 : 0;
    return n;
  };
  // Silent for dead_after (1 s): declared dead, not before.
  step_for(500ms);
  BOOST_CHECK_EQUAL(dead(), 0u);
  step_until([&] { return dead() == 3; }, 2s);
  BOOST_REQUIRE_EQUAL(dead(), 3u);
  // The parts they held (one replica of each part: one per node) are copied to the two nodes left until each has 3
  // live replicas again.
  step_until([&] { return fully_replicated(); }, 20s);
  BOOST_REQUIRE(fully_replicated());
  for (auto& m : status_now().mirrors())
    if (node_of(m.mirror_id()) == "m1")
      BOOST_CHECK_EQUAL(m.state(), "dead");
}

BOOST_AUTO_TEST_CASE(a_restarted_mirror_keeps_and_re_reports_its_parts) {
  BOOST_REQUIRE_EQUAL(publish().code(), 0);
  std::string victim;
  for (auto& m : status_now().mirrors())
    if (m.parts() > 0 && node_of(m.mirror_id()) == "m0") {
      victim = m.mirror_id();
      break;
    }
  BOOST_REQUIRE(!victim.empty());
  auto before = parts_on(victim);
  auto copies_before = status().copies_made();
  BOOST_REQUIRE_EQUAL(copies_before, 5u * replicas); // the publish's
  BOOST_REQUIRE(supervise(mirror_nodes[0], {"kill", victim}));
  step_for(2s);
  BOOST_CHECK(fully_replicated());
  BOOST_CHECK_EQUAL(parts_on(victim), before);
  // Its parts were reported again, not copied back.
  BOOST_CHECK_EQUAL(status().copies_made(), copies_before);
  for (auto& m : status_now().mirrors())
    if (m.mirror_id() == victim)
      BOOST_CHECK_EQUAL(m.state(), "alive");
}

BOOST_AUTO_TEST_CASE(replicas_of_a_mirror_that_comes_back_are_trimmed) {
  BOOST_REQUIRE_EQUAL(publish().code(), 0);
  // Every mirror of node 2 is stopped for good: dead, re-replicated.
  for (auto id : {"m20", "m21", "m22"})
    BOOST_REQUIRE(supervise(mirror_nodes[2], {"kill", "--hard", id}));
  step_until([&] { return alive() == 6; }, 5s);
  step_until([&] { return fully_replicated(); }, 20s);
  BOOST_REQUIRE(fully_replicated());
  // They come back with their parts: each part now has a replica too many,
  // and placement drops the extra ones (keeping one per node).
  for (auto id : {"m20", "m21", "m22"})
    BOOST_REQUIRE(supervise(mirror_nodes[2], {"restart", id}));
  step_for(3s);
  auto s = status();
  BOOST_CHECK_EQUAL(alive(), 9u);
  uint32_t total = 0;
  for (auto& m : s.mirrors())
    total += m.parts();
  BOOST_CHECK_EQUAL(total, 5 * replicas);
  BOOST_CHECK(fully_replicated());
}

BOOST_AUTO_TEST_CASE(a_corrupt_replica_is_found_by_scrub_and_repaired) {
  BOOST_REQUIRE_EQUAL(publish().code(), 0);
  // Flip bytes in one stored part file of m00 (if it holds one) or m01.
  std::string victim;
  for (auto& m : status_now().mirrors())
    if (m.parts() > 0) {
      victim = m.mirror_id();
      break;
    }
  BOOST_REQUIRE(!victim.empty());
  auto before = parts_on(victim);
  auto dir_of = "/mirrors/" + victim.substr(1, 1) + "/" + victim;
  std::vector<std::string> names;
  BOOST_REQUIRE(io->list(dir_of, names));
  BOOST_REQUIRE(!names.empty());
  auto name = names.front();
  auto path = dir_of + "/" + name;
  auto part = std::stoul(name.substr(name.rfind('.') + 1));
  std::string bytes;
  BOOST_REQUIRE(io->get(path, bytes));
  std::string good(bytes.size(), '\0');
  generate(part * part_size, good.data(), good.size());
  BOOST_REQUIRE(bytes == good);
  bytes[100] ^= 0x5a;
  io->put(path, bytes);
  // Scrub (every 50 ms, one piece) finds it, drops the part and tells
  // placement, which copies it again from a good replica.
  step_until(
    [&] {
      std::string now;
      return io->get(path, now) && now == good && fully_replicated();
    },
    10s);
  std::string repaired;
  BOOST_REQUIRE(io->get(path, repaired));
  BOOST_CHECK(repaired == good);
  BOOST_CHECK(fully_replicated());
  BOOST_CHECK_EQUAL(parts_on(victim), before);
}

BOOST_AUTO_TEST_SUITE_END()
