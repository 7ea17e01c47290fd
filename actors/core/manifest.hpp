// Manifests (file name, size, SHA-256 per piece and of the whole file),
// hashing, name checks and piece bitfields. Pure functions, no actors.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "messages/actorrent.pb.h"

namespace actorrent {

constexpr uint32_t min_piece_size = 4 * 1024;
constexpr uint32_t max_piece_size = 16 * 1024 * 1024;
constexpr size_t max_name_length = 255;

/// SHA-256 of a buffer, 32 raw bytes.
std::string sha256(const void* data, size_t size);

/// Lower-case hex of raw bytes.
std::string hex(const std::string& bytes);
/// The bytes of a hex text (stops at the first character that is not hex).
std::string unhex(const std::string& text);

/// True when `name` is a plain file name: not empty, at most 255 bytes, no
/// path separator, not "." or "..", no NUL or control character. Otherwise
/// `why` says what is wrong.
bool valid_name(const std::string& name, std::string& why);

/// The catalog name of file `name` shared in `group` ("g:GROUP:NAME"). The
/// tracker's public list and info never show such names; only members get
/// them, from the group manager.
std::string group_key(const std::string& group, const std::string& name);
bool is_group_key(const std::string& name);
/// Splits a group key; false when `key` is not one.
bool split_group_key(const std::string& key, std::string& group,
                     std::string& name);

/// Where a download of file `name` into `dir` is written until every piece
/// is verified: DIR/.NAME.part (hidden, so never shared).
std::string part_path(const std::string& dir, const std::string& name);

class file_io;

/// Builds the manifest of a file in one pass over it, read through `io`.
/// Throws std::runtime_error naming the file when it cannot be read.
pb::Manifest build_manifest(file_io& io, const std::string& path,
                            const std::string& name, uint32_t piece_size);
/// The same, from the disk.
pb::Manifest build_manifest(const std::string& path, const std::string& name,
                            uint32_t piece_size);

/// Number of pieces of a file of `size` bytes.
uint32_t piece_count(uint64_t size, uint32_t piece_size);

/// Length of piece `index`.
uint32_t piece_length(const pb::Manifest& m, uint32_t index);

/// Checks a manifest received from the network; `why` names the problem.
bool valid_manifest(const pb::Manifest& m, std::string& why);

/// SHA-256 of a whole file read from disk (raw bytes); throws on I/O errors.
std::string sha256_file(const std::string& path);

/// A SHA-256 computed over data given in pieces.
class sha256_stream {
public:
  sha256_stream();
  ~sha256_stream();
  sha256_stream(const sha256_stream&) = delete;
  sha256_stream& operator=(const sha256_stream&) = delete;
  void update(const void* data, size_t size);
  /// The digest (32 raw bytes); the stream starts over.
  std::string finish();

private:
  void* ctx_;
};

/// A set of piece indexes as bits, MSB first (the wire format of Holding).
class bitfield {
public:
  bitfield() = default;
  explicit bitfield(uint32_t size, bool all = false);
  /// From wire bytes; extra bits are ignored, missing bytes read as zero.
  bitfield(uint32_t size, const std::string& bytes);

  uint32_t size() const { return size_; }
  bool test(uint32_t i) const;
  void set(uint32_t i);
  void reset(uint32_t i);
  uint32_t count() const;
  bool all() const { return count() == size_; }
  const std::string& bytes() const { return bytes_; }
  std::vector<uint32_t> missing() const;

private:
  uint32_t size_ = 0;
  std::string bytes_;
};

/// A manifest held by many (a peer's library, its state store, every
/// client of a simulation holding the same file): one shared, immutable
/// copy per distinct manifest in the process, found by name, version and
/// piece size and checked hash by hash. A manifest of 64 pieces is ~6 KB
/// as a protobuf; 100,000 simulated clients held two copies each.
class shared_manifest {
public:
  /// An empty manifest.
  shared_manifest();
  /// The process's copy of `m` (made now if there is none).
  shared_manifest(const pb::Manifest& m);  // NOLINT: as a pb::Manifest
  const pb::Manifest* operator->() const noexcept { return ptr_.get(); }
  const pb::Manifest& operator*() const noexcept { return *ptr_; }
  operator const pb::Manifest&() const noexcept { return *ptr_; }

private:
  std::shared_ptr<const pb::Manifest> ptr_;
};

} // namespace actorrent
