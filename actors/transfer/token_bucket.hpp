// An upload budget, shared by the piece server (actor clock) and the
// piece stream (steady clock: the same clock in a node).
#pragma once

#include <cstdint>

#include <caf/actor_clock.hpp>
#include <caf/timestamp.hpp>

namespace actorrent {

/// An upload budget: `rate` bytes per second, at most `burst` saved up.
/// Requests may overdraw it; the next ones wait until the debt is paid.
class token_bucket {
public:
  using time_point = caf::actor_clock::time_point;
  token_bucket() = default;
  token_bucket(uint64_t rate, time_point now);
  /// Takes `bytes` from the budget; returns how long the reply must wait
  /// (zero: at once).
  caf::timespan take(uint64_t bytes, time_point now);
  /// How long a reply of `bytes` would wait if taken now (nothing taken).
  caf::timespan delay(uint64_t bytes, time_point now);

private:
  void refill(time_point now);
  caf::timespan wait_for(double tokens) const;
  uint64_t rate_ = 0;
  double tokens_ = 0;
  double burst_ = 0;
  time_point last_;
};

} // namespace actorrent
