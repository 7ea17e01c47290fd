// What an actor needs from the world outside the actor system, in one place:
// disk, the directory of published actors, how blocking actors are spawned,
// randomness and wall-clock time. A node fills it with the real things; tests
// and simulations with in-memory, in-process and seeded ones. Time inside
// actors always comes from CAF's clock (`self->clock()`, delayed sends), so
// the deterministic scheduler controls it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include <caf/actor_system.hpp>
#include <caf/spawn_options.hpp>

#include "actors/core/directory.hpp"
#include "actors/core/file_io.hpp"
#include "actors/core/random.hpp"

namespace actorrent {

/// How actors that block (SQLite, pread/pwrite, hashing) are spawned:
/// detached (a thread of their own) in a node; scheduled under the
/// deterministic scheduler, which would not control a detached actor.
enum class blocking_mode { detached, scheduled };

struct environment {
  std::shared_ptr<file_io> io;
  std::shared_ptr<directory> dir;
  blocking_mode blocking = blocking_mode::detached;
  /// Seeds every random generator an actor makes (peer ids excepted: they
  /// are stored, and keys come from libsodium).
  uint64_t seed = 0;
  /// Seconds since the Unix epoch (ticket expiry).
  std::function<int64_t()> unix_time;
  /// Random bytes for the ticket key and session tokens.
  random_source random;
  /// Piece streams (piece_stream.hpp): TCP connections of their own for
  /// piece bytes. A node has them; tests under the deterministic scheduler
  /// and simulations (no sockets) take pieces as messages.
  bool streams = false;
};

/// A node's environment: the disk, the middleman behind the guard `guard`
/// describes, detached blocking actors, a seed from std::random_device, the
/// system clock.
environment make_node_environment(caf::actor_system& sys,
                                  guard_options guard = {});

/// Spawns an actor that blocks as `mode` says, with the other options `Os`.
template <caf::spawn_options Os = caf::no_spawn_options, class Parent,
          class F, class... Ts>
auto spawn_blocking(Parent* parent, blocking_mode mode, F fun, Ts&&... xs) {
  if (mode == blocking_mode::detached)
    return parent->template spawn<Os + caf::detached>(fun,
                                                      std::forward<Ts>(xs)...);
  return parent->template spawn<Os>(fun, std::forward<Ts>(xs)...);
}

/// The same, for actors spawned by the actor system itself (a node's
/// server actors).
template <caf::spawn_options Os = caf::no_spawn_options, class F, class... Ts>
auto spawn_blocking(caf::actor_system& sys, blocking_mode mode, F fun,
                    Ts&&... xs) {
  return spawn_blocking<Os>(&sys, mode, fun, std::forward<Ts>(xs)...);
}

/// A seed derived from a base seed and a name (the same name, the same seed).
uint64_t derive_seed(uint64_t base, const std::string& name);

} // namespace actorrent
