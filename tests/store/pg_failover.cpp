// The SQL layer on a PostgreSQL primary with a synchronous standby
// (tests/pg_server.hpp's pg_pair), through the URI naming both servers:
// - a COMMIT the standby never confirmed is not acknowledged, also when
//   statement_timeout cancels the wait (PostgreSQL then says COMMIT with a
//   warning);
// - a COMMIT in flight when the primary's postmaster is SIGKILLed fails (its
//   outcome is unknown) instead of hanging;
// - after the standby's promotion the same connection object reaches it
//   within a bounded time, and every acknowledged write is there.
#define BOOST_TEST_MODULE pg_failover
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "actors/store/sql.hpp"
#include "tests/pg_server.hpp"

using namespace actorrent;
using namespace std::chrono_literals;

namespace {

void insert(sql::database& db, int64_t k) {
  db.transact([&] { db.prepare("INSERT INTO t (k) VALUES (?)").bind(1, k).run(); });
}

// The standby's WAL receiver stopped (SIGSTOP) while this lives: the
// primary's commits wait for it. Resumed when it ends, also when a check
// fails (a stopped receiver would outlive its server).
struct stalled_standby {
  int pid;
  explicit stalled_standby(test::pg_server& standby)
    : pid(std::stoi(standby.query("SELECT pid FROM pg_stat_wal_receiver"))) {
    BOOST_REQUIRE(pid > 0);
    ::kill(pid, SIGSTOP);
  }
  ~stalled_standby() {
    ::kill(pid, SIGCONT);
  }
  stalled_standby(const stalled_standby&) = delete;
  stalled_standby& operator=(const stalled_standby&) = delete;
};

using clock_type = std::chrono::steady_clock;

} // namespace

BOOST_AUTO_TEST_CASE(acknowledged_commits_survive_the_promotion_of_the_standby) {
  test::pg_pair pg;
  auto uri = pg.create_database("f");
  sql::database db{uri};
  db.schema({"CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY)"});
  insert(db, 1);

  // The standby stalls; a commit whose wait statement_timeout cancels is
  // committed on the primary only: an error here.
  {
    sql::database impatient{uri + "&options=-c%20statement_timeout%3D500"};
    stalled_standby stalled{pg.standby()};
    auto start = clock_type::now();
    BOOST_CHECK_EXCEPTION(insert(impatient, 2), sql::error,
                          [](const sql::error& e) {
                            BOOST_TEST_MESSAGE(e.what());
                            return std::string{e.what()}.find("synchronous standby")
                                   != std::string::npos;
                          });
    BOOST_CHECK(clock_type::now() - start < 5s);
  }
  insert(db, 3);

  // A commit in flight when the primary dies: an error, not a hang.
  auto stalled = std::make_unique<stalled_standby>(pg.standby());
  auto in_flight = std::async(std::launch::async, [&] {
    try {
      insert(db, 4);
      return std::string{"acknowledged"};
    } catch (const sql::error& e) {
      return std::string{e.what()};
    }
  });
  BOOST_REQUIRE(in_flight.wait_for(500ms) == std::future_status::timeout);
  pg.primary().kill_hard();
  BOOST_REQUIRE(in_flight.wait_for(5s) == std::future_status::ready);
  auto outcome = in_flight.get();
  BOOST_TEST_MESSAGE("commit in flight: " << outcome);
  BOOST_TEST(outcome != "acknowledged");
  stalled.reset();

  // No primary: writes fail at once (no hang), then the promoted standby
  // takes them.
  auto start = clock_type::now();
  BOOST_CHECK_THROW(insert(db, 5), sql::error);
  BOOST_CHECK(clock_type::now() - start < 4s);
  pg.standby().promote();
  auto promoted = clock_type::now();
  bool written = false;
  while (!written && clock_type::now() - promoted < 5s) {
    try {
      insert(db, 6);
      written = true;
    } catch (const sql::error&) {
      std::this_thread::sleep_for(50ms);
    }
  }
  BOOST_REQUIRE(written);
  BOOST_TEST_MESSAGE("writing again "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(
                          clock_type::now() - promoted)
                          .count()
                     << " ms after the promotion");
  for (int64_t k : {1, 3, 6}) {
    auto st = db.prepare("SELECT count(*) FROM t WHERE k = ?");
    st.bind(1, k);
    BOOST_REQUIRE(st.step());
    BOOST_TEST(st.int_at(0) == 1, "acknowledged row " << k);
  }
}
