// The bytes of one piece as they travel between actors and nodes. Unlike
// std::vector<char>, a piece_bytes is never zero-filled: the piece server
// reads into it, and CAF's deserializer copies the received bytes straight
// into one (CAF 0.17 resizes a std::vector<char>, zeroing it, before it
// copies). Its memory comes from a small per-process pool of blocks (one
// free list per power-of-two size), so a download of 1 MiB pieces reuses the
// same few blocks instead of asking malloc (and the kernel, for fresh pages)
// for a megabyte per piece.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>

#include <caf/deserializer.hpp>
#include <caf/detail/stringification_inspector.hpp>
#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/sec.hpp>
#include <caf/serializer.hpp>

namespace actorrent {

class piece_bytes {
public:
  /// The largest piece_bytes a deserializer accepts (manifest's
  /// max_piece_size): a larger announced length is refused before any
  /// allocation.
  static constexpr size_t max_size = size_t{16} << 20;

  piece_bytes() noexcept = default;
  /// `n` bytes, not initialized.
  explicit piece_bytes(size_t n);
  piece_bytes(const char* data, size_t n);
  piece_bytes(const piece_bytes& other);
  piece_bytes(piece_bytes&& other) noexcept;
  piece_bytes& operator=(const piece_bytes& other);
  piece_bytes& operator=(piece_bytes&& other) noexcept;
  ~piece_bytes();

  char* data() noexcept { return data_; }
  const char* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  char& operator[](size_t i) noexcept { return data_[i]; }
  char operator[](size_t i) const noexcept { return data_[i]; }

  /// Makes room for `n` bytes, not initialized (the old content is gone).
  void reset(size_t n);

  /// A read-only view of `block`'s bytes that keeps it alive: copies of it
  /// share the block (no copy of the bytes), and the block goes back to the
  /// pool when its last holder is gone. A piece served from memory (the
  /// piece cache) travels this way. Writing through data() of a view is not
  /// allowed; reset() first (deserializing does) gives it bytes of its own.
  static piece_bytes view(std::shared_ptr<const piece_bytes> block);
  /// Whether this shares another holder's block (a view).
  bool shared() const noexcept { return shared_ != nullptr; }

  friend bool operator==(const piece_bytes& x, const piece_bytes& y);

private:
  /// Gives the bytes back (to the pool, or to the shared block's holders).
  void release() noexcept;
  char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
  std::shared_ptr<const piece_bytes> shared_;  // a view's block
};

/// Blocks the pool holds for reuse and blocks it handed out since the
/// process started (for tests and benchmarks).
struct piece_pool_counts {
  size_t idle_blocks = 0;
  size_t idle_bytes = 0;
  size_t allocated = 0;  // blocks taken from the heap
  size_t reused = 0;     // blocks taken from the pool
};
piece_pool_counts piece_pool_stats();

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, piece_bytes& x) {
  auto name = caf::meta::type_name("actorrent.piece_bytes");
  if constexpr (std::is_same_v<Inspector,
                               caf::detail::stringification_inspector>) {
    return f(name, std::to_string(x.size()) + " bytes");
  } else if constexpr (Inspector::reads_state) {
    size_t n = x.size();
    return caf::error::eval(
      [&] { return f.begin_sequence(n); },
      [&] { return n > 0 ? f.apply_raw(n, x.data()) : caf::error{}; },
      [&] { return f.end_sequence(); });
  } else {
    size_t n = 0;
    return caf::error::eval(
      [&] { return f.begin_sequence(n); },
      [&]() -> caf::error {
        if (n > piece_bytes::max_size)
          return caf::make_error(caf::sec::invalid_argument,
                                 "piece bytes over 16 MiB");
        x.reset(n);
        return n > 0 ? f.apply_raw(n, x.data()) : caf::error{};
      },
      [&] { return f.end_sequence(); });
  }
}

} // namespace actorrent
