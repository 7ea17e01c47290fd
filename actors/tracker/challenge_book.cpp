#include "actors/tracker/challenge_book.hpp"

#include <algorithm>

namespace actorrent {

bool challenge_book::has_room(time_point now, size_t max) {
  while (!order_.empty() && order_.front().first <= now) {
    auto& [due, nonce] = order_.front();
    if (auto i = by_nonce_.find(nonce); i != by_nonce_.end() && i->second == due)
      by_nonce_.erase(i);
    order_.pop_front();
  }
  if (order_.size() > 2 * by_nonce_.size() + 1024) {
    // Mostly answered ones: keep the pending, in order of expiry.
    order_.clear();
    for (auto& [nonce, due] : by_nonce_)
      order_.emplace_back(due, nonce);
    std::sort(order_.begin(), order_.end());
  }
  return by_nonce_.size() < max;
}

void challenge_book::add(std::string nonce, time_point expires) {
  if (by_nonce_.emplace(nonce, expires).second)
    order_.emplace_back(expires, std::move(nonce));
}

bool challenge_book::take(const std::string& nonce, time_point now) {
  auto i = by_nonce_.find(nonce);
  if (i == by_nonce_.end() || i->second <= now)
    return false;
  by_nonce_.erase(i);
  return true;
}

} // namespace actorrent
