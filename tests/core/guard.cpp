// The guard in front of published ports, with plain sockets on loopback: an
// upstream server that records what reaches it, and clients that send BASP
// headers by hand. CAF is not involved (tests/e2e/adversary.cpp attacks real
// nodes through it).
#define BOOST_TEST_MODULE guard
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "actors/core/guard.hpp"

using namespace actorrent;
using namespace std::chrono_literals;

namespace {

std::string header(uint8_t op, uint32_t payload_len) {
  std::string h(basp_header_size, '\0');
  h[0] = static_cast<char>(op);
  for (int i = 0; i < 4; ++i)
    h[4 + i] = static_cast<char>((payload_len >> (24 - 8 * i)) & 0xff);
  h[15] = 3; // operation data: the BASP version
  return h;
}

// A handshake as the guard sees it: operation 1 and a small payload.
std::string handshake() {
  return header(basp_client_handshake, 8) + std::string(8, 'h');
}

// A loopback server that accepts connections and keeps what each sends; it
// greets each with `greeting` bytes (as CAF's server handshake would).
struct upstream {
  int fd = -1;
  uint16_t port = 0;
  std::string greeting;
  std::atomic<bool> stop{false};
  std::mutex mtx;
  std::vector<std::string> received; // per accepted connection
  std::thread thread;

  explicit upstream(std::string greet = "server-hello") : greeting(greet) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    listen(fd, 64);
    thread = std::thread{[this] { run(); }};
  }

  ~upstream() {
    stop = true;
    thread.join();
    ::close(fd);
  }

  void run() {
    std::vector<pollfd> fds{{fd, POLLIN, 0}};
    std::vector<size_t> index{0};
    char buf[65536];
    while (!stop) {
      if (poll(fds.data(), fds.size(), 50) <= 0)
        continue;
      for (size_t i = 0; i < fds.size(); ++i) {
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
          continue;
        if (i == 0) {
          int c = accept(fd, nullptr, nullptr);
          if (c < 0)
            continue;
          if (!greeting.empty())
            send(c, greeting.data(), greeting.size(), MSG_NOSIGNAL);
          std::lock_guard<std::mutex> g{mtx};
          index.push_back(received.size());
          received.emplace_back();
          fds.push_back({c, POLLIN, 0});
        } else {
          auto n = recv(fds[i].fd, buf, sizeof buf, 0);
          if (n <= 0) {
            ::close(fds[i].fd);
            fds[i].fd = -1; // poll ignores it from now on
            continue;
          }
          std::lock_guard<std::mutex> g{mtx};
          received[index[i]].append(buf, static_cast<size_t>(n));
        }
      }
    }
    for (size_t i = 1; i < fds.size(); ++i)
      if (fds[i].fd >= 0)
        ::close(fds[i].fd);
  }

  std::string got(size_t i) {
    std::lock_guard<std::mutex> g{mtx};
    return i < received.size() ? received[i] : std::string{};
  }
  size_t connections() {
    std::lock_guard<std::mutex> g{mtx};
    return received.size();
  }
};

struct client {
  int fd = -1;
  explicit client(uint16_t port) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~client() {
    ::close(fd);
  }
  void put(const std::string& bytes) {
    BOOST_REQUIRE(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL)
                  == static_cast<ssize_t>(bytes.size()));
  }
  /// Reads until `n` bytes came, the peer closed or `wait` passed.
  std::string take(size_t n, std::chrono::milliseconds wait = 2000ms) {
    std::string out;
    auto end = std::chrono::steady_clock::now() + wait;
    char buf[65536];
    while (out.size() < n && std::chrono::steady_clock::now() < end) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0)
        continue;
      auto k = recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
      if (k <= 0)
        break;
      out.append(buf, static_cast<size_t>(k));
    }
    return out;
  }
  /// True when the guard closed the connection within `wait`.
  bool closed_within(std::chrono::milliseconds wait) {
    auto end = std::chrono::steady_clock::now() + wait;
    char buf[65536];
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0)
        continue;
      auto k = recv(fd, buf, sizeof buf, 0);
      if (k == 0 || (k < 0 && errno == ECONNRESET))
        return true;
    }
    return false;
  }
};

bool eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds wait = 3000ms) {
  auto end = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < end) {
    if (pred())
      return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

struct guarded {
  upstream up;
  guard g;
  uint16_t port = 0;
  explicit guarded(guard_options opts) : g(opts) {
    BOOST_REQUIRE_EQUAL(g.open("127.0.0.1", port, up.port), "");
  }
};

guard_options small() {
  guard_options o;
  o.max_per_address = 3;
  o.max_connections = 5;
  o.handshake_ms = 300ms;
  o.max_message = 1 << 20;
  o.in_flight = 3 << 20;
  return o;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_header_is_read_as_caf_writes_it) {
  auto h = header(2, 0x01020304);
  h[3] = 0x02;
  h[23] = 7;
  h[31] = 9;
  auto p = parse_basp_header(reinterpret_cast<const unsigned char*>(h.data()));
  BOOST_CHECK_EQUAL(p.operation, 2);
  BOOST_CHECK_EQUAL(p.flags, 2);
  BOOST_CHECK_EQUAL(p.payload_len, 0x01020304u);
  BOOST_CHECK_EQUAL(p.operation_data, 3u);
  BOOST_CHECK_EQUAL(p.source_actor, 7u);
  BOOST_CHECK_EQUAL(p.dest_actor, 9u);
}

// Bytes go through unchanged both ways once the client has handshaken; a
// megabyte from the server arrives whole.
BOOST_AUTO_TEST_CASE(bytes_are_forwarded_both_ways) {
  std::string big(1 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i)
    big[i] = static_cast<char>(i * 7 + i / 4096);
  guarded s{small()};
  s.up.greeting = big;
  client c{s.port};
  BOOST_CHECK(c.take(big.size()) == big);
  auto msg = header(2, 5) + "hello" + header(6, 0);
  c.put(handshake());
  c.put(msg.substr(0, 10)); // a header in two parts
  std::this_thread::sleep_for(20ms);
  c.put(msg.substr(10));
  BOOST_REQUIRE(eventually([&] { return s.up.got(0) == handshake() + msg; }));
  BOOST_CHECK_EQUAL(s.g.counts().accepted, 1u);
}

// The first message must be a client handshake: a header announcing 1 GiB
// (as the server handshake it claims to be) never reaches the node.
BOOST_AUTO_TEST_CASE(a_first_message_other_than_a_handshake_is_refused) {
  guarded s{small()};
  client c{s.port};
  c.put(header(0, 1u << 30));
  BOOST_CHECK(c.closed_within(1000ms));
  BOOST_CHECK_EQUAL(s.up.got(0), "");
  client d{s.port};
  d.put(header(basp_client_handshake, 1u << 20)); // a handshake over 64 KiB
  BOOST_CHECK(d.closed_within(1000ms));
  BOOST_CHECK_EQUAL(s.g.counts().closed_no_handshake, 2u);
}

// After the handshake, a header over max_message closes the connection;
// what came before it went through, the header did not.
BOOST_AUTO_TEST_CASE(a_header_over_the_limit_closes_the_connection) {
  guarded s{small()};
  client c{s.port};
  c.put(handshake() + header(2, 3) + "abc" + header(2, (1 << 20) + 1));
  BOOST_CHECK(c.closed_within(1000ms));
  BOOST_CHECK(eventually(
    [&] { return s.up.got(0) == handshake() + header(2, 3) + "abc"; }));
  BOOST_CHECK_EQUAL(s.g.counts().closed_bad_header, 1u);
}

// A connection that never finishes its handshake is closed at the deadline;
// one that does stays open.
BOOST_AUTO_TEST_CASE(a_connection_without_handshake_is_closed_in_time) {
  guarded s{small()};
  client idle{s.port};
  client half{s.port};
  half.put(header(basp_client_handshake, 100) + "only part");
  client good{s.port};
  good.put(handshake());
  auto t0 = std::chrono::steady_clock::now();
  BOOST_CHECK(idle.closed_within(2000ms));
  auto waited = std::chrono::steady_clock::now() - t0;
  BOOST_CHECK(waited >= 250ms);
  BOOST_CHECK(half.closed_within(500ms));
  BOOST_CHECK(!good.closed_within(500ms));
  BOOST_CHECK_EQUAL(s.g.counts().closed_no_handshake, 2u);
}

// Beyond max_per_address connections from one address are closed at once;
// when one ends, another is taken again.
BOOST_AUTO_TEST_CASE(connections_beyond_the_cap_are_refused) {
  auto o = small();
  o.handshake_ms = 10s;
  guarded s{o};
  std::vector<std::unique_ptr<client>> cs;
  for (int i = 0; i < 3; ++i)
    cs.push_back(std::make_unique<client>(s.port));
  client extra{s.port};
  BOOST_CHECK(extra.closed_within(1000ms));
  for (auto& c : cs)
    BOOST_CHECK(!c->closed_within(50ms));
  BOOST_CHECK_EQUAL(s.g.counts().refused_per_address, 1u);
  cs.pop_back();
  BOOST_REQUIRE(eventually([&] { return s.g.counts().open == 2; }));
  client again{s.port};
  again.put(handshake());
  BOOST_CHECK(eventually([&] { return s.up.got(3) == handshake(); }));
}

// Large messages hold the in-flight budget: a second one waits, unforwarded,
// until the first is through; a large message that does not arrive in time
// closes its connection and frees the budget.
BOOST_AUTO_TEST_CASE(large_messages_share_the_in_flight_budget) {
  auto o = small();
  o.in_flight = 1 << 20;
  o.handshake_ms = 500ms;
  guarded s{o};
  client a{s.port};
  client b{s.port};
  a.put(handshake() + header(2, 800000) + std::string(1000, 'a'));
  BOOST_REQUIRE(eventually([&] { return s.up.got(0).size() == 40 + 32 + 1000; }));
  b.put(handshake() + header(2, 800000) + std::string(1000, 'b'));
  BOOST_REQUIRE(eventually([&] { return s.up.got(1) == handshake(); }));
  std::this_thread::sleep_for(100ms);
  BOOST_CHECK(s.up.got(1) == handshake()); // its large header waits
  a.put(std::string(800000 - 1000, 'a'));
  BOOST_CHECK(eventually(
    [&] { return s.up.got(1).size() == 40 + 32 + 1000; }));
  // b's message stalls: closed within the grace and 1 MiB/s.
  BOOST_CHECK(b.closed_within(3000ms));
  BOOST_CHECK_EQUAL(s.g.counts().closed_too_slow, 1u);
  BOOST_CHECK(!a.closed_within(50ms));
}

// Closing the port ends its connections and frees the port.
BOOST_AUTO_TEST_CASE(close_ends_the_connections_and_the_port) {
  guarded s{small()};
  client c{s.port};
  c.put(handshake());
  BOOST_REQUIRE(eventually([&] { return s.up.got(0) == handshake(); }));
  s.g.close(s.port);
  BOOST_CHECK(c.closed_within(1000ms));
  auto port = s.port;
  BOOST_CHECK_EQUAL(s.g.open("127.0.0.1", port, s.up.port), "");
}

// Out of descriptors, a failed accept does not spin the guard's thread: the
// listener rests and is tried again; once descriptors are free the waiting
// connection is taken.
BOOST_AUTO_TEST_CASE(out_of_descriptors_the_guard_rests_and_recovers) {
  guarded s{small()};
  // Every descriptor number taken but one (for the client's socket).
  std::vector<int> fillers;
  for (int fd; (fd = dup(0)) >= 0 && fillers.size() < 100000;)
    fillers.push_back(fd);
  rlimit old{};
  getrlimit(RLIMIT_NOFILE, &old);
  rlimit low = old;
  low.rlim_cur = static_cast<rlim_t>(fillers.back() + 1);
  BOOST_REQUIRE_EQUAL(setrlimit(RLIMIT_NOFILE, &low), 0);
  for (int fd; (fd = dup(0)) >= 0;)
    fillers.push_back(fd);
  ::close(fillers.back());
  fillers.pop_back();
  rusage r0{};
  getrusage(RUSAGE_SELF, &r0);
  auto c = std::make_unique<client>(s.port);
  std::this_thread::sleep_for(500ms);
  rusage r1{};
  getrusage(RUSAGE_SELF, &r1);
  for (int fd : fillers)
    ::close(fd);
  setrlimit(RLIMIT_NOFILE, &old);
  auto cpu_ms = [](const rusage& r) {
    return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1000
           + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1000;
  };
  BOOST_TEST_MESSAGE("CPU while out of descriptors: " << cpu_ms(r1) - cpu_ms(r0)
                                                       << " ms");
  BOOST_CHECK_LT(cpu_ms(r1) - cpu_ms(r0), 200);
  c->put(handshake());
  BOOST_CHECK(eventually([&] { return s.up.got(0) == handshake(); }));
}
