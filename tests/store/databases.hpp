// The databases every store test runs against: a SQLite file in a fresh
// directory, and a fresh database on the test program's PostgreSQL server
// (tests/pg_server.hpp; started on first use, failing loudly without the
// PostgreSQL binaries).
#pragma once

#include <string>

#include "tests/fixtures.hpp"
#include "tests/pg_server.hpp"

namespace actorrent::test {

struct sqlite_db {
  temp_dir dir;
  std::string location = dir / "tracker.db";
};

struct pg_db {
  std::string location = fresh_pg_database();
};

} // namespace actorrent::test
