#include "actors/core/piece_cache.hpp"

namespace actorrent {

void piece_cache::put(const std::string& file_sha256, uint32_t index,
                      piece_bytes bytes) {
  if (bytes.size() > max_bytes_)
    return;
  auto block = std::make_shared<const piece_bytes>(std::move(bytes));
  std::lock_guard<std::mutex> guard{mtx_};
  key k{file_sha256, index};
  if (entries_.count(k) > 0)
    return; // a duplicate (endgame): the first copy stays
  order_.push_back(k);
  bytes_ += block->size();
  entries_.emplace(std::move(k), entry{std::move(block), std::prev(order_.end())});
  evict_locked();
}

std::optional<piece_bytes> piece_cache::get(const std::string& file_sha256,
                                            uint32_t index) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = entries_.find(key{file_sha256, index});
  if (i == entries_.end()) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  return piece_bytes::view(i->second.block);
}

void piece_cache::forget(const std::string& file_sha256) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto i = entries_.lower_bound(key{file_sha256, 0});
       i != entries_.end() && i->first.first == file_sha256;) {
    bytes_ -= i->second.block->size();
    order_.erase(i->second.pos);
    i = entries_.erase(i);
  }
}

piece_cache::counts piece_cache::stats() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return counts{entries_.size(), bytes_, hits_, misses_};
}

void piece_cache::evict_locked() {
  while (bytes_ > max_bytes_ && !order_.empty()) {
    auto i = entries_.find(order_.front());
    bytes_ -= i->second.block->size();
    entries_.erase(i);
    order_.pop_front();
  }
}

} // namespace actorrent
