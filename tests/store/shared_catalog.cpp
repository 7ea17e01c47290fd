#define BOOST_TEST_MODULE shared_catalog
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>

#include "actors/core/manifest.hpp"
#include "actors/store/catalog_store.hpp"
#include "actors/store/group_store.hpp"
#include "tests/fixtures.hpp"
#include "tests/pg_server.hpp"
#include "tests/store/databases.hpp"

// Several trackers on one PostgreSQL catalog: each its own connection, as
// two tracker processes would have.

using namespace actorrent;
using test::manifest_of;

namespace {

pb::Announce announce(const std::string& peer, uint32_t port,
                      const pb::Manifest& m, const bitfield& have) {
  return test::plain_announce(peer, port, m, have.bytes());
}

size_t sources(catalog_store& st, const std::string& name) {
  auto info = st.info(name);
  return info ? static_cast<size_t>(info->sources_size()) : 0;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(postgres, test::pg_db)

BOOST_AUTO_TEST_CASE(a_tracker_ends_only_the_sessions_it_holds) {
  auto a = open_catalog_store(location, "127.0.0.1:6881");
  auto b = open_catalog_store(location, "127.0.0.1:6882");
  BOOST_TEST(a->shared());
  auto m = manifest_of("a", 4, 'x');
  a->announce(announce("p1", 7001, m, bitfield{4, true}));
  a->announce(announce("p2", 7002, m, bitfield{4, true}));
  // p1 moves to the second tracker; the first one's expiry of p1 comes late.
  b->announce(announce("p1", 7001, m, bitfield{4, true}));
  a->set_offline("p1");
  BOOST_TEST(sources(*b, "a") == 2u);
  // The second tracker restarts: its own peers (p1) go offline, not p2.
  b->set_all_offline();
  auto info = a->info("a");
  BOOST_REQUIRE(info);
  BOOST_REQUIRE(info->sources_size() == 1);
  BOOST_TEST(info->sources(0).peer_id() == "p2");
}

BOOST_AUTO_TEST_CASE(the_peers_of_a_silent_tracker_go_offline) {
  auto a = open_catalog_store(location, "a");
  auto b = open_catalog_store(location, "b");
  auto m = manifest_of("f", 2, 'x');
  a->alive(300);
  b->alive(300);
  a->announce(announce("p1", 7001, m, bitfield{2, true}));
  b->announce(announce("p2", 7002, m, bitfield{2, true}));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  b->alive(300);
  BOOST_TEST(sources(*b, "f") == 2u); // a was seen 200 ms ago
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  b->alive(300);
  auto info = b->info("f");
  BOOST_REQUIRE(info->sources_size() == 1);
  BOOST_TEST(info->sources(0).peer_id() == "p2");
}

BOOST_AUTO_TEST_CASE(concurrent_haves_through_two_trackers_all_count) {
  auto a = open_catalog_store(location, "a");
  auto b = open_catalog_store(location, "b");
  constexpr uint32_t pieces = 120;
  a->announce(announce("p1", 7001, manifest_of("big", pieces, 'x'),
                       bitfield{pieces}));
  auto drive = [](catalog_store* st, uint32_t first) {
    for (uint32_t p = first; p < pieces; p += 2) {
      pb::Have h;
      h.set_peer_id("p1");
      h.set_name("big");
      h.add_pieces(p);
      st->have(h);
    }
  };
  std::thread t1{drive, a.get(), 0};
  std::thread t2{drive, b.get(), 1};
  t1.join();
  t2.join();
  auto info = a->info("big");
  BOOST_REQUIRE(info->sources_size() == 1);
  BOOST_TEST(info->sources(0).pieces_held() == pieces);
}

BOOST_AUTO_TEST_CASE(trackers_share_the_ticket_key_and_race_fairly) {
  std::unique_ptr<group_store> a, b;
  std::thread ta{[&] { a = open_group_store(location); }};
  std::thread tb{[&] { b = open_group_store(location); }};
  ta.join();
  tb.join();
  BOOST_TEST(!a->key().public_key.empty());
  BOOST_TEST(a->key().public_key == b->key().public_key);
  BOOST_TEST(a->key().secret_key == b->key().secret_key);
  a->create_user("alice", "pw-a");
  b->create_user("bob", "pw-b");
  // Both create the same group at once: exactly one wins.
  std::atomic<int> won{0}, conflicts{0};
  auto create = [&](group_store* gs, const std::string& user) {
    try {
      gs->create_group(user, "g");
      ++won;
    } catch (refusal& r) {
      if (r.code == errc::conflict)
        ++conflicts;
    }
  };
  std::thread c1{create, a.get(), "alice"};
  std::thread c2{create, b.get(), "bob"};
  c1.join();
  c2.join();
  BOOST_TEST(won.load() == 1);
  BOOST_TEST(conflicts.load() == 1);
  // A session made through one tracker is known to the other.
  auto token = a->login("bob", "pw-b");
  BOOST_TEST(b->user_of(token) == "bob");
}

BOOST_AUTO_TEST_SUITE_END()
