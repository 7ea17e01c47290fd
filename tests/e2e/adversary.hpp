// An adversarial client: speaks actorrent's own protocol (same application
// identifier, same message types) to a real tracker or peer process from
// this test process, and a probe that measures how long the node takes to
// answer an honest request meanwhile.
#pragma once

#include <atomic>
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

} // namespace actorrent::test
