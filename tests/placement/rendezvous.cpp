// Weighted rendezvous placement: distinct replicas, minimal movement when a
// mirror leaves, an even spread, weights respected.
#define BOOST_TEST_MODULE rendezvous
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "actors/placement/rendezvous.hpp"

using namespace actorrent;

namespace {

std::vector<weighted_mirror> mirrors(int n, double weight = 1) {
  std::vector<weighted_mirror> out;
  for (int i = 0; i < n; ++i) {
    char id[8];
    snprintf(id, sizeof(id), "m%02d", i);
    out.push_back({id, weight});
  }
  return out;
}

std::vector<std::string> top(const std::string& key,
                             const std::vector<weighted_mirror>& ms,
                             size_t r) {
  auto order = rendezvous_order(key, ms);
  order.resize(std::min(r, order.size()));
  return order;
}

std::string key(int i) {
  return part_key("file-" + std::to_string(i / 16), static_cast<uint32_t>(i % 16));
}

} // namespace

BOOST_AUTO_TEST_CASE(each_part_goes_to_r_distinct_mirrors) {
  auto ms = mirrors(50);
  for (int i = 0; i < 1000; ++i) {
    auto t = top(key(i), ms, 5);
    BOOST_REQUIRE_EQUAL(t.size(), 5u);
    std::set<std::string> distinct(t.begin(), t.end());
    BOOST_CHECK_EQUAL(distinct.size(), 5u);
  }
  // The order is a function of the key alone: the same twice.
  BOOST_CHECK(rendezvous_order(key(7), ms) == rendezvous_order(key(7), ms));
  BOOST_CHECK(rendezvous_order(key(7), ms) != rendezvous_order(key(8), ms));
}

BOOST_AUTO_TEST_CASE(removing_one_mirror_moves_only_its_parts) {
  auto ms = mirrors(50);
  auto without = ms;
  without.erase(without.begin() + 17); // m17 leaves
  size_t moved_parts = 0;
  for (int i = 0; i < 10000; ++i) {
    auto before = top(key(i), ms, 5);
    auto after = top(key(i), without, 5);
    bool held = std::count(before.begin(), before.end(), "m17") > 0;
    if (!held) {
      // Untouched: exactly the same replicas.
      BOOST_REQUIRE(before == after);
      continue;
    }
    ++moved_parts;
    // Only m17's replica moves: the other four stay.
    std::set<std::string> a(after.begin(), after.end());
    for (auto& m : before)
      if (m != "m17")
        BOOST_REQUIRE(a.count(m) == 1);
  }
  // m17 held about 10,000 * 5 / 50 = 1,000 parts.
  BOOST_CHECK_GT(moved_parts, 800u);
  BOOST_CHECK_LT(moved_parts, 1200u);
}

BOOST_AUTO_TEST_CASE(spread_is_even_within_20_percent) {
  auto ms = mirrors(50);
  std::map<std::string, int> count;
  for (int i = 0; i < 10000; ++i)
    for (auto& m : top(key(i), ms, 5))
      ++count[m];
  BOOST_REQUIRE_EQUAL(count.size(), 50u);
  double even = 10000.0 * 5 / 50;
  for (auto& [m, n] : count) {
    BOOST_TEST_CONTEXT(m << " holds " << n) {
      BOOST_CHECK_GE(n, even * 0.8);
      BOOST_CHECK_LE(n, even * 1.2);
    }
  }
}

BOOST_AUTO_TEST_CASE(weights_are_respected) {
  // Ten mirrors, one of them with three times the capacity: with one replica
  // per key it wins three times as many keys as an ordinary one.
  auto ms = mirrors(10);
  ms[3].weight = 3;
  std::map<std::string, int> count;
  for (int i = 0; i < 20000; ++i)
    ++count[top(key(i), ms, 1).front()];
  double unit = 20000.0 / 12;  // 9 ordinary shares + 3
  BOOST_CHECK_GT(count["m03"], unit * 3 * 0.9);
  BOOST_CHECK_LT(count["m03"], unit * 3 * 1.1);
  BOOST_CHECK_GT(count["m05"], unit * 0.85);
  BOOST_CHECK_LT(count["m05"], unit * 1.15);
}
