// The files one peer node holds, complete or partial: manifest, path of the
// bytes, verified pieces. Shared by the node's piece server (reads) and its
// piece fetchers (mark pieces as they are verified) so that a verified piece
// is served at once. Never crosses the wire; thread-safe.
#pragma once

#include <atomic>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "actors/core/manifest.hpp"
#include "actors/core/piece_cache.hpp"

namespace actorrent {

struct local_file {
  shared_manifest manifest;  // manifest->name() is the catalog name
  std::string path;   // where the bytes are: partial or final file
  bitfield have;
  std::string group;  // shared in this group only (needs a ticket), or ""
};

/// Where to read one piece from.
struct piece_location {
  std::string path;
  uint64_t offset = 0;
  uint32_t length = 0;
  std::string group;      // non-empty: the request needs a ticket
  std::string file_name;  // the name within the group
  std::string file_sha256;
};

class library {
public:
  void put(local_file f);
  bool remove(const std::string& name);
  bool contains(const std::string& name) const;
  /// The file named `name`, if held (wholly or in part).
  std::optional<local_file> find(const std::string& name) const;
  void set_have(const std::string& name, uint32_t piece);
  void set_path(const std::string& name, const std::string& path);
  std::vector<local_file> snapshot() const;

  /// Where piece `index` of `name` is, or an error: unknown_file, bad_piece
  /// (out of range or not held), conflict (other version of the file).
  std::optional<piece_location> locate(const std::string& name, uint32_t index,
                                       const std::string& file_sha256,
                                       std::string& why, int& code) const;

  /// The tracker's key for checking group tickets (learned on announce).
  void set_tracker_key(std::string key);
  std::string tracker_key() const;

  std::atomic<uint64_t> bytes_served{0};
  /// Of bytes_served, those sent over piece streams.
  std::atomic<uint64_t> bytes_streamed{0};
  /// The pieces this node verified last, served from memory (null: none
  /// kept; set before the node's actors start).
  std::shared_ptr<piece_cache> cache;
  std::atomic<uint64_t> bytes_received{0};

private:
  mutable std::shared_mutex mtx_;
  std::map<std::string, local_file> files_;
  std::string tracker_key_;
};

} // namespace actorrent
