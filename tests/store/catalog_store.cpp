#define BOOST_TEST_MODULE catalog_store
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <set>

#include "actors/core/manifest.hpp"
#include "actors/store/catalog_store.hpp"
#include "tests/fixtures.hpp"
#include "tests/pg_server.hpp"
#include "tests/store/databases.hpp"

using namespace actorrent;
using test::manifest_of;

namespace {

pb::Announce announce(const std::string& peer, uint32_t port,
                      const pb::Manifest& m, const bitfield& have) {
  return test::plain_announce(peer, port, m, have.bytes());
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(sqlite, test::sqlite_db)
#include "tests/store/catalog_store_cases.ipp"
BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(postgres, test::pg_db)
#include "tests/store/catalog_store_cases.ipp"
BOOST_AUTO_TEST_SUITE_END()
