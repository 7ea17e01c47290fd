// The peer agent's tracker session under CAF's deterministic scheduler:
// virtual time, an in-process directory, in-memory files, stand-in trackers
// that the test kills, forgets sessions in, and brings up elsewhere.
#define BOOST_TEST_MODULE peer
#include <boost/test/unit_test.hpp>

#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/identity.hpp"
#include "actors/peer/peer.hpp"
#include "tests/fixtures.hpp"

using namespace actorrent;
using namespace std::chrono_literals;

namespace {

// What a stand-in tracker saw, and whether it forgot every session.
struct tracker_log {
  int announces = 0;
  int unproven = 0;        // announces whose signature did not check
  std::string peer_id;     // of the last announce
  int heartbeats = 0;
  int haves = 0;
  bool forget = false;
};

tracker_actor::behavior_type
stand_in_tracker(tracker_actor::pointer, std::shared_ptr<tracker_log> log) {
  auto reply = [] {
    pb::AnnounceReply r;
    r.set_heartbeat_ms(1000);
    return r;
  };
  return {
    [=](challenge_atom) {
      pb::Challenge c;
      c.set_nonce(std::string(32, 'n'));
      return c;
    },
    [=](announce_atom, const pb::Announce& a) {
      ++log->announces;
      log->peer_id = a.peer_id();
      if (a.nonce() != std::string(32, 'n')
          || !check_announce_proof(a).empty())
        ++log->unproven;
      log->forget = false;
      return reply();
    },
    [=](heartbeat_atom,
        const pb::Heartbeat& hb) -> caf::result<pb::AnnounceReply> {
      ++log->heartbeats;
      if (log->forget)
        return make_error(errc::unknown_peer, hb.peer_id());
      return reply();
    },
    [=](have_atom, const pb::Have&) {
      ++log->haves;
      return caf::ok_atom::value;
    },
    [=](leave_atom, const pb::Leave&) { return caf::ok_atom::value; },
    [=](list_atom, const pb::FileQuery&) { return pb::FileList{}; },
    [=](info_atom, const pb::FileQuery& q) -> caf::result<pb::FileInfo> {
      return make_error(errc::unknown_file, q.name());
    },
    [=](corrupt_atom, const pb::BadPieceReport&) -> caf::result<caf::ok_atom> {
      return make_error(errc::no_such_actor, "no placement");
    },
  };
}

long long ms(caf::timespan x) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(x).count();
}

struct peer_fixture : test::deterministic_fixture {
  test::temp_dir dir;
  environment env;
  endpoint first{"127.0.0.1", 6881};
  endpoint second{"127.0.0.1", 6882};
  peer_actor agent;

  peer_fixture() {
    env.io = std::make_shared<memory_io>();
    env.dir = make_local_directory(sys);
    env.blocking = blocking_mode::scheduled;
    env.seed = 7;
    env.unix_time = [] { return int64_t{1700000000}; };
    env.random = seeded_random(7);
  }

  ~peer_fixture() {
    caf::anon_send_exit(agent, caf::exit_reason::user_shutdown);
  }

  tracker_actor start_tracker(const endpoint& at,
                              std::shared_ptr<tracker_log> log) {
    auto t = sys.spawn(stand_in_tracker, log);
    auto port = at.port;
    BOOST_REQUIRE_EQUAL(env.dir->publish(sys, t, at.host, port), "");
    return t;
  }

  void start_peer() {
    peer_options opts;
    opts.trackers = {first, second};
    opts.state_db = dir / "peer.db";
    opts.port = 7000;
    agent = sys.spawn(peer, opts, env, std::make_shared<library>());
    sched.run();
  }

  // The state a peer stopped in while downloading data.bin into /d with
  // manifest `m` and `verified` pieces.
  void record_running_download(const pb::Manifest& m, const bitfield& verified) {
    sqlite_peer_store store{dir / "peer.db"};
    download_record rec;
    rec.name = "data.bin";
    rec.dest_dir = "/d";
    rec.part_path = part_path("/d", "data.bin");
    rec.state = "downloading";
    store.put_download(rec);
    store.set_download_manifest("data.bin", m);
    store.set_download_bitfield("data.bin", verified.bytes());
  }

  const tracker_client& client() {
    auto ptr = caf::actor_cast<caf::abstract_actor*>(agent);
    return dynamic_cast<std::remove_pointer_t<peer_self>&>(*ptr)
      .state.tracker;
  }

  // Advances virtual time in 10 ms steps until `pred` holds (at most
  // `limit`); returns how long that took.
  caf::timespan run_until(std::function<bool()> pred, caf::timespan limit) {
    caf::timespan waited{0};
    sched.run();
    while (!pred() && waited < limit) {
      sched.advance_time(10ms);
      sched.run();
      waited += 10ms;
    }
    return waited;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(peer_agent, peer_fixture)

BOOST_AUTO_TEST_CASE(goes_online_and_re_announces_when_forgotten) {
  auto log = std::make_shared<tracker_log>();
  start_tracker(first, log);
  start_peer();
  BOOST_CHECK_EQUAL(client().session(), pb::SESSION_ONLINE);
  BOOST_CHECK_EQUAL(log->announces, 1);
  // It signed the tracker's challenge with the key its id comes from.
  BOOST_CHECK_EQUAL(log->unproven, 0);
  auto id = log->peer_id;
  // Heartbeats every second of virtual time keep the session.
  run_until([&] { return log->heartbeats >= 3; }, 5s);
  BOOST_CHECK_EQUAL(log->announces, 1);
  // A restarted tracker has forgotten the session: the next heartbeat is
  // refused and the peer announces everything again.
  log->forget = true;
  auto took = run_until([&] { return log->announces == 2; }, 5s);
  BOOST_CHECK_LE(ms(took), 1010);
  BOOST_CHECK_EQUAL(client().session(), pb::SESSION_ONLINE);
  // A restarted peer keeps its key, hence its id.
  caf::anon_send_exit(agent, caf::exit_reason::kill);
  sched.run();
  start_peer();
  BOOST_CHECK_EQUAL(log->announces, 3);
  BOOST_CHECK_EQUAL(log->unproven, 0);
  BOOST_CHECK_EQUAL(log->peer_id, id);
}

BOOST_AUTO_TEST_CASE(fails_over_to_the_next_tracker_when_one_dies) {
  auto log1 = std::make_shared<tracker_log>();
  auto t1 = start_tracker(first, log1);
  start_peer();
  BOOST_REQUIRE_EQUAL(client().session(), pb::SESSION_ONLINE);
  BOOST_CHECK_EQUAL(client().current().port, first.port);
  // The first tracker dies: the connection's down message ends the session.
  env.dir->unpublish(first.host, first.port);
  caf::anon_send_exit(t1, caf::exit_reason::kill);
  sched.run();
  BOOST_CHECK_EQUAL(client().session(), pb::SESSION_DISCONNECTED);
  BOOST_CHECK_EQUAL(client().current().port, second.port);
  // The second one is not up yet: the peer keeps trying, both in turn, with
  // a growing backoff.
  run_until([] { return false; }, 1s);
  BOOST_CHECK_NE(client().session(), pb::SESSION_ONLINE);
  BOOST_CHECK_GE(client().switches(), 2u);
  auto log2 = std::make_shared<tracker_log>();
  start_tracker(second, log2);
  auto took = run_until([&] { return client().online(); }, 10s);
  BOOST_CHECK_LE(ms(took), 5000); // at most the longest backoff
  BOOST_CHECK_EQUAL(client().current().port, second.port);
  BOOST_CHECK_EQUAL(log2->announces, 1);
}

BOOST_AUTO_TEST_CASE(refuses_tracker_commands_while_disconnected) {
  start_peer(); // no tracker anywhere
  BOOST_CHECK_EQUAL(client().session(), pb::SESSION_DISCONNECTED);
  pb::PeerRequest rq;
  rq.mutable_list();
  self->send(agent, command_atom::value, rq);
  sched.run();
  bool answered = false;
  self->receive(
    [&](const pb::PeerReply& r) {
      answered = true;
      BOOST_CHECK_EQUAL(r.code(), 1);
      BOOST_REQUIRE_EQUAL(r.lines_size(), 1);
      BOOST_CHECK_NE(r.lines(0).find("no connection to the tracker"),
                     std::string::npos);
    },
    caf::after(0s) >> [] {});
  BOOST_CHECK(answered);
}

// A fetcher's question for sources that comes while the session is still
// being set up waits for it and goes to the tracker (whose answer it gets),
// instead of failing at once; with no tracker it fails when the attempt
// does.
BOOST_AUTO_TEST_CASE(questions_for_sources_wait_for_the_session) {
  auto log = std::make_shared<tracker_log>();
  start_tracker(first, log);
  auto info_now = [&] {
    pb::FileQuery q;
    q.set_name("data.bin");
    // Sent before the peer has run at all: no session yet.
    self->send(agent, info_atom::value, q);
    BOOST_CHECK_NE(client().session(), pb::SESSION_ONLINE);
    sched.run();
    caf::error got;
    bool answered = false;
    self->receive([&](pb::FileInfo&) { answered = true; },
                  [&](caf::error& err) {
                    answered = true;
                    got = err;
                  },
                  caf::after(0s) >> [] {});
    BOOST_CHECK(answered);
    return got;
  };
  peer_options opts;
  opts.trackers = {first};
  opts.state_db = dir / "peer.db";
  opts.port = 7000;
  agent = sys.spawn(peer, opts, env, std::make_shared<library>());
  auto err = info_now();
  // The stand-in tracker's answer:
  BOOST_CHECK_MESSAGE(is(err, errc::unknown_file), render(err));
  BOOST_CHECK_EQUAL(client().session(), pb::SESSION_ONLINE);
  caf::anon_send_exit(agent, caf::exit_reason::user_shutdown);
  sched.run();
  opts.trackers = {second}; // nobody there
  opts.state_db = dir / "peer2.db";
  agent = sys.spawn(peer, opts, env, std::make_shared<library>());
  err = info_now();
  BOOST_CHECK(is(err, errc::tracker_unavailable));
  // A tracker killed while the peer sets up its session: the waiting
  // question fails with the attempt.
  caf::anon_send_exit(agent, caf::exit_reason::user_shutdown);
  sched.run();
  auto doomed = start_tracker(second, std::make_shared<tracker_log>());
  opts.state_db = dir / "peer3.db";
  agent = sys.spawn(peer, opts, env, std::make_shared<library>());
  caf::anon_send_exit(doomed, caf::exit_reason::kill);
  err = info_now();
  BOOST_CHECK_MESSAGE(is(err, errc::tracker_unavailable), render(err));
  BOOST_CHECK_EQUAL(client().session(), pb::SESSION_DISCONNECTED);
}

// The peer stopped after the writer renamed a finished download into place
// but before it recorded it as complete: at start it finds the file whole
// and verified, records it, and fetches nothing.
BOOST_AUTO_TEST_CASE(a_download_renamed_before_a_crash_is_complete) {
  auto& io = static_cast<memory_io&>(*env.io);
  std::string bytes(100000, 'x');
  for (size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<char>(i * 7);
  io.put("/d/data.bin", bytes);
  auto m = build_manifest(io, "/d/data.bin", "data.bin", 16384);
  record_running_download(m, bitfield{static_cast<uint32_t>(
                                        m.piece_sha256_size()),
                                      true});
  start_peer();
  self->send(agent, status_atom::value);
  sched.run();
  pb::DownloadList xs;
  self->receive([&](pb::DownloadList& x) { xs = std::move(x); },
                caf::after(0s) >> [] {});
  BOOST_REQUIRE_EQUAL(xs.downloads_size(), 1);
  BOOST_CHECK(xs.downloads(0).state() == pb::COMPLETE);
  // No fetcher started: no part file was created again.
  uint64_t size = 0;
  int64_t mtime = 0;
  BOOST_CHECK(!io.stat(part_path("/d", "data.bin"), size, mtime));
  BOOST_CHECK_EQUAL(sqlite_peer_store{dir / "peer.db"}.downloads().at(0).state,
                    "complete");
}

// A download resumed under one manifest whose name then comes with another
// version of the file: the pieces verified for the old version are not
// kept for the new one.
BOOST_AUTO_TEST_CASE(another_version_starts_from_no_verified_pieces) {
  auto& io = static_cast<memory_io&>(*env.io);
  io.put("/v/one", std::string(40000, 'a'));
  io.put("/v/two", std::string(40000, 'b'));
  auto one = build_manifest(io, "/v/one", "data.bin", 16384);
  auto two = build_manifest(io, "/v/two", "data.bin", 16384);
  BOOST_REQUIRE_EQUAL(one.piece_sha256_size(), two.piece_sha256_size());
  auto n = static_cast<uint32_t>(one.piece_sha256_size());
  record_running_download(one, bitfield{n, true});
  start_peer();
  auto recorded = [&] {
    return bitfield{n, sqlite_peer_store{dir / "peer.db"}.downloads().at(0).bitfield};
  };
  BOOST_CHECK_EQUAL(recorded().count(), n);
  self->send(agent, manifest_atom::value, two);
  self->send(agent, have_atom::value, std::string{"data.bin"},
             std::vector<uint32_t>{1});
  sched.run();
  // The old version's pieces are cleared with the new manifest; the new
  // piece is recorded with the next flush of haves (100 ms).
  BOOST_CHECK_EQUAL(recorded().count(), 0u);
  sched.advance_time(100ms);
  sched.run();
  BOOST_CHECK_EQUAL(recorded().count(), 1u);
  BOOST_CHECK(recorded().test(1));
}

BOOST_AUTO_TEST_SUITE_END()

// The two state stores answer alike: a peer with ":memory:" state keeps it
// in memory_peer_store, one with a file in SQLite.
BOOST_AUTO_TEST_CASE(memory_and_sqlite_peer_stores_answer_alike) {
  test::temp_dir dir;
  auto mem = open_peer_store(":memory:");
  auto sql = open_peer_store(dir / "peer.db");
  BOOST_CHECK(dynamic_cast<memory_peer_store*>(mem.get()) != nullptr);
  BOOST_CHECK(dynamic_cast<sqlite_peer_store*>(sql.get()) != nullptr);
  std::string manifests[2];
  std::vector<std::string> lines[2];
  int k = 0;
  for (auto* s : {mem.get(), sql.get()}) {
    auto random = seeded_random(7);
    auto id = s->identity(random);
    BOOST_CHECK(s->identity(random).seed() == id.seed()); // made once
    s->add_published("b", "/x/b");
    s->add_published("a", "/x/a");
    s->remove_published("b");
    for (auto& [name, path] : s->published())
      lines[k].push_back("pub " + name + " " + path);
    s->add_group_share({"u", "g2", "z", "/z", "h1"});
    s->add_group_share({"u", "g1", "y", "/y", "h2"});
    s->add_group_share({"u", "g1", "x", "/x", "h3"});
    s->add_group_share({"v", "g1", "w", "/w", "h4"});
    s->remove_group_share("u", "g2", "");
    for (auto& g : s->group_shares("u"))
      lines[k].push_back("share " + g.group + " " + g.name + " " + g.path);
    pb::Manifest m;
    m.set_name("f");
    m.set_size(5);
    s->set_download_state("none", "complete"); // not recorded: nothing
    s->put_download({"f", "/d", "/d/f.part", "downloading", std::nullopt, "\x01"});
    s->put_download({"e", "/d", "/d/e.part", "downloading", m, ""});
    s->set_download_bitfield("f", std::string("\x03", 1));
    s->set_download_state("f", "complete");
    s->set_download_manifest("f", m);
    for (auto& d : s->downloads())
      lines[k].push_back("dl " + d.name + " " + d.state + " " + d.part_path
                         + " " + std::to_string(d.bitfield.size())
                         + (d.manifest ? " m" : " -"));
    s->cache_manifest("/p", 5, 9, m);
    BOOST_CHECK(s->cached_manifest("/p", 5, 9).has_value());
    BOOST_CHECK(!s->cached_manifest("/p", 5, 10).has_value());
    manifests[k] = s->cached_manifest("/p", 5, 9)->SerializeAsString();
    ++k;
  }
  BOOST_CHECK(lines[0] == lines[1]);
  BOOST_CHECK_EQUAL(lines[0].size(), 5u); // 1 published, 2 shares, 2 downloads
  BOOST_CHECK(manifests[0] == manifests[1]);
}
