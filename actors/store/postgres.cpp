// The PostgreSQL backend of actors/store/sql.hpp (libpq). Statements are
// sent with their parameters (blobs in binary, the rest as text) and read
// as text (bytea in hex). A connection found broken is reset before the
// next transaction or statement outside one; inside a transaction the
// transaction fails (nothing of it was committed). A COMMIT whose answer
// never came is an error too: the caller acknowledges nothing.
#include <libpq-fe.h>

#include <cstdlib>
#include <vector>

#include "actors/store/sql.hpp"

namespace actorrent::sql {

namespace {

// SQLSTATEs of a transaction that lost against a concurrent one.
bool lost_race(const char* state) {
  if (state == nullptr)
    return false;
  std::string s{state};
  return s == "40001" || s == "40P01";
}

// `?` and `?N` placeholders (SQLite's) become `$n` (PostgreSQL's); quoted
// text is left alone.
std::string placeholders(const std::string& sql) {
  std::string out;
  out.reserve(sql.size() + 8);
  int next = 0;
  bool quoted = false;
  for (size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (c == '\'')
      quoted = !quoted;
    if (c != '?' || quoted) {
      out += c;
      continue;
    }
    out += '$';
    if (i + 1 < sql.size() && isdigit(static_cast<unsigned char>(sql[i + 1]))) {
      while (i + 1 < sql.size()
             && isdigit(static_cast<unsigned char>(sql[i + 1])))
        out += sql[++i];
    } else {
      out += std::to_string(++next);
    }
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return 0;
}

// bytea's hex output (`\x0a1b...`) as bytes.
std::string from_hex(const char* text, size_t len) {
  std::string out;
  if (len < 2 || text[0] != '\\' || text[1] != 'x')
    return std::string{text, len};
  out.reserve((len - 2) / 2);
  for (size_t i = 2; i + 1 < len; i += 2)
    out += static_cast<char>(hex_value(text[i]) * 16 + hex_value(text[i + 1]));
  return out;
}

class pg_connection;

class pg_statement final : public statement_impl {
public:
  pg_statement(pg_connection& conn, std::string sql)
    : conn_(conn), sql_(placeholders(sql)) {
  }

  ~pg_statement() override {
    clear();
  }

  void bind_int(int i, int64_t x) override {
    put(i, std::to_string(x), 0);
  }

  void bind_text(int i, const std::string& x) override {
    put(i, x, 0);
  }

  void bind_blob(int i, const std::string& x) override {
    put(i, x, 1);
  }

  bool step() override;

  void reset() override {
    clear();
    values_.clear();
    formats_.clear();
  }

  int64_t int_at(int col) override {
    auto v = PQgetvalue(res_, row_, col);
    if (v[0] == 't')
      return 1;
    if (v[0] == 'f')
      return 0;
    return std::strtoll(v, nullptr, 10);
  }

  std::string text_at(int col) override {
    return std::string{PQgetvalue(res_, row_, col),
                       static_cast<size_t>(PQgetlength(res_, row_, col))};
  }

  std::string blob_at(int col) override {
    return from_hex(PQgetvalue(res_, row_, col),
                    static_cast<size_t>(PQgetlength(res_, row_, col)));
  }

private:
  void put(int i, std::string value, int format) {
    auto n = static_cast<size_t>(i);
    if (values_.size() < n) {
      values_.resize(n);
      formats_.resize(n, 0);
    }
    values_[n - 1] = std::move(value);
    formats_[n - 1] = format;
  }

  void clear() {
    if (res_ != nullptr)
      PQclear(res_);
    res_ = nullptr;
    row_ = -1;
  }

  pg_connection& conn_;
  std::string sql_;
  std::vector<std::string> values_;
  std::vector<int> formats_;
  PGresult* res_ = nullptr;
  int row_ = -1;
};

class pg_connection final : public connection_impl {
public:
  explicit pg_connection(const std::string& uri) {
    conn_ = PQconnectdb(uri.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::string msg = "cannot connect to PostgreSQL: "
                        + std::string{PQerrorMessage(conn_)};
      PQfinish(conn_);
      throw error(trimmed(msg));
    }
    configure();
  }

  ~pg_connection() override {
    PQfinish(conn_);
  }

  void exec(const std::string& sql) override {
    ensure();
    PQclear(check(PQexec(conn_, sql.c_str()), sql));
  }

  std::unique_ptr<statement_impl> prepare(const std::string& sql) override {
    return std::make_unique<pg_statement>(*this, sql);
  }

  void begin() override {
    ensure();
    auto res = PQexec(conn_, "BEGIN ISOLATION LEVEL SERIALIZABLE");
    if (PQresultStatus(res) != PGRES_COMMAND_OK
        && PQstatus(conn_) != CONNECTION_OK) {
      // The server went away while we were idle: once more, connected anew.
      PQclear(res);
      reset();
      res = PQexec(conn_, "BEGIN ISOLATION LEVEL SERIALIZABLE");
    }
    PQclear(check(res, "BEGIN"));
    in_transaction_ = true;
  }

  void commit() override {
    in_transaction_ = false;
    auto res = PQexec(conn_, "COMMIT");
    if (PQresultStatus(res) != PGRES_COMMAND_OK
        && PQstatus(conn_) != CONNECTION_OK) {
      PQclear(res);
      throw error("COMMIT: connection lost, the outcome is unknown");
    }
    PQclear(check(res, "COMMIT"));
  }

  void rollback() override {
    in_transaction_ = false;
    if (PQstatus(conn_) == CONNECTION_OK)
      PQclear(PQexec(conn_, "ROLLBACK"));
  }

  /// Runs a statement with its parameters; the result has rows or none.
  PGresult* run(const std::string& sql, const std::vector<std::string>& values,
                const std::vector<int>& formats) {
    ensure();
    std::vector<const char*> ptrs;
    std::vector<int> lengths;
    for (auto& v : values) {
      ptrs.push_back(v.data());
      lengths.push_back(static_cast<int>(v.size()));
    }
    auto res = PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()),
                            nullptr, ptrs.data(), lengths.data(),
                            formats.data(), 0);
    return check(res, sql);
  }

private:
  static std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
      s.pop_back();
    return s;
  }

  // Every session: no notices on stderr, and no statement waits forever.
  void configure() {
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
    PQclear(check(PQexec(conn_, "SET statement_timeout = 10000"), "SET"));
  }

  void reset() {
    PQreset(conn_);
    if (PQstatus(conn_) != CONNECTION_OK)
      throw error(trimmed("PostgreSQL unreachable: "
                          + std::string{PQerrorMessage(conn_)}));
    configure();
  }

  // A broken connection is connected anew, except inside a transaction
  // (whose statements so far are gone with it).
  void ensure() {
    if (PQstatus(conn_) == CONNECTION_OK)
      return;
    if (in_transaction_)
      throw error("PostgreSQL connection lost in a transaction");
    reset();
  }

  PGresult* check(PGresult* res, const std::string& what) {
    auto status = PQresultStatus(res);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
      return res;
    std::string msg = trimmed(PQresultErrorMessage(res));
    if (msg.empty())
      msg = trimmed(PQerrorMessage(conn_));
    bool race = lost_race(PQresultErrorField(res, PG_DIAG_SQLSTATE));
    PQclear(res);
    auto text = what.substr(0, 60) + ": " + msg;
    if (race)
      throw conflict(text);
    throw error(text);
  }

  PGconn* conn_ = nullptr;
  bool in_transaction_ = false;
};

bool pg_statement::step() {
  if (res_ == nullptr)
    res_ = conn_.run(sql_, values_, formats_);
  ++row_;
  return row_ < PQntuples(res_);
}

} // namespace

std::unique_ptr<connection_impl> open_postgres(const std::string& uri) {
  return std::make_unique<pg_connection>(uri);
}

} // namespace actorrent::sql
