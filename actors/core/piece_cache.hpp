// The pieces a node verified most recently, kept in memory for serving.
// Other downloaders of the same file ask for just-verified pieces first
// (they learn of them through the tracker within a refresh), and a piece
// written with O_DIRECT is not in the page cache: reading it back would cost
// a device read into fresh page-cache pages. The writer hands the verified
// block itself to the cache (no copy) and the piece server answers from it
// (a view of the block, no copy either). Bounded in bytes; the oldest piece
// goes first. Thread-safe; shared by a node's writers and its piece server.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "actors/core/piece_bytes.hpp"

namespace actorrent {

class piece_cache {
public:
  /// Holds at most `max_bytes` of piece bytes (0: holds nothing).
  explicit piece_cache(size_t max_bytes) : max_bytes_(max_bytes) {}

  /// Keeps piece `index` of the file `file_sha256`: `bytes` must be the
  /// verified piece. Older pieces go while over the bound.
  void put(const std::string& file_sha256, uint32_t index, piece_bytes bytes);
  /// A view of the cached piece (sharing its block), if held.
  std::optional<piece_bytes> get(const std::string& file_sha256,
                                 uint32_t index);
  /// Forgets every piece of a file (removed or replaced).
  void forget(const std::string& file_sha256);

  struct counts {
    size_t pieces = 0;
    size_t bytes = 0;
    uint64_t hits = 0;
    uint64_t misses = 0;
  };
  counts stats() const;

private:
  using key = std::pair<std::string, uint32_t>;
  struct entry {
    std::shared_ptr<const piece_bytes> block;
    std::list<key>::iterator pos;
  };
  void evict_locked();
  mutable std::mutex mtx_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
  std::list<key> order_;  // oldest first
  std::map<key, entry> entries_;
};

} // namespace actorrent
