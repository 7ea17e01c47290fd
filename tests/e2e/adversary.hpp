// An adversarial client: speaks actorrent's own protocol (same application
// identifier, same message types) to a real tracker or peer process from
// this test process, and a probe that measures how long the node takes to
// answer an honest request meanwhile.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include <caf/io/middleman.hpp>

#include "actors/core/identity.hpp"
#include "actors/interfaces.hpp"
#include "tests/e2e/swarm.hpp"

namespace actorrent::test {

/// One connection to a node's published actor, as `Handle`.
template <class Handle>
struct client {
  node_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  Handle node;

  explicit client(uint16_t port) {
    cfg.set("scheduler.max-threads", 2);
    cfg.load<caf::io::middleman>();
    sys = std::make_unique<caf::actor_system>(cfg);
    auto h = sys->middleman().remote_actor<Handle>("127.0.0.1", port);
    BOOST_REQUIRE_MESSAGE(h, "cannot connect to port " << port);
    node = *h;
  }

  /// Sends a request and waits for its answer: a T or the error.
  template <class T, class... Ts>
  caf::expected<T> ask(Ts&&... xs) {
    caf::scoped_actor self{*sys};
    caf::expected<T> out{caf::make_error(caf::sec::request_timeout)};
    self->request(node, 30s, std::forward<Ts>(xs)...)
      .receive([&](T& x) { out = std::move(x); },
               [&](caf::error& err) { out = std::move(err); });
    return out;
  }
};

using tracker_client_conn = client<tracker_node_actor>;

/// Announces `a` through `c` as the holder of `key` (a peer of its own).
inline caf::expected<pb::AnnounceReply>
announce_as(tracker_client_conn& c, const signing_key& key, pb::Announce a) {
  auto challenge = c.ask<pb::Challenge>(challenge_atom::value);
  if (!challenge)
    return challenge.error();
  sign_announce(key, challenge->nonce(), a);
  return c.ask<pb::AnnounceReply>(announce_atom::value, a);
}

/// The error of `x` as text ("ok" when it holds a value).
template <class T>
std::string why(const caf::expected<T>& x) {
  return x ? std::string{"ok"} : render(x.error());
}

/// Runs `attack` in a thread while a separate connection asks the tracker
/// for its file list every 50 ms; returns the slowest answer (ms), or a
/// huge value when one failed.
inline int64_t slowest_answer_during(uint16_t tracker_port,
                                     std::function<void()> attack) {
  tracker_client_conn probe{tracker_port};
  std::atomic<bool> done{false};
  std::thread t{[&] {
    attack();
    done = true;
  }};
  int64_t slowest = 0;
  int rounds = 0;
  while (!done || rounds < 3) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = probe.ask<pb::FileList>(list_atom::value, pb::FileQuery{});
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0)
                .count();
    slowest = std::max<int64_t>(slowest, r ? ms : 1'000'000);
    ++rounds;
    std::this_thread::sleep_for(50ms);
  }
  t.join();
  return slowest;
}

/// A BASP header as CAF 0.17.6 writes it (32 bytes, network byte order).
inline std::string basp_bytes(uint8_t op, uint32_t payload_len,
                               uint64_t dest_actor = 0) {
  std::string h(32, '\0');
  h[0] = static_cast<char>(op);
  for (int i = 0; i < 4; ++i)
    h[4 + i] = static_cast<char>((payload_len >> (24 - 8 * i)) & 0xff);
  h[15] = 3; // operation data: the BASP version
  for (int i = 0; i < 8; ++i)
    h[24 + i] = static_cast<char>((dest_actor >> (56 - 8 * i)) & 0xff);
  return h;
}

/// A raw TCP connection to a node's port, from `from` (any 127.x.y.z: a
/// remote address of its own on loopback).
struct raw_conn {
  int fd = -1;
  explicit raw_conn(uint16_t port, const char* from = "127.0.0.1") {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, from, &a.sin_addr);
    BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    BOOST_REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a)
                  == 0);
  }
  /// Takes over a connection accepted elsewhere.
  struct accepted_t {};
  raw_conn(accepted_t, int accepted) : fd(accepted) {}
  raw_conn(const raw_conn&) = delete;
  ~raw_conn() { ::close(fd); }
  /// Sends what the peer takes (false when it closed meanwhile).
  bool put(const std::string& bytes) {
    return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL)
           == static_cast<ssize_t>(bytes.size());
  }
  /// Reads exactly `n` bytes; "" when the connection ends first or after 10 s.
  std::string take(size_t n) {
    std::string out;
    char buf[4096];
    auto end = std::chrono::steady_clock::now() + 10s;
    while (out.size() < n && std::chrono::steady_clock::now() < end) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0)
        continue;
      auto k = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
      if (k <= 0)
        return {};
      out.append(buf, static_cast<size_t>(k));
    }
    return out.size() == n ? out : std::string{};
  }
  /// True when the node closed the connection within `wait` (what it sent
  /// meanwhile is read and dropped).
  bool closed_within(std::chrono::milliseconds wait) {
    auto end = std::chrono::steady_clock::now() + wait;
    char buf[4096];
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0)
        continue;
      auto k = ::recv(fd, buf, sizeof buf, 0);
      if (k == 0 || (k < 0 && errno == ECONNRESET))
        return true;
    }
    return false;
  }
};

/// A BASP message (header and payload) read from `c`; "" when none came.
inline std::string take_message(raw_conn& c) {
  auto h = c.take(32);
  if (h.empty())
    return {};
  uint32_t len = 0;
  for (int i = 4; i < 8; ++i)
    len = (len << 8) | static_cast<unsigned char>(h[i]);
  return h + c.take(len);
}

/// A connection to `port` that a real `ctl` client handshook through
/// (relayed by this process): what is sent on it next reaches the node as
/// from a connected node. The ctl process waits for its answer meanwhile.
/// `error` says what went wrong (it may run in an attack thread, where
/// Boost.Test's checks may not).
struct handshaken_conn {
  std::unique_ptr<test::process> ctl;
  std::unique_ptr<raw_conn> node;
  std::string error;
  handshaken_conn(uint16_t port, const std::string& log) {
    int lst = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(lst, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(lst, reinterpret_cast<sockaddr*>(&a), &len);
    ::listen(lst, 1);
    ctl = std::make_unique<test::process>(
      std::vector<std::string>{"ctl", "--node",
                               "127.0.0.1:" + std::to_string(ntohs(a.sin_port)),
                               "actors"},
      log);
    pollfd p{lst, POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) {
      ::close(lst);
      error = "ctl did not connect";
      return;
    }
    raw_conn client{raw_conn::accepted_t{}, ::accept(lst, nullptr, nullptr)};
    ::close(lst);
    node = std::make_unique<raw_conn>(port);
    auto server_hs = take_message(*node);
    if (server_hs.empty() || !client.put(server_hs)) {
      error = "no server handshake";
      return;
    }
    auto client_hs = take_message(client);
    if (client_hs.empty() || !node->put(client_hs))
      error = "no client handshake";
  }
};

/// Resident memory of a process, in MiB.
inline double rss_mib(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stod(line.substr(6)) / 1024;
  return 0;
}

} // namespace actorrent::test
