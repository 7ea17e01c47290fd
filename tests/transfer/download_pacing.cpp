// A download's pacing: one window of requests for the whole download, sized
// to its downlink, and a source refresh that backs off while the sources
// are good.
#define BOOST_TEST_MODULE download_pacing
#include <boost/test/unit_test.hpp>

#include "actors/transfer/download_pacing.hpp"

using namespace actorrent;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(the_window_starts_at_two_per_source_windows) {
  BOOST_CHECK_EQUAL((download_window{4, 64}.limit()), 8u);
  BOOST_CHECK_EQUAL((download_window{4, 6}.limit()), 6u);  // not above max
  BOOST_CHECK_EQUAL((download_window{0, 64}.limit()), 2u); // never zero
  // The cap is never below one source's window.
  BOOST_CHECK_EQUAL((download_window{8, 2}.max), 8u);
}

// Fast replies: one more request per reply, up to the cap, never above.
BOOST_AUTO_TEST_CASE(fast_replies_grow_the_window_to_its_cap) {
  download_window w{4, 64};
  for (int i = 0; i < 10; ++i)
    w.on_reply(40ms);
  BOOST_CHECK_EQUAL(w.limit(), 18u);
  for (int i = 0; i < 200; ++i)
    w.on_reply(40ms);
  BOOST_CHECK_EQUAL(w.limit(), 64u);
}

// Requests that queue on the downlink take longer than twice the fastest
// reply: the window shrinks, down to the per-source window and no lower.
BOOST_AUTO_TEST_CASE(replies_that_queued_shrink_the_window) {
  download_window w{4, 64};
  for (int i = 0; i < 16; ++i)
    w.on_reply(40ms);
  BOOST_CHECK_EQUAL(w.limit(), 24u);
  for (int i = 0; i < 5; ++i)
    w.on_reply(400ms);
  BOOST_CHECK_EQUAL(w.limit(), 19u);
  BOOST_TEST(!w.slow_start);
  // Out of slow start: about one more per window of fast replies.
  for (int i = 0; i < 19; ++i)
    w.on_reply(40ms);
  BOOST_CHECK_EQUAL(w.limit(), 19u);
  w.on_reply(40ms);
  BOOST_CHECK_EQUAL(w.limit(), 20u);
  for (int i = 0; i < 100; ++i)
    w.on_reply(1s);
  BOOST_CHECK_EQUAL(w.limit(), 4u);
}

BOOST_AUTO_TEST_CASE(timeouts_halve_the_window) {
  download_window w{4, 64};
  for (int i = 0; i < 24; ++i)
    w.on_reply(40ms);
  BOOST_CHECK_EQUAL(w.limit(), 32u);
  w.on_overload();
  BOOST_CHECK_EQUAL(w.limit(), 16u);
  w.on_overload();
  w.on_overload();
  w.on_overload();
  BOOST_CHECK_EQUAL(w.limit(), 4u);
}

BOOST_AUTO_TEST_CASE(the_refresh_backs_off_while_sources_are_good) {
  refresh_backoff b{250ms, 4000ms};
  std::vector<long> got;
  for (int i = 0; i < 6; ++i)
    got.push_back(b.after_answer(false).count());
  BOOST_TEST(got == (std::vector<long>{500, 1000, 2000, 4000, 4000, 4000}));
}

BOOST_AUTO_TEST_CASE(the_refresh_is_quick_again_when_sources_run_short) {
  refresh_backoff b{250ms, 4000ms};
  b.after_answer(false);
  b.after_answer(false);
  BOOST_CHECK_EQUAL(b.after_answer(true).count(), 250);
  b.after_answer(false);
  b.after_answer(false);
  b.reset(); // a source was lost
  BOOST_CHECK_EQUAL(b.interval.count(), 250);
  BOOST_CHECK_EQUAL(b.after_answer(false).count(), 500);
}
