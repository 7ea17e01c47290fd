// A thin RAII layer over the two databases actorrent uses: SQLite (a file,
// WAL) and PostgreSQL (a libpq connection URI, `postgresql://...` or
// `postgres://...`). One connection, prepared statements with `?` (or `?N`)
// parameters, errors as exceptions carrying the database's message. The
// stores write their statements once in the SQL both understand; only the
// schema differs (`schema` translates it).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace actorrent::sql {

struct error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The transaction lost against a concurrent one (PostgreSQL: serialization
/// failure or deadlock); nothing of it was committed, running it again is
/// safe.
struct conflict : error {
  using error::error;
};

/// No PostgreSQL server the URI names could be reached as a read-write
/// primary (none answers, one is starting, or only standbys answer): may
/// pass by itself, unlike a wrong database name or a refused login.
struct unavailable : error {
  using error::error;
};

/// True for a PostgreSQL connection URI.
bool is_postgres(const std::string& location);

/// One backend's prepared statement (sqlite.cpp, postgres.cpp).
class statement_impl {
public:
  virtual ~statement_impl();
  virtual void bind_int(int i, int64_t x) = 0;
  virtual void bind_text(int i, const std::string& x) = 0;
  virtual void bind_blob(int i, const std::string& x) = 0;
  virtual bool step() = 0;
  virtual void reset() = 0;
  virtual int64_t int_at(int col) = 0;
  virtual std::string text_at(int col) = 0;
  virtual std::string blob_at(int col) = 0;
};

/// One backend's connection.
class connection_impl {
public:
  virtual ~connection_impl();
  virtual void exec(const std::string& sql) = 0;
  virtual std::unique_ptr<statement_impl> prepare(const std::string& sql) = 0;
  virtual void begin() = 0;
  virtual void commit() = 0;
  virtual void rollback() = 0;
};

std::unique_ptr<connection_impl> open_sqlite(const std::string& path);
std::unique_ptr<connection_impl> open_postgres(const std::string& uri);

class statement {
public:
  explicit statement(std::unique_ptr<statement_impl> impl);

  statement& bind(int i, int64_t x);
  statement& bind(int i, const std::string& x);      // text
  statement& bind_blob(int i, const std::string& x);  // blob / bytea
  /// Steps once; true while a row is available.
  bool step();
  /// Runs to completion and resets for reuse.
  void run();
  void reset();

  int64_t int_at(int col);
  std::string text_at(int col);
  std::string blob_at(int col);

private:
  std::unique_ptr<statement_impl> impl_;
};

class database {
public:
  /// Opens a SQLite file (creating it; WAL, busy timeout) or connects to
  /// the PostgreSQL server a connection URI names.
  explicit database(const std::string& location);
  ~database();
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  bool postgres() const { return postgres_; }
  void exec(const std::string& sql);
  /// Creates tables in one transaction, in this database's dialect: written
  /// for SQLite, with BLOB, INTEGER and `INTEGER PRIMARY KEY AUTOINCREMENT`
  /// becoming BYTEA, BIGINT and BIGSERIAL on PostgreSQL (where nodes starting
  /// together take turns: an advisory lock).
  void schema(const std::vector<std::string>& ddl);
  statement prepare(const std::string& sql);

  /// Runs `fn` in one transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL:
  /// SERIALIZABLE) and commits; what `fn` returns is committed when this
  /// returns. Rolled back when an exception leaves `fn`; run again (at most
  /// 20 times) when it lost against a concurrent transaction. Inside another
  /// `transact`, `fn` joins that transaction (which runs again as a whole).
  template <class F>
  auto transact(F&& fn) -> decltype(fn());

private:
  friend class transaction;
  std::unique_ptr<connection_impl> impl_;
  bool postgres_ = false;
  int depth_ = 0;  // transact calls running
};

/// BEGIN ... COMMIT, rolled back when an exception leaves the scope. Alone
/// only for callers that never see concurrent writers (a peer's or a
/// mirror's own SQLite file); the tracker's stores use `transact`.
class transaction {
public:
  explicit transaction(database& db);
  ~transaction();
  void commit();

private:
  database& db_;
  bool done_ = false;
};

template <class F>
auto database::transact(F&& fn) -> decltype(fn()) {
  if (depth_ > 0)
    return fn();
  struct nesting {
    int& depth;
    explicit nesting(int& d) : depth(d) { ++depth; }
    ~nesting() { --depth; }
  };
  nesting guard{depth_};
  for (int attempt = 1;; ++attempt) {
    try {
      transaction tx{*this};
      if constexpr (std::is_void_v<decltype(fn())>) {
        fn();
        tx.commit();
        return;
      } else {
        auto result = fn();
        tx.commit();
        return result;
      }
    } catch (conflict&) {
      if (attempt >= 20)
        throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(attempt));
    }
  }
}

} // namespace actorrent::sql
