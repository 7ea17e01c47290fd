#include "actors/core/piece_bytes.hpp"

#include <array>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

namespace actorrent {

namespace {

// Every block is aligned to 4 KiB, so a whole piece can be written with
// O_DIRECT (file_io). Blocks of 4 KiB and more come from the pool: capacities are powers of
// two, one free list each. The pool keeps at most `max_idle` bytes idle in
// all (more than a window of 16 MiB pieces in flight); a block returned
// beyond that goes back to the heap.
constexpr size_t min_pooled = size_t{4} << 10;
constexpr size_t max_idle = size_t{64} << 20;
constexpr std::align_val_t alignment{4096};

char* allocate_block(size_t n) {
  return static_cast<char*>(::operator new[](n, alignment)); // not initialized
}

void free_block(char* p) {
  ::operator delete[](p, alignment);
}

size_t size_class(size_t n) {
  size_t c = min_pooled;
  while (c < n)
    c <<= 1;
  return c;
}

size_t class_index(size_t capacity) {
  size_t i = 0;
  while ((min_pooled << i) < capacity)
    ++i;
  return i;
}

class pool {
public:
  char* take(size_t capacity) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      auto& list = free_[class_index(capacity)];
      if (!list.empty()) {
        auto* p = list.back();
        list.pop_back();
        idle_ -= capacity;
        ++reused_;
        return p;
      }
      ++allocated_;
    }
    return allocate_block(capacity);
  }

  void give(char* p, size_t capacity) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (idle_ + capacity <= max_idle) {
        free_[class_index(capacity)].push_back(p);
        idle_ += capacity;
        return;
      }
    }
    free_block(p);
  }

  piece_pool_counts counts() {
    std::lock_guard<std::mutex> guard{mtx_};
    piece_pool_counts out;
    for (auto& list : free_)
      out.idle_blocks += list.size();
    out.idle_bytes = idle_;
    out.allocated = allocated_;
    out.reused = reused_;
    return out;
  }

private:
  std::mutex mtx_;
  std::array<std::vector<char*>, 24> free_; // 4 KiB .. 32 GiB
  size_t idle_ = 0;
  size_t allocated_ = 0;
  size_t reused_ = 0;
};

pool& the_pool() {
  // Never destroyed: blocks may be returned by threads that outlive main.
  static auto* p = new pool;
  return *p;
}

char* take(size_t n, size_t& capacity) {
  if (n < min_pooled) {
    capacity = n;
    return n > 0 ? allocate_block(n) : nullptr;
  }
  capacity = size_class(n);
  return the_pool().take(capacity);
}

void give(char* p, size_t capacity) {
  if (p == nullptr)
    return;
  if (capacity < min_pooled)
    free_block(p);
  else
    the_pool().give(p, capacity);
}

} // namespace

piece_pool_counts piece_pool_stats() {
  return the_pool().counts();
}

piece_bytes::piece_bytes(size_t n) {
  reset(n);
}

piece_bytes::piece_bytes(const char* data, size_t n) {
  reset(n);
  if (n > 0)
    std::memcpy(data_, data, n);
}

piece_bytes::piece_bytes(const piece_bytes& other) {
  *this = other;
}

piece_bytes::piece_bytes(piece_bytes&& other) noexcept
  : data_(other.data_),
    size_(other.size_),
    capacity_(other.capacity_),
    shared_(std::move(other.shared_)) {
  other.data_ = nullptr;
  other.size_ = other.capacity_ = 0;
}

piece_bytes& piece_bytes::operator=(const piece_bytes& other) {
  if (this == &other)
    return *this;
  if (other.shared_) {
    // A view's copy is a view of the same block.
    release();
    data_ = other.data_;
    size_ = other.size_;
    shared_ = other.shared_;
    return *this;
  }
  reset(other.size_);
  if (size_ > 0)
    std::memcpy(data_, other.data_, size_);
  return *this;
}

piece_bytes& piece_bytes::operator=(piece_bytes&& other) noexcept {
  if (this != &other) {
    release();
    data_ = other.data_;
    size_ = other.size_;
    capacity_ = other.capacity_;
    shared_ = std::move(other.shared_);
    other.data_ = nullptr;
    other.size_ = other.capacity_ = 0;
  }
  return *this;
}

piece_bytes::~piece_bytes() {
  release();
}

void piece_bytes::release() noexcept {
  if (shared_)
    shared_.reset(); // the block is its holders'
  else
    give(data_, capacity_);
  data_ = nullptr;
  size_ = capacity_ = 0;
}

piece_bytes piece_bytes::view(std::shared_ptr<const piece_bytes> block) {
  piece_bytes out;
  if (!block)
    return out;
  out.data_ = const_cast<char*>(block->data());
  out.size_ = block->size();
  out.shared_ = std::move(block);
  return out;
}

void piece_bytes::reset(size_t n) {
  if (shared_)
    release(); // a view never writes into the shared block
  if (n > capacity_ || (capacity_ >= min_pooled && size_class(n) != capacity_)
      || (capacity_ < min_pooled && n != capacity_)) {
    give(data_, capacity_);
    data_ = take(n, capacity_);
  }
  size_ = n;
}

bool operator==(const piece_bytes& x, const piece_bytes& y) {
  return x.size_ == y.size_
         && (x.size_ == 0 || std::memcmp(x.data_, y.data_, x.size_) == 0);
}

} // namespace actorrent
