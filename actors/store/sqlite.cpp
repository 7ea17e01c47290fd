// The SQLite backend of actors/store/sql.hpp.
#include <sqlite3.h>

#include "actors/store/sql.hpp"

namespace actorrent::sql {

namespace {

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  throw error(what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

class sqlite_statement final : public statement_impl {
public:
  sqlite_statement(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st_, nullptr) != SQLITE_OK)
      fail(db, "prepare " + sql.substr(0, 40));
  }

  ~sqlite_statement() override {
    sqlite3_finalize(st_);
  }

  void bind_int(int i, int64_t x) override {
    sqlite3_bind_int64(st_, i, x);
  }

  void bind_text(int i, const std::string& x) override {
    sqlite3_bind_text(st_, i, x.data(), static_cast<int>(x.size()),
                      SQLITE_TRANSIENT);
  }

  void bind_blob(int i, const std::string& x) override {
    sqlite3_bind_blob(st_, i, x.data(), static_cast<int>(x.size()),
                      SQLITE_TRANSIENT);
  }

  bool step() override {
    auto rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW)
      return true;
    if (rc == SQLITE_DONE)
      return false;
    auto msg = std::string{sqlite3_errmsg(db_)};
    sqlite3_reset(st_);
    throw error("step: " + msg);
  }

  void reset() override {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }

  int64_t int_at(int col) override {
    return sqlite3_column_int64(st_, col);
  }

  std::string text_at(int col) override {
    auto p = sqlite3_column_text(st_, col);
    return p ? std::string{reinterpret_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(st_, col))}
             : std::string{};
  }

  std::string blob_at(int col) override {
    auto p = sqlite3_column_blob(st_, col);
    return p ? std::string{static_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(st_, col))}
             : std::string{};
  }

private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

class sqlite_connection final : public connection_impl {
public:
  explicit sqlite_connection(const std::string& path) {
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

  ~sqlite_connection() override {
    sqlite3_close(db_);
  }

  void exec(const std::string& sql) override {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string text = msg ? msg : "unknown error";
      sqlite3_free(msg);
      throw error(sql.substr(0, 40) + ": " + text);
    }
  }

  std::unique_ptr<statement_impl> prepare(const std::string& sql) override {
    return std::make_unique<sqlite_statement>(db_, sql);
  }

  void begin() override {
    exec("BEGIN IMMEDIATE");
  }

  void commit() override {
    exec("COMMIT");
  }

  void rollback() override {
    exec("ROLLBACK");
  }

private:
  sqlite3* db_ = nullptr;
};

} // namespace

std::unique_ptr<connection_impl> open_sqlite(const std::string& path) {
  return std::make_unique<sqlite_connection>(path);
}

} // namespace actorrent::sql
