// A throwaway PostgreSQL server for tests: initdb into a fresh directory
// under /tmp as an unprivileged user (initdb refuses root: the `postgres`
// account when run as root), the server started as a direct child of the
// test process, listening only on a Unix socket in that directory (no TCP),
// stopped by its PID when the fixture ends (SIGTERM, SIGKILL after 5 s),
// and killed by the kernel if the test process dies first
// (PR_SET_PDEATHSIG). Missing PostgreSQL binaries are an error, not a skip:
// scripts/install-deps.sh installs them.
//
// A primary with a streaming standby (pg_pair): the standby is a base
// backup of the primary (pg_basebackup -R over the primary's Unix socket:
// initdb's `local replication all trust` line in pg_hba.conf allows it),
// the primary waits for it on every commit (synchronous_standby_names
// names it, synchronous_commit on). Clients get a URI naming both sockets
// with target_session_attrs=read-write: they reach whichever server is the
// primary. `fail_over` SIGKILLs the primary's postmaster and promotes the
// standby, which has no synchronous standby of its own (its
// synchronous_standby_names is empty: the setting is given on the
// primary's command line, not in the copied configuration), so its commits
// do not wait for a server that no longer exists.
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <libpq-fe.h>

namespace actorrent::test {

class pg_server {
public:
  /// A fresh server; `sync_standby`: the application name of the standby
  /// every commit waits for (none: no synchronous replication).
  explicit pg_server(const std::string& sync_standby = {}) {
    make_dir();
    auto rc = run_as_user({bin_ + "/initdb", "-D", dir_ + "/data", "-U",
                           "postgres", "--auth=trust", "-E", "UTF8",
                           "--no-sync", "--no-instructions"},
                          dir_ + "/initdb.log", true);
    if (rc != 0)
      fail("initdb failed (exit " + std::to_string(rc) + "), see " + dir_
           + "/initdb.log");
    std::vector<std::string> extra;
    if (!sync_standby.empty())
      extra = {"-c", "synchronous_standby_names=" + sync_standby, "-c",
               "synchronous_commit=on"};
    launch(extra);
  }

  /// A streaming standby of `primary` named `name` (its application name),
  /// started and replaying; when `name` is the primary's synchronous
  /// standby, returns once the primary reports it as such.
  pg_server(const pg_server& primary, const std::string& name) {
    make_dir();
    auto rc = run_as_user({bin_ + "/pg_basebackup", "-D", dir_ + "/data", "-d",
                           "host=" + primary.dir_ + " user=postgres", "-R",
                           "-X", "stream", "-c", "fast", "--no-sync"},
                          dir_ + "/basebackup.log", true);
    if (rc != 0)
      fail("pg_basebackup failed (exit " + std::to_string(rc) + "), see "
           + dir_ + "/basebackup.log");
    launch({"-c", "primary_conninfo=host=" + primary.dir_
                    + " user=postgres application_name=" + name});
    for (int i = 0; i < 200; ++i) {
      auto* conn = PQconnectdb(primary.conninfo("postgres").c_str());
      auto* res = PQexec(conn, ("SELECT 1 FROM pg_stat_replication WHERE "
                                "application_name = '" + name
                                + "' AND state = 'streaming'")
                                 .c_str());
      bool streaming = PQresultStatus(res) == PGRES_TUPLES_OK
                       && PQntuples(res) == 1;
      PQclear(res);
      PQfinish(conn);
      if (streaming)
        return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    fail("the standby is not streaming after 10 s, see " + dir_
         + "/server.log");
  }

  /// Starts a stopped server again (same data directory and settings).
  void start() {
    if (pid_ <= 0)
      launch(extra_);
  }

  /// The postmaster SIGKILLed (a hard stop: no shutdown checkpoint; its
  /// backends end when they notice).
  void kill_hard() {
    if (pid_ <= 0)
      return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  /// A standby becomes a primary (pg_promote, waiting up to 10 s); throws
  /// when it did not.
  void promote() {
    auto* conn = PQconnectdb(conninfo("postgres").c_str());
    auto* res = PQexec(conn, "SELECT pg_promote(true, 10)");
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
              && std::string{PQgetvalue(res, 0, 0)} == "t";
    std::string why = PQerrorMessage(conn);
    PQclear(res);
    PQfinish(conn);
    if (!ok)
      fail("promotion failed: " + why);
  }

  /// The first value `sql` returns on database `db` ("" when none); for
  /// tests that look inside the server.
  std::string query(const std::string& sql,
                    const std::string& db = "postgres") const {
    auto* conn = PQconnectdb(conninfo(db).c_str());
    auto* res = PQexec(conn, sql.c_str());
    std::string out;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0)
      out = PQgetvalue(res, 0, 0);
    PQclear(res);
    PQfinish(conn);
    return out;
  }

private:
  void make_dir() {
    bin_ = find_bin_dir();
    char buf[] = "/tmp/actorrent-pg-XXXXXX";
    if (::mkdtemp(buf) == nullptr)
      throw std::runtime_error("pg_server: mkdtemp failed");
    dir_ = buf;
    if (::geteuid() == 0) {
      auto* pw = ::getpwnam("postgres");
      if (pw == nullptr)
        fail("no 'postgres' account to run PostgreSQL as (install postgresql)");
      uid_ = pw->pw_uid;
      gid_ = pw->pw_gid;
      if (::chown(dir_.c_str(), uid_, gid_) != 0)
        fail("cannot hand " + dir_ + " to the postgres account");
    }
    ::chmod(dir_.c_str(), 0700);
  }

  // Starts the server on the data directory; returns once it answers.
  void launch(const std::vector<std::string>& extra) {
    extra_ = extra;
    std::vector<std::string> args{
      bin_ + "/postgres", "-D", dir_ + "/data", "-k", dir_,
      "-c", "listen_addresses=", "-c", "fsync=off", "-c",
      "max_connections=200", "-c", "shared_buffers=16MB"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = run_as_user(args, dir_ + "/server.log", false);
    for (int i = 0; i < 200; ++i) {
      if (PQping(conninfo("postgres").c_str()) == PQPING_OK)
        return;
      if (::waitpid(pid_, nullptr, WNOHANG) != 0) {
        pid_ = -1;
        fail("postgres exited at start, see " + dir_ + "/server.log");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    fail("postgres not ready after 10 s, see " + dir_ + "/server.log");
  }

public:
  pg_server(const pg_server&) = delete;
  pg_server& operator=(const pg_server&) = delete;

  ~pg_server() {
    stop();
    if (!std::getenv("ACTORRENT_KEEP_TEST_DIRS"))
      std::filesystem::remove_all(dir_);
  }

  /// Stops the server (SIGTERM: a fast shutdown; SIGKILL after 5 s).
  void stop() {
    if (pid_ <= 0)
      return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  /// A new empty database; its connection URI (`postgresql://...`).
  std::string create_database(const std::string& name) {
    auto* conn = PQconnectdb(conninfo("postgres").c_str());
    auto* res = PQexec(conn, ("CREATE DATABASE " + name).c_str());
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    std::string why = PQerrorMessage(conn);
    PQclear(res);
    PQfinish(conn);
    if (!ok)
      fail("CREATE DATABASE " + name + ": " + why);
    return uri(name);
  }

  /// The URI of database `name` (the socket directory as its host).
  std::string uri(const std::string& name) const {
    return "postgresql:///" + name + "?host=" + dir_ + "&user=postgres";
  }

  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }

private:
  [[noreturn]] void fail(const std::string& why) {
    throw std::runtime_error("PostgreSQL test server: " + why);
  }

  std::string conninfo(const std::string& db) const {
    return "host=" + dir_ + " user=postgres dbname=" + db;
  }

  // The newest /usr/lib/postgresql/N/bin with initdb and postgres.
  static std::string find_bin_dir() {
    std::vector<std::string> found;
    std::error_code ec;
    for (auto& e :
         std::filesystem::directory_iterator{"/usr/lib/postgresql", ec}) {
      auto bin = e.path() / "bin";
      if (std::filesystem::exists(bin / "initdb")
          && std::filesystem::exists(bin / "postgres"))
        found.push_back(bin.string());
    }
    if (found.empty())
      throw std::runtime_error(
        "PostgreSQL test server: no initdb/postgres under /usr/lib/postgresql"
        " (install the postgresql package: scripts/install-deps.sh)");
    std::sort(found.begin(), found.end(), [](auto& a, auto& b) {
      return a.size() != b.size() ? a.size() < b.size() : a < b;
    });
    return found.back();
  }

  // Runs `args` as the unprivileged user with output to `log`; waits for
  // it (its exit code) or returns its PID.
  int run_as_user(std::vector<std::string> args, const std::string& log,
                  bool wait) {
    auto pid = ::fork();
    if (pid == 0) {
      if (uid_ != 0) {
        if (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0
            || ::setuid(uid_) != 0)
          ::_exit(126);
      }
      // After the change of user (which clears it): dies with the test.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv;
      for (auto& a : args)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    if (!wait)
      return pid;
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string bin_;
  std::string dir_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  pid_t pid_ = -1;
  std::vector<std::string> extra_;  // settings of launch
};

/// A primary and its synchronous standby (see the top of this file).
class pg_pair {
public:
  pg_pair() : primary_("standby1"), standby_(primary_, "standby1") {}

  /// A new empty database (created on the primary, replicated); the URI
  /// naming both servers.
  std::string create_database(const std::string& name) {
    primary_.create_database(name);
    return uri(name);
  }

  std::string uri(const std::string& name) const {
    return "postgresql:///" + name + "?host=" + primary_.dir() + ","
           + standby_.dir() + "&user=postgres&target_session_attrs=read-write";
  }

  /// The primary stopped hard, the standby promoted.
  void fail_over() {
    primary_.kill_hard();
    standby_.promote();
  }

  pg_server& primary() { return primary_; }
  pg_server& standby() { return standby_; }

private:
  pg_server primary_;
  pg_server standby_;
};

/// One server for the whole test program (started on first use); each
/// test takes a database of its own from it.
inline pg_server& shared_pg_server() {
  static pg_server server;
  return server;
}

/// A fresh database on the shared server: its URI.
inline std::string fresh_pg_database() {
  static int n = 0;
  return shared_pg_server().create_database("t" + std::to_string(::getpid())
                                            + "_" + std::to_string(++n));
}

} // namespace actorrent::test
