// The SQLite backend of actors/store/sql.hpp.
#include <sqlite3.h>

#include <map>

#include "actors/store/sql.hpp"

namespace actorrent::sql {

namespace {

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  throw error(what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

/// A compiled statement kept by the connection for the next use of the same
/// SQL (compiling costs more than running most of ours).
struct cached_statement {
  sqlite3_stmt* st = nullptr;
  bool in_use = false;
};

class sqlite_statement final : public statement_impl {
public:
  sqlite_statement(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st_, nullptr) != SQLITE_OK)
      fail(db, "prepare " + sql.substr(0, 40));
  }

  /// Borrows a cached statement; it is reset and returned when this ends.
  sqlite_statement(sqlite3* db, cached_statement& c)
    : db_(db), st_(c.st), cached_(&c) {
    c.in_use = true;
  }

  ~sqlite_statement() override {
    if (cached_ != nullptr) {
      sqlite3_reset(st_);
      sqlite3_clear_bindings(st_);
      cached_->in_use = false;
    } else {
      sqlite3_finalize(st_);
    }
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
  cached_statement* cached_ = nullptr;
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
    // An in-memory database (a peer's state that need not outlive it) is a
    // few small tables: the smallest pages keep it at a few KiB instead of
    // a 4 KiB page per table and index.
    if (path == ":memory:")
      exec("PRAGMA page_size=512");
    exec("PRAGMA journal_mode=WAL");
    // NORMAL: a commit survives a killed process (not a power loss) without
    // an fsync per commit.
    exec("PRAGMA synchronous=NORMAL");
    exec("PRAGMA foreign_keys=ON");
  }

  ~sqlite_connection() override {
    for (auto& kvp : cache_)
      sqlite3_finalize(kvp.second.st);
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
    auto i = cache_.find(sql);
    if (i == cache_.end() && cache_.size() >= max_cached)
      return std::make_unique<sqlite_statement>(db_, sql);
    if (i == cache_.end()) {
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT,
                             &st, nullptr)
          != SQLITE_OK)
        fail(db_, "prepare " + sql.substr(0, 40));
      i = cache_.emplace(sql, cached_statement{st, false}).first;
    }
    // The same statement twice at once (nested): a fresh one.
    if (i->second.in_use)
      return std::make_unique<sqlite_statement>(db_, sql);
    return std::make_unique<sqlite_statement>(db_, i->second);
  }

  void begin() override {
    run("BEGIN IMMEDIATE");
  }

  void commit() override {
    run("COMMIT");
  }

  void rollback() override {
    run("ROLLBACK");
  }

private:
  /// A statement without results, compiled once.
  void run(const std::string& sql) {
    auto st = prepare(sql);
    while (st->step())
      ; // nop
  }

  /// Our statements are a fixed set; more would be SQL built from values.
  static constexpr size_t max_cached = 256;
  sqlite3* db_ = nullptr;
  std::map<std::string, cached_statement> cache_;
};

} // namespace

std::unique_ptr<connection_impl> open_sqlite(const std::string& path) {
  return std::make_unique<sqlite_connection>(path);
}

} // namespace actorrent::sql
