#define BOOST_TEST_MODULE piece_picker
#include <boost/test/unit_test.hpp>

#include <set>

#include "actors/transfer/piece_picker.hpp"

using namespace actorrent;
using namespace std::chrono_literals;

namespace {

bitfield bits(uint32_t n, std::initializer_list<uint32_t> xs) {
  bitfield b{n};
  for (auto x : xs)
    b.set(x);
  return b;
}

const auto t0 = std::chrono::steady_clock::time_point{} + 1h;

} // namespace

BOOST_AUTO_TEST_CASE(rarest_piece_first) {
  piece_picker pp{bitfield{4}, 1};
  pp.set_source("a", bitfield{4, true});
  pp.set_source("b", bits(4, {0, 1, 2}));
  pp.set_source("c", bits(4, {0, 1}));
  // Piece 3 is only at a, piece 2 at a and b.
  BOOST_TEST(*pp.pick("a", t0) == 3u);
  pp.requested(3, "a", t0);
  BOOST_TEST(*pp.pick("a", t0) == 2u);
  BOOST_TEST(*pp.pick("b", t0) == 2u);
}

BOOST_AUTO_TEST_CASE(ties_are_broken_at_random) {
  std::set<uint32_t> firsts;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    piece_picker pp{bitfield{16}, seed};
    pp.set_source("a", bitfield{16, true});
    firsts.insert(*pp.pick("a", t0));
  }
  BOOST_TEST(firsts.size() > 5u);
}

BOOST_AUTO_TEST_CASE(never_picks_held_or_requested_pieces) {
  piece_picker pp{bits(3, {0}), 7};
  pp.set_source("a", bitfield{3, true});
  std::set<uint32_t> got;
  for (int i = 0; i < 2; ++i) {
    auto p = pp.pick("a", t0);
    BOOST_REQUIRE(p);
    got.insert(*p);
    pp.requested(*p, "a", t0);
  }
  BOOST_TEST((got == std::set<uint32_t>{1, 2}));
  BOOST_TEST(!pp.pick("a", t0)); // nothing left for a
}

BOOST_AUTO_TEST_CASE(endgame_duplicates_only_slow_requests) {
  piece_picker pp{bitfield{2}, 3};
  pp.set_source("slow", bitfield{2, true});
  pp.set_source("fast", bitfield{2, true});
  pp.requested(0, "slow", t0);
  pp.requested(1, "slow", t0);
  BOOST_TEST(pp.endgame());
  BOOST_TEST(!pp.pick("fast", t0 + 100ms)); // not waited long enough
  auto p = pp.pick("fast", t0 + 600ms);
  BOOST_REQUIRE(p);
  pp.requested(*p, "fast", t0 + 600ms);
  // The duplicate finishing first makes the slow request moot.
  auto others = pp.done(*p);
  BOOST_TEST(others.size() == 2u);
  BOOST_TEST(pp.have(*p));
}

BOOST_AUTO_TEST_CASE(no_duplicates_while_other_pieces_wait_to_be_asked_for) {
  // Two mirrors hold part 0 (pieces 0, 1), a third holds part 1 (2, 3) and
  // is busy: part 0's mirrors must not duplicate each other's requests
  // while pieces of part 1 have not been asked for yet.
  piece_picker pp{bitfield{4}, 3};
  bitfield part0{4}, part1{4};
  part0.set(0);
  part0.set(1);
  part1.set(2);
  part1.set(3);
  pp.set_source("m0", part0);
  pp.set_source("m1", part0);
  pp.set_source("m2", part1);
  pp.requested(0, "m0", t0);
  pp.requested(1, "m1", t0);
  pp.requested(2, "m2", t0);
  BOOST_TEST(!pp.pick("m0", t0 + 2s));  // piece 3 still waits for m2
  pp.requested(3, "m2", t0);
  pp.done(2);
  pp.done(3);
  auto p = pp.pick("m0", t0 + 2s);      // now the end game: duplicate
  BOOST_REQUIRE(p);
  BOOST_TEST(*p == 1u);
}

BOOST_AUTO_TEST_CASE(the_end_game_is_only_the_last_pieces) {
  // Two sources with large windows hold every one of 8 pieces in flight:
  // duplicates wait until no more pieces are missing than there are sources.
  piece_picker pp{bitfield{8}, 3};
  pp.set_source("a", bitfield{8, true});
  pp.set_source("b", bitfield{8, true});
  for (uint32_t i = 0; i < 8; ++i)
    pp.requested(i, i % 2 ? "b" : "a", t0);
  BOOST_TEST(!pp.pick("a", t0 + 2s));
  for (uint32_t i = 0; i < 6; ++i)
    pp.done(i);
  auto p = pp.pick("a", t0 + 2s);  // 2 missing, 2 sources: piece 7 (b's)
  BOOST_REQUIRE(p);
  BOOST_TEST(*p == 7u);
}

BOOST_AUTO_TEST_CASE(lost_source_returns_its_pieces) {
  piece_picker pp{bitfield{3}, 5};
  pp.set_source("a", bitfield{3, true});
  pp.set_source("b", bitfield{3, true});
  pp.requested(0, "a", t0);
  pp.requested(1, "a", t0);
  auto lost = pp.remove_source("a");
  BOOST_TEST(lost.size() == 2u);
  BOOST_TEST(pp.in_flight("a") == 0u);
  std::set<uint32_t> got;
  for (int i = 0; i < 3; ++i) {
    auto p = pp.pick("b", t0);
    BOOST_REQUIRE(p);
    got.insert(*p);
    pp.requested(*p, "b", t0);
  }
  BOOST_TEST(got.size() == 3u);
}

BOOST_AUTO_TEST_CASE(unavailable_names_pieces_nobody_has) {
  piece_picker pp{bits(4, {0}), 9};
  pp.set_source("a", bits(4, {1}));
  auto un = pp.unavailable();
  BOOST_TEST((un == std::vector<uint32_t>{2, 3}));
  pp.set_source("a", bits(4, {1, 2, 3})); // update replaces
  BOOST_TEST(pp.unavailable().empty());
  BOOST_TEST(pp.availability(1) == 1u);
  pp.remove_source("a");
  BOOST_TEST(pp.unavailable().size() == 3u);
  BOOST_TEST(!pp.complete());
}

BOOST_AUTO_TEST_CASE(can_pick_says_whether_any_source_gets_a_piece) {
  piece_picker pp{bitfield{20}, 1};
  pp.set_source("a", bitfield{20, true});
  BOOST_TEST(pp.can_pick());
  for (uint32_t i = 0; i < 20; ++i)
    pp.requested(i, "a", t0);
  // Everything in flight, 20 missing: no endgame with one source.
  BOOST_TEST(!pp.can_pick());
  BOOST_TEST(!pp.pick("a", t0 + std::chrono::seconds(1)));
  for (uint32_t i = 0; i < 19; ++i)
    pp.done(i);
  // The last piece: the endgame may duplicate it.
  BOOST_TEST(pp.can_pick());
  pp.done(19);
  BOOST_TEST(!pp.can_pick());
}

BOOST_AUTO_TEST_CASE(a_source_after_a_removed_one_starts_with_nothing_in_flight) {
  // The picker numbers its sources and reuses a removed one's number: the
  // next source must not inherit its requests, its pieces or its count.
  piece_picker pp{bitfield{4}, 2};
  pp.set_source("a", bits(4, {0, 1}));
  pp.requested(0, "a", t0);
  pp.requested(1, "a", t0);
  BOOST_TEST(pp.in_flight() == 2u);
  pp.remove_source("a");
  BOOST_TEST(pp.in_flight() == 0u);
  BOOST_TEST(pp.pieces_in_flight() == 0u);
  pp.set_source("b", bits(4, {2}));
  BOOST_TEST(pp.in_flight("b") == 0u);
  BOOST_TEST(pp.availability(0) == 0u);
  BOOST_TEST(pp.availability(2) == 1u);
  auto p = pp.pick("b", t0);
  BOOST_REQUIRE(p);
  BOOST_TEST(*p == 2u);
  pp.requested(*p, "b", t0);
  // A request of the removed source's name is not the new source's.
  pp.failed(2, "a");
  BOOST_TEST(pp.in_flight("b") == 1u);
  BOOST_TEST(pp.done(2) == std::vector<std::string>{"b"});
  BOOST_TEST(pp.in_flight() == 0u);
}
