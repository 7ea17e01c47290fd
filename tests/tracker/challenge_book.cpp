// The tracker's pending challenges: bounded, answered once, expired in the
// order they were handed out, and the expiry order compacted when it holds
// mostly answered ones (so it cannot grow with traffic).
#define BOOST_TEST_MODULE challenge_book
#include <boost/test/unit_test.hpp>

#include "actors/tracker/challenge_book.hpp"

using actorrent::challenge_book;
using namespace std::chrono_literals;

namespace {

const challenge_book::time_point t0{};

std::string nonce(int i) {
  return "n" + std::to_string(i);
}

} // namespace

BOOST_AUTO_TEST_CASE(at_most_max_pending_and_each_answered_once) {
  challenge_book b;
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(b.has_room(t0, 3));
    b.add(nonce(i), t0 + 10s);
  }
  BOOST_TEST(!b.has_room(t0, 3));
  BOOST_TEST(b.take(nonce(1), t0 + 1s));
  BOOST_TEST(!b.take(nonce(1), t0 + 1s));
  BOOST_TEST(!b.take("unknown", t0 + 1s));
  BOOST_TEST(b.has_room(t0 + 1s, 3)); // the answered one made room
  BOOST_TEST(b.pending() == 2u);
}

BOOST_AUTO_TEST_CASE(challenges_expire_in_order_and_not_before) {
  challenge_book b;
  b.add(nonce(0), t0 + 10s);
  b.add(nonce(1), t0 + 15s);
  BOOST_TEST(!b.has_room(t0 + 9s, 2));
  BOOST_TEST(b.has_room(t0 + 10s, 2));
  BOOST_TEST(b.pending() == 1u);
  BOOST_TEST(!b.take(nonce(0), t0 + 10s)); // expired
  BOOST_TEST(!b.take(nonce(1), t0 + 15s)); // expired at its own time
  BOOST_TEST(b.take(nonce(1), t0 + 14s)); // not before
}

BOOST_AUTO_TEST_CASE(answered_ones_are_compacted_away_and_pending_ones_kept) {
  challenge_book b;
  for (int i = 0; i < 5; ++i)
    b.add(nonce(i), t0 + 10s + std::chrono::seconds(i));
  for (int i = 5; i < 3005; ++i) {
    b.add(nonce(i), t0 + 20s);
    BOOST_REQUIRE(b.take(nonce(i), t0 + 1s));
  }
  BOOST_TEST(b.queued() == 3005u);
  BOOST_TEST(b.has_room(t0 + 1s, 10000));
  BOOST_TEST(b.queued() == 5u); // only the pending ones
  BOOST_TEST(b.pending() == 5u);
  // They still expire one by one, at their own times.
  b.has_room(t0 + 12s, 10000);
  BOOST_TEST(b.pending() == 2u);
  BOOST_TEST(b.take(nonce(4), t0 + 12s));
  BOOST_TEST(!b.take(nonce(2), t0 + 12s));
}
