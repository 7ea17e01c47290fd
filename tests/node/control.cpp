// The control actor under the deterministic scheduler: supervision commands
// go to the supervisor, peer commands to the slot's actor, and a node
// without a peer agent refuses peer commands at once.
#define BOOST_TEST_MODULE control
#include <boost/test/unit_test.hpp>

#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/node/control.hpp"
#include "actors/node/supervisor.hpp"
#include "tests/fixtures.hpp"

using namespace actorrent;
using namespace std::chrono_literals;

namespace {

// Answers every peer command with its operation number.
peer_actor::behavior_type echo_peer(peer_actor::pointer) {
  return {
    [](command_atom, const pb::PeerRequest& rq) {
      pb::PeerReply r;
      r.add_lines("op " + std::to_string(rq.op_case()));
      return r;
    },
    [](info_atom, const pb::FileQuery&) { return pb::FileInfo{}; },
    [](manifest_atom, const pb::Manifest&) {},
    [](have_atom, const std::string&, const std::vector<uint32_t>&) {},
    [](corrupt_atom, const pb::BadPieceReport&) {},
    [](status_atom, const pb::DownloadStatus&) {},
    [](status_atom) { return pb::DownloadList{}; },
    [](reconnect_atom) {},
    [](heartbeat_atom) {},
    [](flush_atom) {},
  };
}

struct control_fixture : test::deterministic_fixture {
  child_spec agent{"peer", [](caf::actor_system& sys) {
                     return caf::actor_cast<caf::strong_actor_ptr>(
                       sys.spawn(echo_peer));
                   }};
  supervisor_actor sup;

  control_fixture() {
    sup = sys.spawn(supervisor, std::vector<child_spec>{agent},
                    supervisor_options{});
    sched.run();
  }

  ~control_fixture() {
    caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  }

  // Sends `xs` to `ctl`, runs everything and returns the one reply.
  template <class T, class... Ts>
  T ask(const control_actor& ctl, Ts... xs) {
    self->send(ctl, xs...);
    sched.run();
    T out;
    bool got = false;
    self->receive([&](T& x) { out = std::move(x); got = true; },
                  [&](caf::error& err) {
                    BOOST_FAIL("error: " << render(err));
                  },
                  caf::after(0s) >> [] {});
    BOOST_REQUIRE(got);
    return out;
  }

  caf::error ask_error(const control_actor& ctl, const pb::PeerRequest& rq,
                       const std::string& token = {}) {
    self->send(ctl, command_atom::value, rq, token);
    sched.run();
    caf::error out;
    self->receive([&](caf::error& err) { out = std::move(err); },
                  [](const pb::PeerReply&) { BOOST_FAIL("a reply"); },
                  caf::after(0s) >> [] {});
    return out;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(control_actor_tests, control_fixture)

BOOST_AUTO_TEST_CASE(routes_supervision_and_peer_commands) {
  auto ctl = sys.spawn(control, sup, std::string{"peer"}, agent.slot,
                       std::shared_ptr<actor_slot>{}, std::string{});
  auto list = ask<pb::ActorList>(ctl, list_atom::value, std::string{});
  BOOST_REQUIRE_EQUAL(list.actors_size(), 1);
  BOOST_CHECK_EQUAL(list.actors(0).state(), "running");
  pb::PeerRequest rq;
  rq.mutable_status();
  auto r = ask<pb::PeerReply>(ctl, command_atom::value, rq, std::string{});
  BOOST_CHECK_EQUAL(r.lines(0), "op " + std::to_string(rq.op_case()));
  // kill: the supervisor restarts the agent after 50 ms of virtual time.
  ask<caf::ok_atom>(ctl, kill_atom::value, std::string{"peer"}, false, std::string{});
  BOOST_CHECK(is(ask_error(ctl, rq), errc::no_such_actor));
  sched.advance_time(50ms);
  sched.run();
  r = ask<pb::PeerReply>(ctl, command_atom::value, rq, std::string{});
  BOOST_CHECK_EQUAL(r.lines_size(), 1);
  list = ask<pb::ActorList>(ctl, list_atom::value, std::string{});
  BOOST_CHECK_EQUAL(list.actors(0).restarts(), 1u);
  ask<caf::ok_atom>(ctl, restart_atom::value, std::string{"peer"}, std::string{});
  list = ask<pb::ActorList>(ctl, list_atom::value, std::string{});
  BOOST_CHECK_EQUAL(list.actors(0).restarts(), 2u);
  caf::anon_send_exit(ctl, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(a_node_without_a_peer_refuses_peer_commands) {
  auto ctl = sys.spawn(control, sup, std::string{"tracker"},
                       std::shared_ptr<actor_slot>{},
                       std::shared_ptr<actor_slot>{}, std::string{});
  pb::PeerRequest rq;
  rq.mutable_status();
  auto err = ask_error(ctl, rq);
  BOOST_CHECK(is(err, errc::no_such_actor));
  BOOST_CHECK_NE(render(err).find("this is a tracker node"), std::string::npos);
  self->send(ctl, kill_atom::value, std::string{"nobody"}, false, std::string{});
  sched.run();
  bool refused = false;
  self->receive([&](caf::error& e) {
                  refused = e == make_error(errc::no_such_actor);
                },
                caf::after(0s) >> [] {});
  BOOST_CHECK(refused);
  caf::anon_send_exit(ctl, caf::exit_reason::user_shutdown);
}

// With a control token, a request without it (or with another) is refused
// and changes nothing; with it, everything works as before.
BOOST_AUTO_TEST_CASE(a_control_token_guards_every_request) {
  std::string token = "0123456789abcdef0123456789abcdef";
  auto ctl = sys.spawn(control, sup, std::string{"peer"}, agent.slot,
                       std::shared_ptr<actor_slot>{}, token);
  pb::PeerRequest rq;
  rq.mutable_status();
  BOOST_CHECK(is(ask_error(ctl, rq), errc::denied));
  BOOST_CHECK(is(ask_error(ctl, rq, token.substr(1) + "0"), errc::denied));
  for (auto* wrong : {"", "0123456789abcdef"}) {
    self->send(ctl, kill_atom::value, std::string{"peer"}, true,
               std::string{wrong});
    self->send(ctl, restart_atom::value, std::string{"peer"},
               std::string{wrong});
    self->send(ctl, list_atom::value, std::string{wrong});
    sched.run();
    for (int i = 0; i < 3; ++i) {
      bool denied = false;
      self->receive([&](caf::error& e) { denied = is(e, errc::denied); },
                    caf::after(0s) >> [] {});
      BOOST_CHECK(denied);
    }
  }
  auto list = ask<pb::ActorList>(ctl, list_atom::value, token);
  BOOST_CHECK_EQUAL(list.actors(0).state(), "running");
  BOOST_CHECK_EQUAL(list.actors(0).restarts(), 0u);
  auto r = ask<pb::PeerReply>(ctl, command_atom::value, rq, token);
  BOOST_CHECK_EQUAL(r.lines_size(), 1);
  caf::anon_send_exit(ctl, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()
