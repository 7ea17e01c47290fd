#include "actors/core/manifest.hpp"

#include "actors/core/file_io.hpp"

#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <stdexcept>

#include <openssl/evp.h>

namespace actorrent {

std::string sha256(const void* data, size_t size) {
  unsigned char out[32];
  unsigned len = 0;
  EVP_Digest(data, size, out, &len, EVP_sha256(), nullptr);
  return std::string{reinterpret_cast<char*>(out), 32};
}

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 0xF];
  }
  return out;
}

std::string unhex(const std::string& text) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i + 1 < text.size(); i += 2) {
    int hi = digit(text[i]), lo = digit(text[i + 1]);
    if (hi < 0 || lo < 0)
      break;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

bool valid_name(const std::string& name, std::string& why) {
  if (name.empty()) {
    why = "empty name";
    return false;
  }
  if (name.size() > max_name_length) {
    why = "name longer than 255 bytes";
    return false;
  }
  if (name == "." || name == ".." || name.find("..") != std::string::npos) {
    why = "name contains '..': " + name;
    return false;
  }
  for (unsigned char c : name) {
    if (c == '/' || c == '\\') {
      why = "name contains a path separator: " + name;
      return false;
    }
    if (c < 0x20 || c == 0x7F) {
      why = "name contains a NUL or control character";
      return false;
    }
  }
  return true;
}

std::string group_key(const std::string& group, const std::string& name) {
  return "g:" + group + ":" + name;
}

bool is_group_key(const std::string& name) {
  return name.rfind("g:", 0) == 0;
}

bool split_group_key(const std::string& key, std::string& group,
                     std::string& name) {
  if (!is_group_key(key))
    return false;
  auto colon = key.find(':', 2);
  if (colon == std::string::npos)
    return false;
  group = key.substr(2, colon - 2);
  name = key.substr(colon + 1);
  return true;
}

std::string part_path(const std::string& dir, const std::string& name) {
  return dir + "/." + name + ".part";
}

uint32_t piece_count(uint64_t size, uint32_t piece_size) {
  return static_cast<uint32_t>((size + piece_size - 1) / piece_size);
}

uint32_t piece_length(const pb::Manifest& m, uint32_t index) {
  uint64_t begin = uint64_t{index} * m.piece_size();
  return static_cast<uint32_t>(
    std::min<uint64_t>(m.piece_size(), m.size() - begin));
}

namespace {

// Calls `fn(bytes, n)` for consecutive chunks of `path` of `chunk` bytes
// (the last one shorter); returns the file's size.
template <class F>
uint64_t for_each_chunk(file_io& io, const std::string& path, size_t chunk,
                        F fn) {
  uint64_t size = 0;
  int64_t mtime = 0;
  if (!io.stat(path, size, mtime))
    throw std::runtime_error("not a readable regular file: " + path);
  std::unique_ptr<char[]> buf{new char[chunk]};
  for (uint64_t off = 0; off < size; off += chunk) {
    auto n = static_cast<size_t>(std::min<uint64_t>(chunk, size - off));
    if (auto err = io.read(path, off, buf.get(), n); !err.empty())
      throw std::runtime_error(err);
    fn(buf.get(), n);
  }
  return size;
}

} // namespace

pb::Manifest build_manifest(file_io& io, const std::string& path,
                            const std::string& name, uint32_t piece_size) {
  pb::Manifest m;
  m.set_name(name);
  m.set_piece_size(piece_size);
  sha256_stream whole;
  auto size = for_each_chunk(io, path, piece_size,
                             [&](const char* bytes, size_t n) {
                               whole.update(bytes, n);
                               m.add_piece_sha256(sha256(bytes, n));
                             });
  m.set_size(size);
  m.set_file_sha256(whole.finish());
  return m;
}

pb::Manifest build_manifest(const std::string& path, const std::string& name,
                            uint32_t piece_size) {
  return build_manifest(*make_disk_io(), path, name, piece_size);
}

std::string sha256_file(const std::string& path) {
  sha256_stream ctx;
  for_each_chunk(*make_disk_io(), path, 1 << 20,
                 [&](const char* bytes, size_t n) { ctx.update(bytes, n); });
  return ctx.finish();
}

sha256_stream::sha256_stream() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}

sha256_stream::~sha256_stream() {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
}

void sha256_stream::update(const void* data, size_t size) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, size);
}

std::string sha256_stream::finish() {
  unsigned char out[32];
  unsigned len = 0;
  auto ctx = static_cast<EVP_MD_CTX*>(ctx_);
  EVP_DigestFinal_ex(ctx, out, &len);
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  return std::string{reinterpret_cast<char*>(out), 32};
}

bool valid_manifest(const pb::Manifest& m, std::string& why) {
  if (!valid_name(m.name(), why))
    return false;
  if (m.piece_size() < min_piece_size || m.piece_size() > max_piece_size) {
    why = "piece size out of range: " + std::to_string(m.piece_size());
    return false;
  }
  if (m.size() > (uint64_t{1} << 44)) {
    why = "file too large: " + std::to_string(m.size());
    return false;
  }
  if (static_cast<uint64_t>(m.piece_sha256_size())
      != piece_count(m.size(), m.piece_size())) {
    why = "manifest of " + m.name() + " lists "
          + std::to_string(m.piece_sha256_size()) + " piece hashes, expected "
          + std::to_string(piece_count(m.size(), m.piece_size()));
    return false;
  }
  for (auto& h : m.piece_sha256())
    if (h.size() != 32) {
      why = "piece hash of " + m.name() + " is not 32 bytes";
      return false;
    }
  if (m.file_sha256().size() != 32) {
    why = "file hash of " + m.name() + " is not 32 bytes";
    return false;
  }
  return true;
}

bitfield::bitfield(uint32_t size, bool all)
  : size_(size), bytes_((size + 7) / 8, all ? '\xFF' : '\0') {
  if (all && size % 8 != 0)
    bytes_.back() = static_cast<char>(0xFF << (8 - size % 8));
}

bitfield::bitfield(uint32_t size, const std::string& bytes)
  : size_(size), bytes_((size + 7) / 8, '\0') {
  std::memcpy(bytes_.data(), bytes.data(), std::min(bytes.size(), bytes_.size()));
  if (size % 8 != 0 && !bytes_.empty())
    bytes_.back() = static_cast<char>(static_cast<unsigned char>(bytes_.back())
                                      & (0xFF << (8 - size % 8)));
}

bool bitfield::test(uint32_t i) const {
  return i < size_ && (static_cast<unsigned char>(bytes_[i / 8]) >> (7 - i % 8)) & 1;
}

void bitfield::set(uint32_t i) {
  if (i < size_)
    bytes_[i / 8] = static_cast<char>(bytes_[i / 8] | (0x80 >> (i % 8)));
}

void bitfield::reset(uint32_t i) {
  if (i < size_)
    bytes_[i / 8] = static_cast<char>(bytes_[i / 8] & ~(0x80 >> (i % 8)));
}

uint32_t bitfield::count() const {
  uint32_t n = 0;
  for (unsigned char c : bytes_)
    n += static_cast<uint32_t>(__builtin_popcount(c));
  return n;
}

std::vector<uint32_t> bitfield::missing() const {
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < size_; ++i)
    if (!test(i))
      out.push_back(i);
  return out;
}

// -- shared_manifest --------------------------------------------------------------

namespace {

bool same_manifest(const pb::Manifest& x, const pb::Manifest& y) {
  if (x.size() != y.size() || x.piece_sha256_size() != y.piece_sha256_size())
    return false;
  for (int i = 0; i < x.piece_sha256_size(); ++i)
    if (x.piece_sha256(i) != y.piece_sha256(i))
      return false;
  return true;
}

// The live copies, by name, file SHA-256 and piece size; entries of copies
// nobody holds any more are swept when the table has doubled.
struct manifest_pool {
  std::mutex mtx;
  std::unordered_map<std::string, std::weak_ptr<const pb::Manifest>> copies;
  size_t sweep_at = 1024;

  std::shared_ptr<const pb::Manifest> get(const pb::Manifest& m) {
    auto key = m.name() + '\0' + m.file_sha256() + '\0'
               + std::to_string(m.piece_size());
    std::lock_guard<std::mutex> guard{mtx};
    auto& slot = copies[key];
    if (auto live = slot.lock(); live && same_manifest(*live, m))
      return live;
    auto made = std::make_shared<const pb::Manifest>(m);
    if (slot.expired())
      slot = made; // a manifest that differs under the same key: its own copy
    if (copies.size() >= sweep_at) {
      for (auto i = copies.begin(); i != copies.end();)
        i = i->second.expired() ? copies.erase(i) : std::next(i);
      sweep_at = std::max<size_t>(1024, 2 * copies.size());
    }
    return made;
  }
};

manifest_pool& pool() {
  static manifest_pool instance;
  return instance;
}

} // namespace

shared_manifest::shared_manifest()
  : ptr_(std::make_shared<const pb::Manifest>()) {
}

shared_manifest::shared_manifest(const pb::Manifest& m) : ptr_(pool().get(m)) {
}

} // namespace actorrent
