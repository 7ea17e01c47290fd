// End-to-end: an adversarial client that speaks actorrent's protocol attacks
// a real tracker and real peers on loopback; each attack is refused and the
// tracker keeps answering within 1 s meanwhile.
#define BOOST_TEST_MODULE e2e_adversary
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include "actors/core/manifest.hpp"
#include "tests/e2e/adversary.hpp"

using namespace actorrent;
using namespace actorrent::test;

namespace {

// A lying manifest of `name`: one piece of random-looking bytes.
pb::Manifest fake_manifest(const std::string& name) {
  pb::Manifest m;
  m.set_name(name);
  m.set_size(16384);
  m.set_piece_size(16384);
  m.add_piece_sha256(std::string(32, 'E'));
  m.set_file_sha256(std::string(32, 'E'));
  return m;
}

pb::Announce announce_of(const std::string& peer, uint32_t port,
                         const pb::Manifest& m) {
  return plain_announce(peer, port, m, bitfield{1, true}.bytes());
}

struct group_swarm : swarm {
  test::run_result ok(const std::string& peer, std::vector<std::string> args) {
    auto r = ctl(peer, args);
    BOOST_REQUIRE_MESSAGE(r.code == 0, peer << " " << args[0] << ": " << r.out);
    return r;
  }
  /// alice owns group films; bob and carol are members.
  void start_group() {
    start_tracker();
    for (auto u : {"alice", "bob", "carol"}) {
      start_peer(u);
      ok(u, {"create_user", u, std::string{"pw-"} + u});
      ok(u, {"login", u, std::string{"pw-"} + u});
    }
    ok("alice", {"create_group", "films"});
    for (auto u : {"bob", "carol"}) {
      ok(u, {"join_group", "films"});
      ok("alice", {"accept_request", "films", u});
    }
  }
};

} // namespace

// A non-member cannot plant a file in a group by announcing its catalog
// name; the owner's upload then works, and a member's upload the tracker
// refuses is reported as a failure.
BOOST_AUTO_TEST_CASE(a_group_file_cannot_be_planted_by_announce) {
  group_swarm s;
  s.start_group();
  auto key = group_key("films", "movie.mkv");
  tracker_client_conn mallory{s.tracker_ports.port};
  caf::expected<pb::AnnounceReply> r{caf::sec::request_timeout};
  auto slowest = slowest_answer_during(s.tracker_ports.port, [&] {
    r = announce_as(mallory, signing_key::generate(system_random()),
                    announce_of("", free_port(), fake_manifest(key)));
  });
  BOOST_TEST(slowest < 1000);
  BOOST_REQUIRE_MESSAGE(r, why(r));
  BOOST_REQUIRE_EQUAL(r->rejected_size(), 1);
  BOOST_TEST(r->rejected(0).find("group manager") != std::string::npos,
             r->rejected(0));
  // The owner uploads the real file; a member downloads it intact.
  write_random_file(s.dir / "movie.mkv", 3 * piece + 17, 5);
  s.ok("alice", {"upload_file", s.dir / "movie.mkv", "films"});
  s.ok("bob", {"download_file", "films", "movie.mkv", s.dir / "bob-got"});
  BOOST_REQUIRE(wait_until(
    [&] {
      return s.ok("bob", {"show_downloads"}).out.find("complete")
             != std::string::npos;
    },
    30s));
  BOOST_TEST(file_of(s.dir / "bob-got/movie.mkv")
             == file_of(s.dir / "movie.mkv"));
  // Another member uploads a different file of the same name: the tracker
  // refuses it, and upload_file says so (exit 1, the reason).
  make_dirs(s.dir / "other");
  write_random_file(s.dir / "other/movie.mkv", 2 * piece, 6);
  auto refused = s.ctl("carol", {"upload_file", s.dir / "other/movie.mkv",
                                 "films"});
  BOOST_TEST(refused.code == 1, refused.out);
  BOOST_TEST(refused.out.find("a different file with this name")
               != std::string::npos,
             refused.out);
}

// A stray message of 32 MiB, sent to the tracker's published actor, a
// peer's and a control port, is dropped with one short log line naming its
// types, not printed; the tracker keeps answering meanwhile.
BOOST_AUTO_TEST_CASE(a_stray_large_message_is_dropped_not_printed) {
  swarm s;
  s.start_tracker();
  s.start_peer("alice");
  auto size_of = [](const std::string& path) { return file_of(path).size(); };
  auto tracker_log = s.dir / "tracker.log";
  auto peer_log = s.dir / "alice.log";
  auto tracker_before = size_of(tracker_log);
  auto peer_before = size_of(peer_log);
  std::string payload(32 * 1024 * 1024, 'A');
  auto stray = [&](auto& c) {
    caf::scoped_actor self{*c.sys};
    auto h = caf::actor_cast<caf::actor>(c.node);
    caf::error got;
    self->request(h, 30s, caf::atom("junk"), payload)
      .receive([](const caf::message&) {}, [&](caf::error& err) { got = err; });
    return got;
  };
  caf::error to_tracker, to_peer, to_control;
  auto slowest = slowest_answer_during(s.tracker_ports.port, [&] {
    tracker_client_conn t{s.tracker_ports.port};
    to_tracker = stray(t);
    client<piece_server_actor> p{s.ports["alice"].port};
    to_peer = stray(p);
    client<control_actor> c{s.ports["alice"].control};
    to_control = stray(c);
  });
  BOOST_TEST(slowest < 1000);
  for (auto* err : {&to_tracker, &to_peer, &to_control})
    BOOST_TEST(render(*err).find("unexpected") != std::string::npos,
               render(*err));
  auto tracker_grew = size_of(tracker_log) - tracker_before;
  auto peer_grew = size_of(peer_log) - peer_before;
  BOOST_TEST(tracker_grew < 64 * 1024u);
  BOOST_TEST(peer_grew < 64 * 1024u);
  auto text = file_of(tracker_log);
  BOOST_TEST(text.find("dropped an unexpected message") != std::string::npos);
  BOOST_TEST(file_of(peer_log).find("2 so far") != std::string::npos);
  // Both nodes still work.
  BOOST_TEST(s.ctl("alice", {"list"}).code == 0);
}

// Nobody can act in a real peer's name: its id is public (info lists it),
// but announces must be signed with its key and heartbeats, haves, leaves
// and shares must carry its session. A member's share naming another
// peer is refused, so the member's logout cannot withdraw that peer's
// holding. A restarted peer keeps its id.
BOOST_AUTO_TEST_CASE(a_peer_cannot_be_impersonated) {
  group_swarm s;
  s.start_group();
  write_random_file(s.dir / "a.iso", 3 * piece, 9);
  s.ok("alice", {"publish", s.dir / "a.iso"});
  write_random_file(s.dir / "movie.mkv", 2 * piece, 10);
  s.ok("alice", {"upload_file", s.dir / "movie.mkv", "films"});
  BOOST_REQUIRE(wait_until([&] { return s.sources("bob", "a.iso", 1); }, 10s));
  auto alice = json_strings(s.ctl("alice", {"--json", "status"}).out,
                            "peer_id")
                 .at(0);
  tracker_client_conn mallory{s.tracker_ports.port};
  auto info = mallory.ask<pb::FileInfo>(info_atom::value, [] {
    pb::FileQuery q;
    q.set_name("a.iso");
    return q;
  }());
  BOOST_REQUIRE_MESSAGE(info, why(info));
  BOOST_REQUIRE_EQUAL(info->sources(0).peer_id(), alice); // ids are public
  std::vector<std::string> outcomes;
  auto slowest = slowest_answer_during(s.tracker_ports.port, [&] {
    // An announce in alice's name, unsigned and signed with another key.
    auto c = mallory.ask<pb::Challenge>(challenge_atom::value);
    pb::Announce a = announce_of(alice, free_port(), fake_manifest("a.iso"));
    a.set_nonce(c ? c->nonce() : "");
    outcomes.push_back(
      why(mallory.ask<pb::AnnounceReply>(announce_atom::value, a)));
    c = mallory.ask<pb::Challenge>(challenge_atom::value);
    auto key = signing_key::generate(system_random());
    sign_announce(key, c ? c->nonce() : "", a);
    a.set_peer_id(alice);
    outcomes.push_back(
      why(mallory.ask<pb::AnnounceReply>(announce_atom::value, a)));
    // A leave, a heartbeat and a have in alice's name.
    pb::Leave l;
    l.set_peer_id(alice);
    outcomes.push_back(why(mallory.ask<caf::ok_atom>(leave_atom::value, l)));
    pb::Heartbeat hb;
    hb.set_peer_id(alice);
    hb.set_session("guess");
    outcomes.push_back(
      why(mallory.ask<pb::AnnounceReply>(heartbeat_atom::value, hb)));
    pb::Have h;
    h.set_peer_id(alice);
    h.set_name("a.iso");
    h.add_pieces(0);
    outcomes.push_back(why(mallory.ask<caf::ok_atom>(have_atom::value, h)));
  });
  BOOST_TEST(slowest < 1000);
  BOOST_REQUIRE_EQUAL(outcomes.size(), 5u);
  BOOST_TEST(outcomes[0].find("denied") == 0u, outcomes[0]);
  BOOST_TEST(outcomes[1].find("denied") == 0u, outcomes[1]);
  BOOST_TEST(outcomes[2].find("denied") == 0u, outcomes[2]);
  BOOST_TEST(outcomes[3].find("unknown_peer") == 0u, outcomes[3]);
  BOOST_TEST(outcomes[4].find("unknown_peer") == 0u, outcomes[4]);
  // A member (carol, logged in from this client) shares alice's file in
  // alice's name, then logs out.
  auto login = [&] {
    pb::Login l;
    l.set_user("carol");
    l.set_password("pw-carol");
    return mallory.ask<pb::LoginReply>(login_atom::value, l);
  }();
  BOOST_REQUIRE_MESSAGE(login, why(login));
  pb::Share share;
  share.set_token(login->token());
  share.set_group("films");
  share.set_name("movie.mkv");
  share.set_peer_id(alice);
  auto shared = mallory.ask<pb::GroupText>(share_atom::value, share);
  BOOST_TEST(why(shared).find("denied") == 0u, why(shared));
  pb::Logout out;
  out.set_token(login->token());
  BOOST_REQUIRE(mallory.ask<pb::GroupText>(logout_atom::value, out));
  // alice is still listed, at her own port, and serves both files.
  BOOST_TEST(s.ctl("alice", {"--json", "status"}).out.find("\"online\"")
             != std::string::npos);
  auto r = s.ctl("bob", {"--json", "info", "a.iso"});
  BOOST_TEST(r.out.find("\"port\":" + std::to_string(s.ports["alice"].port))
               != std::string::npos,
             r.out);
  s.ok("bob", {"fetch", "a.iso"});
  s.ok("bob", {"download_file", "films", "movie.mkv", s.dir / "bob-got"});
  BOOST_REQUIRE(wait_until(
    [&] {
      return s.download_state("bob", "a.iso") == "complete"
             && s.ok("bob", {"show_downloads"}).out.find("complete")
                  != std::string::npos;
    },
    30s));
  BOOST_TEST(file_of(s.dir / "bob-got/movie.mkv")
             == file_of(s.dir / "movie.mkv"));
  // A restarted peer keeps its id.
  s.peers["alice"]->kill(SIGKILL);
  s.start_peer("alice");
  BOOST_TEST(json_strings(s.ctl("alice", {"--json", "status"}).out, "peer_id")
               .at(0)
             == alice);
}

// Oversized fields and counts are refused before any expensive work: a
// 1 MiB peer id and host, a manifest whose piece hashes contradict its
// size, a consistent manifest over tracker.max-pieces, a have of too many
// pieces, a 1 MiB password. Real peers keep their sessions meanwhile and
// the tracker's log and database stay small.
BOOST_AUTO_TEST_CASE(oversized_messages_are_refused_before_any_work) {
  swarm s;
  s.start_tracker({"--tracker.max-pieces=10000"});
  s.start_peer("alice");
  s.start_peer("bob");
  tracker_client_conn mallory{s.tracker_ports.port};
  auto key = signing_key::generate(system_random());
  auto huge = std::string(1 << 20, 'x');
  auto many = [](const std::string& name, uint32_t pieces, uint64_t size) {
    pb::Manifest m;
    m.set_name(name);
    m.set_piece_size(16384);
    m.set_size(size);
    for (uint32_t i = 0; i < pieces; ++i)
      m.add_piece_sha256(std::string(32, static_cast<char>(i)));
    m.set_file_sha256(std::string(32, 'f'));
    return m;
  };
  auto db_before = file_of(s.dir / "tracker.db").size()
                   + file_of(s.dir / "tracker.db-wal").size();
  std::vector<std::string> outcomes;
  pb::AnnounceReply lying, consistent;
  auto slowest = slowest_answer_during(s.tracker_ports.port, [&] {
    auto a = announce_of("", 7666, fake_manifest("ok.bin"));
    a.set_host(huge);
    outcomes.push_back(why(announce_as(mallory, key, a)));
    a.set_host("127.0.0.1");
    a.set_peer_id(huge);
    outcomes.push_back(
      why(mallory.ask<pb::AnnounceReply>(announce_atom::value, a)));
    // 100,000 hashes for a 1 MiB file; 20,000 for a file that has them.
    auto r = announce_as(mallory, key,
                         announce_of("", 7666, many("lie.bin", 100000,
                                                    1 << 20)));
    outcomes.push_back(why(r));
    if (r)
      lying = *r;
    r = announce_as(mallory, key,
                    announce_of("", 7666, many("big.bin", 20000,
                                               uint64_t{20000} * 16384)));
    outcomes.push_back(why(r));
    if (r)
      consistent = *r;
    pb::Have h;
    h.set_peer_id(peer_id_of(key.public_key));
    h.set_session(consistent.session());
    h.set_name("ok.bin");
    for (uint32_t i = 0; i < 20000; ++i)
      h.add_pieces(i);
    outcomes.push_back(why(mallory.ask<caf::ok_atom>(have_atom::value, h)));
    pb::Login l;
    l.set_user("mallory");
    l.set_password(huge);
    outcomes.push_back(why(mallory.ask<pb::LoginReply>(login_atom::value, l)));
  });
  BOOST_TEST(slowest < 1000);
  BOOST_REQUIRE_EQUAL(outcomes.size(), 6u);
  for (size_t i : {0, 1, 4, 5})
    BOOST_TEST(outcomes[i].find("bad_message") == 0u, i << ": " << outcomes[i]);
  BOOST_TEST(outcomes[0].find("host has 1048576 bytes") != std::string::npos);
  BOOST_TEST(outcomes[1].find("peer_id has 1048576 bytes")
             != std::string::npos);
  BOOST_REQUIRE_EQUAL(lying.rejected_size(), 1);
  BOOST_TEST(lying.rejected(0).find("lie.bin: piece hashes: 100000, at most"
                                    " 10000")
             == 0u, lying.rejected(0));
  BOOST_REQUIRE_EQUAL(consistent.rejected_size(), 1);
  BOOST_TEST(consistent.rejected(0).find("big.bin: piece hashes: 20000")
             == 0u, consistent.rejected(0));
  // Nothing of it was stored or logged whole; the real peers stayed online.
  auto db_after = file_of(s.dir / "tracker.db").size()
                  + file_of(s.dir / "tracker.db-wal").size();
  BOOST_TEST(db_after < db_before + 256 * 1024);
  BOOST_TEST(file_of(s.dir / "tracker.log").size() < 64 * 1024u);
  BOOST_TEST(file_of(s.dir / "tracker.log").find("missed its heartbeats")
             == std::string::npos);
  BOOST_TEST(s.ctl("alice", {"info", "big.bin"}).code == 1);
}

// A node with a control token file: the file is made owner-only, `ctl`
// without the token (any local user) is refused, with --token-file it
// works; a token file other users may read stops the node from starting.
BOOST_AUTO_TEST_CASE(a_control_token_keeps_other_local_users_out) {
  swarm s;
  s.start_tracker();
  auto token_file = s.dir / "alice.token";
  s.start_peer("alice", {"--peer.control-token-file=" + token_file});
  struct stat st {};
  BOOST_REQUIRE_EQUAL(::stat(token_file.c_str(), &st), 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);
  auto without = [&](const node_ports& p, const std::string& cmd) {
    return run({"ctl", "--node", p.ctl(), cmd}, 30s);
  };
  auto refused = run({"ctl", "--node", s.ports["alice"].ctl(), "kill",
                      "--hard", "pserver"},
                     30s);
  BOOST_TEST(refused.code == 1);
  BOOST_TEST(refused.out.find("control token") != std::string::npos,
             refused.out);
  auto ok = s.ctl("alice", {"--json", "actors"}); // with --token-file
  BOOST_TEST(ok.code == 0, ok.out);
  BOOST_TEST(ok.out.find("\"restarts\":0") != std::string::npos, ok.out);
  // The tracker refuses too when it has a token.
  s.tracker->kill();
  auto tracker_token = s.dir / "tracker.token";
  s.start_tracker({"--tracker.control-token-file=" + tracker_token});
  BOOST_TEST(without(s.tracker_ports, "actors").code == 1);
  BOOST_TEST(s.ctl(s.tracker_ports, {"actors"}).code == 0);
  // A token file others may read: the node does not start (exit 2).
  auto loose = s.dir / "loose.token";
  write_random_file(loose, 64, 1);
  ::chmod(loose.c_str(), 0644);
  auto r = run({"peer", "--peer.control-token-file=" + loose,
                "--peer.state-db=" + (s.dir / "x.db"),
                "--peer.share-dir=" + s.share_dir("x")},
               10s);
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.out.find("chmod 600") != std::string::npos, r.out);
}

// CAF 0.17's transport allocates what a BASP header announces. The guard in
// front of every published port closes a connection whose first message is
// not a handshake (here a header announcing 1 GiB, at the tracker's port,
// its control port, a peer's port and its control port) or whose later
// header announces more than any message may be (after a real handshake);
// eight connections announcing 48 MiB each after a real handshake make
// CAF read at most guard.in-flight of them at once. Real peers are
// answered within 1 s throughout and the tracker's memory stays bounded.
BOOST_AUTO_TEST_CASE(a_huge_length_prefix_is_refused_at_every_port) {
  swarm s;
  s.start_tracker({"--guard.in-flight=" + std::to_string(64 << 20)});
  s.start_peer("alice");
  auto pid = s.tracker->pid();
  auto base = rss_mib(pid);
  double peak = base;
  std::vector<uint16_t> ports{s.tracker_ports.port, s.tracker_ports.control,
                              s.ports["alice"].port, s.ports["alice"].control};
  std::vector<std::string> open_after; // ports where a header stayed open
  bool huge_after_handshake_closed = false;
  std::vector<std::string> relay_errors;
  auto slowest = slowest_answer_during(s.tracker_ports.port, [&] {
    for (auto port : ports) {
      std::vector<std::unique_ptr<raw_conn>> cs;
      for (int i = 0; i < 4; ++i) {
        cs.push_back(std::make_unique<raw_conn>(port));
        cs.back()->put(basp_bytes(0, 1u << 30));
      }
      for (auto& c : cs)
        if (!c->closed_within(1000ms))
          open_after.push_back(std::to_string(port));
      peak = std::max(peak, rss_mib(pid));
    }
    handshaken_conn h{s.tracker_ports.control, s.dir / "ctl-huge.log"};
    if (!h.error.empty()) {
      relay_errors.push_back(h.error);
      return;
    }
    h.node->put(basp_bytes(2, 1u << 30, 1));
    huge_after_handshake_closed = h.node->closed_within(1000ms);
    std::vector<std::unique_ptr<handshaken_conn>> hs;
    for (int i = 0; i < 8; ++i) {
      hs.push_back(std::make_unique<handshaken_conn>(
        s.tracker_ports.control, s.dir / ("ctl-" + std::to_string(i) + ".log")));
      if (!hs.back()->error.empty())
        relay_errors.push_back(hs.back()->error);
      else
        hs.back()->node->put(basp_bytes(2, 48u << 20, 1));
    }
    for (int i = 0; i < 40; ++i) {
      peak = std::max(peak, rss_mib(pid));
      std::this_thread::sleep_for(100ms);
    }
  });
  BOOST_TEST(slowest < 1000);
  BOOST_TEST(open_after.empty(), "still open at ports " << open_after.size());
  BOOST_TEST(relay_errors.empty(), relay_errors.size() << " relays failed");
  BOOST_TEST(huge_after_handshake_closed);
  BOOST_TEST(peak - base < 128, "RSS " << base << " -> " << peak << " MiB");
  BOOST_TEST(s.tracker->running());
  auto status = s.ctl("alice", {"--json", "status"});
  BOOST_TEST(status.out.find("\"tracker\":\"online\"") != std::string::npos,
             status.out);
  auto log = file_of(s.dir / "tracker.log");
  BOOST_TEST(log.find("is not a client handshake") != std::string::npos);
  BOOST_TEST(log.find("guard.max-message") != std::string::npos);
}

// A connection that never finishes its handshake is closed after
// guard.handshake-ms (5 s by default), one that sent part of it too.
BOOST_AUTO_TEST_CASE(a_connection_that_never_handshakes_is_closed) {
  swarm s;
  s.start_tracker();
  raw_conn idle{s.tracker_ports.port};
  raw_conn partial{s.tracker_ports.port};
  BOOST_REQUIRE(partial.put(basp_bytes(1, 100) + "part of it"));
  auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(idle.closed_within(7000ms));
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - t0)
                  .count();
  BOOST_TEST(waited > 4000);
  BOOST_TEST(partial.closed_within(1000ms));
  BOOST_TEST(file_of(s.dir / "tracker.log").find("no handshake within 5000 ms")
             != std::string::npos);
  BOOST_TEST(s.ctl(s.tracker_ports, {"actors"}).code == 0);
}

// Connections from one remote address beyond guard.max-per-address are
// closed at once; the tracker keeps answering, and a peer from another
// address starts and goes online meanwhile.
BOOST_AUTO_TEST_CASE(connections_beyond_the_cap_per_address_are_refused) {
  swarm s;
  s.start_tracker({"--guard.max-per-address=16"});
  std::vector<std::unique_ptr<raw_conn>> cs;
  int refused = 0;
  auto slowest = slowest_answer_during(s.tracker_ports.port, [&] {
    for (int i = 0; i < 40; ++i) {
      cs.push_back(std::make_unique<raw_conn>(s.tracker_ports.port,
                                              "127.0.0.2"));
      if (cs.back()->closed_within(100ms))
        ++refused;
    }
  });
  BOOST_TEST(slowest < 1000);
  BOOST_TEST(refused == 24);
  s.start_peer("alice"); // from 127.0.0.1, while the 16 are still open
  BOOST_TEST(s.ctl("alice", {"--json", "status"}).code == 0);
  BOOST_TEST(file_of(s.dir / "tracker.log").find("guard.max-per-address")
             != std::string::npos);
}
