#define BOOST_TEST_MODULE group_store
#include <boost/test/unit_test.hpp>

#include "actors/store/group_store.hpp"
#include "actors/store/sql.hpp"
#include "tests/fixtures.hpp"
#include "tests/pg_server.hpp"
#include "tests/store/databases.hpp"

using namespace actorrent;

namespace actorrent {
std::ostream& operator<<(std::ostream& os, errc x) {
  return os << to_string(x);
}
} // namespace actorrent

namespace {

// Runs `f` and returns the refusal's code and message.
template <class F>
std::pair<errc, std::string> refused(F f) {
  try {
    f();
  } catch (refusal& r) {
    return {r.code, r.what()};
  }
  BOOST_FAIL("not refused");
  return {};
}

const std::string sha(32, 's');

} // namespace

// Outside the anonymous namespace: the test cases derive from it.
template <class Database>
struct fixture : Database {
  std::unique_ptr<group_store> store = open_group_store(this->location);
  group_store& gs = *store;
  fixture() {
    gs.create_user("alice", "pw-a");
    gs.create_user("bob", "pw-b");
    gs.create_user("carol", "pw-c");
  }
};

BOOST_FIXTURE_TEST_SUITE(sqlite, fixture<test::sqlite_db>)
#include "tests/store/group_store_cases.ipp"
BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(postgres, fixture<test::pg_db>)
#include "tests/store/group_store_cases.ipp"
BOOST_AUTO_TEST_SUITE_END()
