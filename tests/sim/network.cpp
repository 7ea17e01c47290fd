// The simulation's network seam: every site has its own ports and its own
// loopback (each node publishes its control port on 127.0.0.1), and a
// connection to an endpoint reaches the actor published there.
#define BOOST_TEST_MODULE sim_network
#include "tests/fixtures.hpp"

#include <caf/event_based_actor.hpp>

#include "simulations/sim/network.hpp"

using namespace actorrent;
using namespace std::chrono_literals;

namespace {

// An actor that answers any int with its tag.
caf::strong_actor_ptr tagged(caf::actor_system& sys, int tag) {
  auto a = sys.spawn([tag](caf::event_based_actor*) -> caf::behavior {
    return {[tag](int) { return tag; }};
  });
  return caf::actor_cast<caf::strong_actor_ptr>(a);
}

struct fixture : test::threaded_fixture {
  std::shared_ptr<sim::network> net
    = std::make_shared<sim::network>(sys, std::chrono::seconds(5));
  fixture() {
    net->add_site("a", "client", {});
    net->add_site("b", "client", {});
  }
  ~fixture() { net->shutdown(); }

  // The tag of the actor that site `from` reaches at host:port (-1: none).
  int reach(const std::string& from, const std::string& host, uint16_t port) {
    int got = -1;
    self->request(net->directory_of(from)->connector(), 5s,
                  caf::connect_atom::value, host, port)
      .receive(
        [&](caf::node_id&, caf::strong_actor_ptr& p, std::set<std::string>&) {
          self->request(caf::actor_cast<caf::actor>(p), 5s, 0)
            .receive([&](int x) { got = x; }, [](caf::error&) {});
        },
        [](caf::error&) {});
    return got;
  }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(each_site_has_its_own_loopback, fixture) {
  auto a = net->directory_of("a");
  auto b = net->directory_of("b");
  uint16_t a1 = 0, a2 = 0, b1 = 0;
  BOOST_TEST(a->publish(tagged(sys, 1), {}, "127.0.0.1", a1) == "");
  BOOST_TEST(a->publish(tagged(sys, 2), {}, "127.0.0.1", a2) == "");
  BOOST_TEST(b->publish(tagged(sys, 3), {}, "127.0.0.1", b1) == "");
  BOOST_TEST(a1 != a2);
  BOOST_TEST(b1 == a1); // b's loopback is not a's: the same port is free
  uint16_t taken = a1;
  BOOST_TEST(a->publish(tagged(sys, 4), {}, "127.0.0.1", taken)
             == "cannot listen on 127.0.0.1:" + std::to_string(a1)
                  + ": address in use");
  BOOST_TEST(reach("a", "127.0.0.1", a1) == 1);
  BOOST_TEST(reach("a", "127.0.0.1", a2) == 2);
  BOOST_TEST(reach("b", "127.0.0.1", b1) == 3);
  BOOST_TEST(reach("b", "127.0.0.1", a2) == -1); // a's, not b's
}

BOOST_FIXTURE_TEST_CASE(ports_are_counted_per_host, fixture) {
  // 40,000 hosts with two ports each would pass 65535 with one counter
  // for all; each host counts its own.
  auto a = net->directory_of("a");
  auto b = net->directory_of("b");
  auto one = tagged(sys, 1);
  for (int i = 0; i < 40000; ++i) {
    uint16_t p = 0, q = 0;
    auto host = "h" + std::to_string(i);
    BOOST_REQUIRE(a->publish(one, {}, host, p) == "");
    BOOST_REQUIRE(a->publish(one, {}, host, q) == "");
    BOOST_REQUIRE(q == p + 1);
  }
  uint16_t p = 0;
  BOOST_TEST(b->publish(tagged(sys, 7), {}, "h39999", p) == "");
  BOOST_TEST(reach("b", "h39999", p) == 7);
  BOOST_TEST(reach("a", "h0", p) == -1);
}
