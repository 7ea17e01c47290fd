// The tracker actor under the deterministic scheduler with virtual time:
// sessions, heartbeats, offline detection, restart, refusals, and the ticket
// key it gets from the group manager.
#define BOOST_TEST_MODULE tracker
#include <boost/test/unit_test.hpp>

#include "tests/tracker/tracker_fixture.hpp"

using namespace actorrent;
using namespace actorrent::test;

namespace {

struct fixture : tracker_fixture {
  pb::Manifest iso = manifest_of("a.iso", 4, 'x');

  caf::expected<pb::AnnounceReply> announce(const std::string& peer,
                                            uint32_t port = 7001) {
    return announce_as(peer, port, {iso});
  }

  caf::expected<pb::AnnounceReply> heartbeat(const std::string& peer) {
    auto hb = from<pb::Heartbeat>(peer);
    return ask<pb::AnnounceReply>(trk, heartbeat_atom::value, hb);
  }

  /// Online sources of a.iso.
  int sources() {
    auto info = ask<pb::FileInfo>(trk, info_atom::value, query("a.iso"));
    BOOST_REQUIRE_MESSAGE(info, why(info));
    return info->sources_size();
  }

  /// Advances virtual time and runs what became due.
  void wait(caf::timespan d) {
    sched.advance_time(d);
    sched.run();
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(tracker_actor_tests, fixture)

BOOST_AUTO_TEST_CASE(announce_records_files_and_hands_out_the_ticket_key) {
  auto r = announce("p1");
  BOOST_REQUIRE_MESSAGE(r, why(r));
  BOOST_TEST(r->heartbeat_ms() == 1000u);
  BOOST_TEST(r->rejected_size() == 0);
  BOOST_TEST(r->public_key().size() == 32u);
  auto key = ask<std::string>(gm, ticket_key_atom::value);
  BOOST_REQUIRE(key);
  BOOST_TEST((r->public_key() == *key));
  BOOST_TEST(code_of(announce("p2", 7002)) == "ok");
  BOOST_TEST(sources() == 2);
  auto list = ask<pb::FileList>(trk, list_atom::value, query(""));
  BOOST_REQUIRE(list);
  BOOST_REQUIRE(list->files_size() == 1);
  BOOST_TEST(list->files(0).online_sources() == 2u);
  BOOST_TEST(list->files(0).complete_sources() == 2u);
}

// A query may ask for fewer sources than the tracker hands out (numwant).
BOOST_AUTO_TEST_CASE(a_query_bounds_the_sources_it_gets) {
  for (auto p : {"p1", "p2", "p3"})
    BOOST_REQUIRE(announce(p, 7000 + (p[1] - '0')));
  auto q = query("a.iso");
  q.set_want(2);
  auto info = ask<pb::FileInfo>(trk, info_atom::value, q);
  BOOST_REQUIRE_MESSAGE(info, why(info));
  BOOST_TEST(info->sources_size() == 2);
  q.set_want(0); // the tracker's bound (50)
  info = ask<pb::FileInfo>(trk, info_atom::value, q);
  BOOST_REQUIRE(info);
  BOOST_TEST(info->sources_size() == 3);
}

BOOST_AUTO_TEST_CASE(heartbeats_keep_a_peer_online) {
  BOOST_REQUIRE(announce("p1"));
  for (int i = 0; i < 10; ++i) {
    wait(1s);
    BOOST_TEST_REQUIRE(code_of(heartbeat("p1")) == "ok", "heartbeat " << i);
  }
  BOOST_TEST(sources() == 1);
}

BOOST_AUTO_TEST_CASE(a_peer_silent_for_2_5_s_is_offline) {
  BOOST_REQUIRE(announce("p1"));
  wait(2400ms);
  BOOST_TEST(sources() == 1);
  wait(100ms);
  BOOST_TEST(sources() == 0);
  BOOST_TEST(code_of(heartbeat("p1")) == "unknown_peer");
  // Announcing again brings it back.
  BOOST_REQUIRE(announce("p1"));
  BOOST_TEST(sources() == 1);
}

BOOST_AUTO_TEST_CASE(silence_counts_from_the_last_heartbeat) {
  BOOST_REQUIRE(announce("p1"));
  wait(1s);
  BOOST_REQUIRE(heartbeat("p1"));
  wait(2400ms); // 3.4 s after the announce, 2.4 s after the heartbeat
  BOOST_TEST(sources() == 1);
  wait(100ms);
  BOOST_TEST(sources() == 0);
}

BOOST_AUTO_TEST_CASE(a_restarted_tracker_asks_peers_to_announce_again) {
  BOOST_REQUIRE(announce("p1"));
  restart_tracker();
  BOOST_TEST(sources() == 0); // nobody is online after a restart
  BOOST_TEST(code_of(heartbeat("p1")) == "unknown_peer");
  auto h = from<pb::Have>("p1");
  h.set_name("a.iso");
  h.add_pieces(0);
  BOOST_TEST(code_of(ask<caf::ok_atom>(trk, have_atom::value, h))
             == "unknown_peer");
  auto r = announce("p1");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->public_key().size() == 32u); // asked the group manager again
  BOOST_TEST(sources() == 1);
  BOOST_TEST(code_of(heartbeat("p1")) == "ok");
}

BOOST_AUTO_TEST_CASE(bad_names_and_bad_messages_are_refused) {
  auto r = announce_as("p1", 7001, {iso, manifest_of("../etc", 2, 'y')});
  BOOST_REQUIRE(r);
  BOOST_REQUIRE(r->rejected_size() == 1);
  BOOST_TEST(r->rejected(0).find("../etc") == 0u);
  BOOST_TEST(sources() == 1); // the good file was recorded
  auto info = ask<pb::FileInfo>(trk, info_atom::value, query("../etc"));
  BOOST_TEST(code_of(info) == "bad_name");
  info = ask<pb::FileInfo>(trk, info_atom::value, query("nope.iso"));
  BOOST_TEST(code_of(info) == "unknown_file");
  info = ask<pb::FileInfo>(trk, info_atom::value,
                           query(group_key("films", "a.iso")));
  BOOST_TEST(code_of(info) == "denied");
  auto h = from<pb::Have>("p1");
  h.set_name("a/b");
  BOOST_TEST(code_of(ask<caf::ok_atom>(trk, have_atom::value, h))
             == "bad_name");
  h.set_name("a.iso");
  h.add_pieces(4); // out of range
  BOOST_TEST(code_of(ask<caf::ok_atom>(trk, have_atom::value, h))
             == "bad_piece");
  auto no_host = announce_of("p2", 7002, {iso});
  no_host.clear_host();
  BOOST_TEST(code_of(ask<pb::AnnounceReply>(trk, announce_atom::value, no_host))
             == "bad_message");
}

BOOST_AUTO_TEST_CASE(leave_drops_a_file_or_the_whole_peer) {
  BOOST_REQUIRE(announce("p1"));
  BOOST_REQUIRE(announce("p2", 7002));
  auto l = from<pb::Leave>("p1");
  l.set_name("a.iso");
  BOOST_TEST(code_of(ask<caf::ok_atom>(trk, leave_atom::value, l)) == "ok");
  BOOST_TEST(sources() == 1);
  l = from<pb::Leave>("p2");
  BOOST_TEST(code_of(ask<caf::ok_atom>(trk, leave_atom::value, l)) == "ok");
  BOOST_TEST(sources() == 0);
  BOOST_TEST(code_of(heartbeat("p2")) == "unknown_peer");
}

// A peer proves its id: the id is derived from its key, and it signs a
// fresh challenge of this tracker, once.
BOOST_AUTO_TEST_CASE(an_announce_must_prove_its_peer_id) {
  BOOST_REQUIRE(announce("p1"));
  // Unsigned, in p1's name.
  pb::Announce plain;
  plain.set_peer_id(id("p1"));
  plain.set_host("127.0.0.1");
  plain.set_port(7666);
  BOOST_TEST(code_of(ask<pb::AnnounceReply>(trk, announce_atom::value, plain))
             == "denied");
  // Signed by mallory's key, claiming p1's id.
  auto forged = announce_of("mallory", 7666, {});
  forged.set_peer_id(id("p1"));
  BOOST_TEST(why(ask<pb::AnnounceReply>(trk, announce_atom::value, forged))
               .find("not the one of the announced key")
             != std::string::npos);
  // Signed, but the address was changed afterwards.
  auto moved = announce_of("p1", 7001, {iso});
  moved.set_port(7666);
  BOOST_TEST(code_of(ask<pb::AnnounceReply>(trk, announce_atom::value, moved))
             == "denied");
  // A challenge counts once.
  auto once = announce_of("p1", 7001, {iso});
  BOOST_TEST(code_of(ask<pb::AnnounceReply>(trk, announce_atom::value, once))
             == "ok");
  BOOST_TEST(code_of(ask<pb::AnnounceReply>(trk, announce_atom::value, once))
             == "denied");
  // And only for a while.
  auto late = announce_of("p1", 7001, {iso});
  wait(10s);
  BOOST_TEST(code_of(ask<pb::AnnounceReply>(trk, announce_atom::value, late))
             == "denied");
  BOOST_TEST(code_of(announce("p1")) == "ok");
  // p1 is still listed at its own address.
  auto info = ask<pb::FileInfo>(trk, info_atom::value, query("a.iso"));
  BOOST_REQUIRE(info);
  BOOST_REQUIRE_EQUAL(info->sources_size(), 1);
  BOOST_TEST(info->sources(0).port() == 7001u);
}

// At most 10,000 challenges are pending (tracker_options::max_challenges);
// each expires after its TTL (10 s) and then makes room for a new one.
BOOST_AUTO_TEST_CASE(pending_challenges_are_bounded_and_expire) {
  auto challenge = [&] { return ask<pb::Challenge>(trk, challenge_atom::value); };
  for (int i = 0; i < 6000; ++i)
    BOOST_REQUIRE(challenge());
  wait(5s);
  for (int i = 0; i < 4000; ++i)
    BOOST_REQUIRE(challenge());
  BOOST_TEST(code_of(challenge()) == "tracker_unavailable");
  // The first 6,000 expire: room for as many again, and no more.
  wait(5s);
  for (int i = 0; i < 6000; ++i)
    BOOST_REQUIRE(challenge());
  BOOST_TEST(code_of(challenge()) == "tracker_unavailable");
  // The 4,000 expire; an announce takes a challenge and answers it, which
  // frees its place at once: room for exactly 4,000 after it.
  wait(5s);
  BOOST_TEST(code_of(announce("p1")) == "ok");
  for (int i = 0; i < 4000; ++i)
    BOOST_REQUIRE(challenge());
  BOOST_TEST(code_of(challenge()) == "tracker_unavailable");
}

// Heartbeats, haves and leaves count only with the peer's session token:
// nobody else can mark it offline, add pieces or withdraw its files.
BOOST_AUTO_TEST_CASE(messages_in_another_peers_name_are_refused) {
  BOOST_REQUIRE(announce("p1"));
  BOOST_REQUIRE(announce("mallory", 7666));
  auto as_mallory = [&](auto msg) {
    msg.set_peer_id(id("p1"));
    msg.set_session(tokens["mallory"]);
    return msg;
  };
  auto l = as_mallory(from<pb::Leave>("mallory"));
  BOOST_TEST(code_of(ask<caf::ok_atom>(trk, leave_atom::value, l)) == "denied");
  l.set_name("a.iso");
  BOOST_TEST(code_of(ask<caf::ok_atom>(trk, leave_atom::value, l)) == "denied");
  auto hb = as_mallory(from<pb::Heartbeat>("mallory"));
  BOOST_TEST(code_of(ask<pb::AnnounceReply>(trk, heartbeat_atom::value, hb))
             == "unknown_peer");
  auto h = as_mallory(from<pb::Have>("mallory"));
  h.set_name("a.iso");
  h.add_pieces(0);
  BOOST_TEST(code_of(ask<caf::ok_atom>(trk, have_atom::value, h))
             == "unknown_peer");
  BOOST_TEST(sources() == 2);
  BOOST_TEST(code_of(heartbeat("p1")) == "ok");
  // A re-announce keeps the session token.
  auto token = tokens["p1"];
  BOOST_REQUIRE(announce("p1"));
  BOOST_TEST(tokens["p1"] == token);
}

BOOST_AUTO_TEST_SUITE_END()

// Without a group manager yet, announces wait for the ticket key.
struct no_groups_fixture : tracker_fixture {
  no_groups_fixture() : tracker_fixture(false) {}
};

BOOST_FIXTURE_TEST_CASE(announces_wait_for_the_group_manager, no_groups_fixture) {
  auto iso = manifest_of("a.iso", 4, 'x');
  auto r = announce_as("p1", 7001, {iso});
  BOOST_TEST(code_of(r) == "request_timeout"); // no reply yet
  start_group_manager();
  sched.advance_time(250ms); // the tracker asks again
  sched.run();
  self->receive(
    [](const pb::AnnounceReply& x) {
      BOOST_TEST(x.public_key().size() == 32u);
    },
    [](caf::error& err) { BOOST_FAIL(render(err)); },
    caf::after(std::chrono::seconds(0)) >> [] { BOOST_FAIL("no reply"); });
}

// A group manager that never comes (failed for good) does not stop the
// catalog: after 2 s of virtual time announces are answered without a key.
BOOST_FIXTURE_TEST_CASE(announces_do_not_wait_for_ever, no_groups_fixture) {
  auto iso = manifest_of("a.iso", 4, 'x');
  auto r = announce_as("p1", 7001, {iso});
  BOOST_TEST(code_of(r) == "request_timeout"); // waiting
  for (int i = 0; i < 7; ++i) { // 1.75 s: still waiting
    sched.advance_time(250ms);
    sched.run();
  }
  bool early = false;
  self->receive([&](const pb::AnnounceReply&) { early = true; },
                [&](caf::error&) { early = true; },
                caf::after(std::chrono::seconds(0)) >> [] {});
  BOOST_TEST(!early);
  sched.advance_time(250ms); // 2 s
  sched.run();
  self->receive(
    [](const pb::AnnounceReply& x) { BOOST_TEST(x.public_key().empty()); },
    [](caf::error& err) { BOOST_FAIL(render(err)); },
    caf::after(std::chrono::seconds(0)) >> [] { BOOST_FAIL("no reply"); });
  // Later announces are answered at once.
  auto again = announce_as("p2", 7002, {iso});
  BOOST_TEST(code_of(again) == "ok");
}
