// The PostgreSQL backend of actors/store/sql.hpp (libpq). Statements are
// sent with their parameters (blobs in binary, the rest as text) and read
// as text (bytea in hex). A connection found broken is reset before the
// next transaction or statement outside one; inside a transaction the
// transaction fails (nothing of it was committed). A COMMIT whose answer
// never came is an error too: the caller acknowledges nothing, and so is a
// COMMIT whose wait for the synchronous standby was cancelled (PostgreSQL
// then reports success with a warning: committed on the primary only).
//
// Connecting: the URI may name several servers (`host=/a,/b` or
// `postgresql://h1,h2/db`); by default only a read-write server is taken
// (`target_session_attrs=read-write`), so after a standby's promotion the
// next connection finds the new primary. Defaults the URI can override:
// connect_timeout 3 s, TCP keepalives (5 s idle, 2 s x 3 probes) and
// tcp_user_timeout 10 s, statement_timeout 10 s (also the deadline of a
// COMMIT, below). While no server accepts,
// reconnecting waits between attempts (100 ms doubling to 1 s): requests
// in between fail at once with the last connection error.
#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
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
  explicit pg_connection(const std::string& uri) : uri_(uri) {
    conn_ = connect();
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::string msg = trimmed("cannot connect to PostgreSQL: "
                                + std::string{PQerrorMessage(conn_)});
      PQfinish(conn_);
      conn_ = nullptr;
      if (transient(msg))
        throw unavailable(msg);
      throw error(msg);
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

  // COMMIT with a deadline of its own: PostgreSQL's statement_timeout does
  // not end a commit's wait for the synchronous standby (a stalled or lost
  // standby would hold the tracker forever). Past the deadline the wait is
  // cancelled (the server then commits on the primary alone and says so
  // with a warning) and the commit is not acknowledged; a server that does
  // not answer the cancel either loses the connection.
  void commit() override {
    in_transaction_ = false;
    sync_wait_cancelled_ = false;
    if (PQsendQuery(conn_, "COMMIT") == 0)
      throw error("COMMIT: connection lost, the outcome is unknown");
    auto deadline = std::chrono::steady_clock::now() + commit_timeout_;
    bool cancelled = false;
    while (PQisBusy(conn_)) {
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        if (cancelled) {
          PQfinish(conn_);
          conn_ = nullptr;  // connected anew before the next use
          throw error("COMMIT: no answer, the outcome is unknown");
        }
        cancel();
        cancelled = true;
        deadline = now + std::chrono::seconds(2);
        continue;
      }
      pollfd fd{PQsocket(conn_), POLLIN, 0};
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - now).count();
      ::poll(&fd, 1, static_cast<int>(std::min<int64_t>(wait + 1, 1000)));
      if (PQconsumeInput(conn_) == 0)
        break;
    }
    PGresult* res = nullptr;
    while (auto* r = PQgetResult(conn_)) {
      if (res == nullptr)
        res = r;
      else
        PQclear(r);
    }
    if (res == nullptr || (PQresultStatus(res) != PGRES_COMMAND_OK
                           && PQstatus(conn_) != CONNECTION_OK)) {
      PQclear(res);
      throw error("COMMIT: connection lost, the outcome is unknown");
    }
    PQclear(check(res, "COMMIT"));
    if (sync_wait_cancelled_ || cancelled)
      throw error("COMMIT: not confirmed by the synchronous standby within "
                  + std::to_string(commit_timeout_.count())
                  + " ms (the primary alone has it), not acknowledged");
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
  // Calls f(keys, values): the connection parameters, defaults first (the
  // URI's own settings, expanded from dbname, win).
  template <class F>
  auto with_params(F f) const {
    const char* keys[] = {"connect_timeout", "keepalives", "keepalives_idle",
                          "keepalives_interval", "keepalives_count",
                          "tcp_user_timeout", "target_session_attrs",
                          "dbname", nullptr};
    const char* values[] = {"3", "1", "5", "2", "3", "10000", "read-write",
                            uri_.c_str(), nullptr};
    return f(keys, values);
  }

  PGconn* connect() const {
    return with_params([](const char* const* k, const char* const* v) {
      return PQconnectdbParams(k, v, 1);
    });
  }

  // A failure that may pass: no server answers (or one is starting up), or
  // those that answer are standbys.
  bool transient(const std::string& msg) const {
    auto ping = with_params([](const char* const* k, const char* const* v) {
      return PQpingParams(k, v, 1);
    });
    return ping == PQPING_NO_RESPONSE || ping == PQPING_REJECT
           || msg.find("read-only") != std::string::npos
           || msg.find("hot standby") != std::string::npos
           || msg.find("read-write") != std::string::npos;
  }

  static std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
      s.pop_back();
    return s;
  }

  // Every session: no notices on stderr (a cancelled wait for the
  // synchronous standby is noted), and no statement waits forever (10 s
  // unless the URI's `options` set a statement_timeout).
  void configure() {
    PQsetNoticeReceiver(
      conn_,
      [](void* self, const PGresult* res) {
        auto text = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        if (text != nullptr
            && std::string{text}.find("synchronous replication")
                 != std::string::npos)
          static_cast<pg_connection*>(self)->sync_wait_cancelled_ = true;
      },
      this);
    auto res = check(PQexec(conn_, "SELECT setting FROM pg_settings WHERE "
                                   "name = 'statement_timeout'"),
                     "statement_timeout");
    auto ms = PQntuples(res) == 1 ? std::atoll(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    if (ms <= 0) {
      PQclear(check(PQexec(conn_, "SET statement_timeout = 10000"), "SET"));
      ms = 10000;
    }
    commit_timeout_ = std::chrono::milliseconds{ms};
  }

  // Asks the server to cancel the running statement.
  void cancel() {
    if (auto* c = PQgetCancel(conn_)) {
      char buf[256];
      PQcancel(c, buf, sizeof buf);
      PQfreeCancel(c);
    }
  }

  // Connects anew (to whichever listed server is read-write); while none
  // accepts, attempts are spaced out and requests in between fail at once.
  void reset() {
    auto now = std::chrono::steady_clock::now();
    if (now < next_attempt_)
      throw unavailable(last_failure_ + " (next attempt in "
                  + std::to_string(std::chrono::duration_cast<
                                     std::chrono::milliseconds>(next_attempt_
                                                                - now)
                                     .count())
                  + " ms)");
    PQfinish(conn_);
    conn_ = connect();
    if (PQstatus(conn_) != CONNECTION_OK) {
      retry_after_ = std::min(std::max(retry_after_ * 2,
                                       std::chrono::milliseconds{100}),
                              std::chrono::milliseconds{1000});
      next_attempt_ = std::chrono::steady_clock::now() + retry_after_;
      last_failure_ = trimmed("PostgreSQL unreachable: "
                              + std::string{PQerrorMessage(conn_)});
      throw unavailable(last_failure_);
    }
    retry_after_ = std::chrono::milliseconds{0};
    stale_ = false;
    configure();
  }

  // A broken connection (or one to a server that turned read-only) is
  // connected anew, except inside a transaction (whose statements so far
  // are gone with it).
  void ensure() {
    if (PQstatus(conn_) == CONNECTION_OK && !stale_)
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
    auto state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    bool race = lost_race(state);
    // Read-only transaction: this server is (now) a standby.
    if (state != nullptr && std::string{state} == "25006")
      stale_ = true;
    PQclear(res);
    auto text = what.substr(0, 60) + ": " + msg;
    if (race)
      throw conflict(text);
    throw error(text);
  }

  std::string uri_;
  PGconn* conn_ = nullptr;  // null after a COMMIT that never answered
  bool in_transaction_ = false;
  bool stale_ = false;                // reconnect before the next use
  bool sync_wait_cancelled_ = false;  // noticed during this COMMIT
  std::chrono::milliseconds commit_timeout_{10000};  // statement_timeout
  std::chrono::milliseconds retry_after_{0};
  std::chrono::steady_clock::time_point next_attempt_{};
  std::string last_failure_;
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
