#define BOOST_TEST_MODULE supervisor
#include <boost/test/unit_test.hpp>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/node/supervisor.hpp"
#include "tests/fixtures.hpp"

using namespace actorrent;
using namespace std::chrono_literals;

namespace {

caf::behavior worker(caf::event_based_actor*) {
  return {[](int x) { return x * 2; }};
}

struct fixture : test::deterministic_fixture {
  std::shared_ptr<actor_slot> slot;
  supervisor_actor sup;
  int spawned = 0;

  fixture() {
    child_spec spec{"worker", [this](caf::actor_system& sys) {
                      ++spawned;
                      return caf::actor_cast<caf::strong_actor_ptr>(
                        sys.spawn(worker));
                    }};
    slot = spec.slot;
    sup = sys.spawn(supervisor, std::vector<child_spec>{spec},
                    supervisor_options{});
    sched.run();
  }

  ~fixture() {
    caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
    sched.run();
  }

  pb::ActorStatus status() {
    self->send(sup, list_atom::value);
    sched.run();
    pb::ActorStatus out;
    self->receive([&](const pb::ActorList& xs) { out = xs.actors(0); },
                  caf::after(0s) >> [] { BOOST_FAIL("no reply"); });
    return out;
  }

  void kill_child() {
    auto child = slot->get();
    BOOST_REQUIRE(child);
    caf::anon_send_exit(child, caf::exit_reason::kill);
    sched.run();
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(supervision, fixture)

BOOST_AUTO_TEST_CASE(restarts_after_backoff_from_50ms) {
  BOOST_TEST(status().state() == "running");
  auto first = slot->get();
  kill_child();
  BOOST_TEST(status().state() == "restarting");
  BOOST_TEST(!slot->get());
  sched.advance_time(49ms);
  sched.run();
  BOOST_TEST(status().state() == "restarting");
  sched.advance_time(1ms);
  sched.run();
  auto st = status();
  BOOST_TEST(st.state() == "running");
  BOOST_TEST(st.restarts() == 1u);
  BOOST_TEST(st.last_exit().find("kill") != std::string::npos);
  BOOST_REQUIRE(slot->get());
  BOOST_TEST((slot->get() != first));
  BOOST_TEST(spawned == 2);
}

BOOST_AUTO_TEST_CASE(backoff_doubles_then_gives_up_after_5_restarts_in_10s) {
  auto backoff = 50ms;
  for (int i = 1; i <= 5; ++i) {
    kill_child();
    sched.advance_time(backoff - 1ms);
    sched.run();
    BOOST_TEST(status().state() == "restarting", "restart " << i);
    sched.advance_time(1ms);
    sched.run();
    BOOST_TEST(status().state() == "running", "restart " << i);
    backoff *= 2;
  }
  // 50+100+200+400+800 ms: all within 10 s. The sixth crash is one too many.
  kill_child();
  auto st = status();
  BOOST_TEST(st.state() == "failed");
  BOOST_TEST(st.restarts() == 5u);
  sched.advance_time(10s);
  sched.run();
  BOOST_TEST(status().state() == "failed");
  BOOST_TEST(spawned == 6);
}

BOOST_AUTO_TEST_CASE(hard_kill_stops_and_restart_starts_again) {
  self->send(sup, kill_atom::value, std::string{"worker"}, true);
  sched.run();
  self->receive([](caf::ok_atom) {}, caf::after(0s) >> [] { BOOST_FAIL("no ok"); });
  sched.advance_time(10s);
  sched.run();
  BOOST_TEST(status().state() == "stopped");
  BOOST_TEST(!slot->get());
  self->send(sup, restart_atom::value, std::string{"worker"});
  sched.run();
  self->receive([](caf::ok_atom) {}, caf::after(0s) >> [] { BOOST_FAIL("no ok"); });
  BOOST_TEST(status().state() == "running");
  BOOST_TEST(spawned == 2);
}

BOOST_AUTO_TEST_CASE(unknown_child_is_an_error) {
  self->send(sup, kill_atom::value, std::string{"nobody"}, false);
  sched.run();
  bool got_error = false;
  self->receive([](caf::ok_atom) {},
                [&](const caf::error& err) {
                  got_error = true;
                  BOOST_TEST(render(err) == "no_such_actor: nobody");
                },
                caf::after(0s) >> [] {});
  BOOST_TEST(got_error);
}

BOOST_AUTO_TEST_CASE(a_child_that_ran_a_whole_window_starts_over) {
  kill_child();
  sched.advance_time(50ms);
  sched.run();
  kill_child();                 // backoff is now 100 ms
  sched.advance_time(100ms);
  sched.run();
  sched.advance_time(11s);      // quiet for longer than the window
  kill_child();
  sched.advance_time(50ms);     // back to 50 ms
  sched.run();
  BOOST_TEST(status().state() == "running");
}

BOOST_AUTO_TEST_SUITE_END()
