#include "actors/store/sql.hpp"

#include <regex>

namespace actorrent::sql {

statement_impl::~statement_impl() = default;
connection_impl::~connection_impl() = default;

bool is_postgres(const std::string& location) {
  return location.rfind("postgresql://", 0) == 0
         || location.rfind("postgres://", 0) == 0;
}

statement::statement(std::unique_ptr<statement_impl> impl)
  : impl_(std::move(impl)) {
}

statement& statement::bind(int i, int64_t x) {
  impl_->bind_int(i, x);
  return *this;
}

statement& statement::bind(int i, const std::string& x) {
  impl_->bind_text(i, x);
  return *this;
}

statement& statement::bind_blob(int i, const std::string& x) {
  impl_->bind_blob(i, x);
  return *this;
}

bool statement::step() {
  return impl_->step();
}

void statement::run() {
  while (step())
    ; // nop
  reset();
}

void statement::reset() {
  impl_->reset();
}

int64_t statement::int_at(int col) {
  return impl_->int_at(col);
}

std::string statement::text_at(int col) {
  return impl_->text_at(col);
}

std::string statement::blob_at(int col) {
  return impl_->blob_at(col);
}

database::database(const std::string& location)
  : postgres_(is_postgres(location)) {
  impl_ = postgres_ ? open_postgres(location) : open_sqlite(location);
}

database::~database() = default;

void database::exec(const std::string& sql) {
  impl_->exec(sql);
}

void database::schema(const std::vector<std::string>& ddl) {
  transact([&] {
    if (postgres_)
      exec("SELECT pg_advisory_xact_lock(7368)");
    for (auto& table : ddl) {
      if (!postgres_) {
        exec(table);
        continue;
      }
      auto out = std::regex_replace(
        table, std::regex{"INTEGER PRIMARY KEY AUTOINCREMENT"},
        "BIGSERIAL PRIMARY KEY");
      out = std::regex_replace(out, std::regex{"\\bINTEGER\\b"}, "BIGINT");
      out = std::regex_replace(out, std::regex{"\\bBLOB\\b"}, "BYTEA");
      exec(out);
    }
  });
}

statement database::prepare(const std::string& sql) {
  return statement{impl_->prepare(sql)};
}

transaction::transaction(database& db) : db_(db) {
  db_.impl_->begin();
}

transaction::~transaction() {
  if (!done_) {
    try {
      db_.impl_->rollback();
    } catch (...) {
      // nothing left to undo
    }
  }
}

void transaction::commit() {
  db_.impl_->commit();
  done_ = true;
}

} // namespace actorrent::sql
