// A thin RAII wrapper around SQLite: one connection, prepared statements,
// errors as exceptions carrying SQLite's message.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace actorrent::sql {

struct error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class statement;

class database {
public:
  /// Opens (creating) a database in WAL mode with a busy timeout.
  explicit database(const std::string& path);
  ~database();
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  void exec(const std::string& sql);
  statement prepare(const std::string& sql);
  sqlite3* handle() { return db_; }

private:
  sqlite3* db_ = nullptr;
};

class statement {
public:
  statement(sqlite3* db, const std::string& sql);
  statement(statement&& other) noexcept;
  ~statement();

  statement& bind(int i, int64_t x);
  statement& bind(int i, const std::string& x);      // text
  statement& bind_blob(int i, const std::string& x);  // blob
  /// Steps once; true while a row is available.
  bool step();
  /// Runs to completion and resets for reuse.
  void run();
  void reset();

  int64_t int_at(int col);
  std::string text_at(int col);
  std::string blob_at(int col);

private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

/// BEGIN IMMEDIATE ... COMMIT, rolled back when an exception leaves the scope.
class transaction {
public:
  explicit transaction(database& db);
  ~transaction();
  void commit();

private:
  database& db_;
  bool done_ = false;
};

} // namespace actorrent::sql
