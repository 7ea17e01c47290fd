// A source's request window: additive increase on replies, halved on busy
// replies and timeouts, between 1 and the configured window.
#define BOOST_TEST_MODULE source_window
#include <boost/test/unit_test.hpp>

#include "actors/transfer/source_window.hpp"

using namespace actorrent;

BOOST_AUTO_TEST_CASE(starts_at_the_configured_window) {
  BOOST_CHECK_EQUAL(source_window{8}.limit(), 8u);
  BOOST_CHECK_EQUAL(source_window{1}.limit(), 1u);
  BOOST_CHECK_EQUAL(source_window{0}.limit(), 1u); // never zero
}

BOOST_AUTO_TEST_CASE(halves_on_overload_down_to_one) {
  source_window w{8};
  for (uint32_t want : {4u, 2u, 1u, 1u}) {
    w.on_overload();
    BOOST_CHECK_EQUAL(w.limit(), want);
  }
}

// About one more request per window's worth of replies, never above the
// configured window.
BOOST_AUTO_TEST_CASE(grows_by_one_per_window_of_replies) {
  source_window w{8};
  w.on_overload(); // 4
  for (int i = 0; i < 4; ++i) {
    w.on_reply();
    BOOST_CHECK_EQUAL(w.limit(), 4u);
  }
  w.on_reply();
  BOOST_CHECK_EQUAL(w.limit(), 5u);
  for (int i = 0; i < 1000; ++i)
    w.on_reply();
  BOOST_CHECK_EQUAL(w.limit(), 8u);
}

// A paced source that serves 3 requests a round and answers busy to the
// rest: the window settles around what it delivers, so busy replies are
// rare, where a fixed window of 8 gets 5 busy replies every round.
BOOST_AUTO_TEST_CASE(settles_at_what_a_paced_source_delivers) {
  source_window w{8};
  const uint32_t capacity = 3;
  int busy = 0, served = 0;
  double sum = 0;
  for (int round = 0; round < 200; ++round) {
    auto sent = w.limit();
    for (uint32_t i = 0; i < sent; ++i) {
      if (i < capacity) {
        w.on_reply();
        if (round >= 100)
          ++served;
      } else {
        w.on_overload();
        if (round >= 100)
          ++busy;
      }
    }
    if (round >= 100)
      sum += sent;
  }
  BOOST_TEST_MESSAGE("mean window " << sum / 100 << ", busy " << busy
                                    << ", served " << served);
  BOOST_CHECK_LE(busy, 50);          // a fixed window: 500
  BOOST_CHECK_GE(served, 200);       // the source is kept mostly busy
  BOOST_CHECK_GE(sum / 100, 2.0);
  BOOST_CHECK_LE(sum / 100, 4.0);
}
