// The challenges a tracker handed out and not yet seen answered: at most a
// bound of them pending, each for one TTL. Kept twice: by nonce (to answer)
// and in the order they were handed out, which is the order they expire in
// (the TTL is the same for all), so expiring costs nothing per pending
// challenge. Answered ones stay in the order until they expire or the order
// is compacted (at more than twice the pending ones plus 1,024).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <string>
#include <utility>

namespace actorrent {

class challenge_book {
public:
  using time_point = std::chrono::steady_clock::time_point;

  /// Drops what expired at `now`; then whether fewer than `max` are pending.
  bool has_room(time_point now, size_t max);
  /// A challenge handed out, answerable until `expires` (later than every
  /// earlier one's).
  void add(std::string nonce, time_point expires);
  /// Answers `nonce`: true once, if it is pending and not expired at `now`.
  bool take(const std::string& nonce, time_point now);
  size_t pending() const { return by_nonce_.size(); }
  /// Entries in the expiry order (pending and answered ones).
  size_t queued() const { return order_.size(); }

private:
  std::map<std::string, time_point> by_nonce_;
  std::deque<std::pair<time_point, std::string>> order_;
};

} // namespace actorrent
