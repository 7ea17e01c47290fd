#include "actors/store/sqlite.hpp"

#include <sqlite3.h>

namespace actorrent::sql {

namespace {
[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  throw error(what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}
} // namespace

database::database(const std::string& path) {
  if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
    std::string msg = "cannot open database " + path + ": "
                      + (db_ ? sqlite3_errmsg(db_) : "out of memory");
    sqlite3_close(db_);
    db_ = nullptr;
    throw error(msg);
  }
  sqlite3_busy_timeout(db_, 5000);
  exec("PRAGMA journal_mode=WAL");
  // NORMAL: a commit survives a killed process (not a power loss) without
  // an fsync per commit.
  exec("PRAGMA synchronous=NORMAL");
  exec("PRAGMA foreign_keys=ON");
}

database::~database() {
  sqlite3_close(db_);
}

void database::exec(const std::string& sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string text = msg ? msg : "unknown error";
    sqlite3_free(msg);
    throw error(sql.substr(0, 40) + ": " + text);
  }
}

statement database::prepare(const std::string& sql) {
  return statement{db_, sql};
}

statement::statement(sqlite3* db, const std::string& sql) : db_(db) {
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st_, nullptr) != SQLITE_OK)
    fail(db, "prepare " + sql.substr(0, 40));
}

statement::statement(statement&& other) noexcept
  : db_(other.db_), st_(other.st_) {
  other.st_ = nullptr;
}

statement::~statement() {
  sqlite3_finalize(st_);
}

statement& statement::bind(int i, int64_t x) {
  sqlite3_bind_int64(st_, i, x);
  return *this;
}

statement& statement::bind(int i, const std::string& x) {
  sqlite3_bind_text(st_, i, x.data(), static_cast<int>(x.size()),
                    SQLITE_TRANSIENT);
  return *this;
}

statement& statement::bind_blob(int i, const std::string& x) {
  sqlite3_bind_blob(st_, i, x.data(), static_cast<int>(x.size()),
                    SQLITE_TRANSIENT);
  return *this;
}

bool statement::step() {
  auto rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW)
    return true;
  if (rc == SQLITE_DONE)
    return false;
  auto msg = std::string{sqlite3_errmsg(db_)};
  sqlite3_reset(st_);
  throw error("step: " + msg);
}

void statement::run() {
  while (step())
    ; // nop
  reset();
}

void statement::reset() {
  sqlite3_reset(st_);
  sqlite3_clear_bindings(st_);
}

int64_t statement::int_at(int col) {
  return sqlite3_column_int64(st_, col);
}

std::string statement::text_at(int col) {
  auto p = sqlite3_column_text(st_, col);
  return p ? std::string{reinterpret_cast<const char*>(p),
                         static_cast<size_t>(sqlite3_column_bytes(st_, col))}
           : std::string{};
}

std::string statement::blob_at(int col) {
  auto p = sqlite3_column_blob(st_, col);
  return p ? std::string{static_cast<const char*>(p),
                         static_cast<size_t>(sqlite3_column_bytes(st_, col))}
           : std::string{};
}

transaction::transaction(database& db) : db_(db) {
  db_.exec("BEGIN IMMEDIATE");
}

transaction::~transaction() {
  if (!done_) {
    try {
      db_.exec("ROLLBACK");
    } catch (...) {
      // nothing left to undo
    }
  }
}

void transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

} // namespace actorrent::sql
