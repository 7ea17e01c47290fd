// A peer's own SQLite state (readable by its owner only): its key pair
// (its id is derived from the public key), the hash cache (path, size,
// mtime -> manifest), files it publishes from outside its share directory,
// and every download with its verified pieces (for resume).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "actors/core/ticket.hpp"
#include "actors/store/sql.hpp"
#include "messages/actorrent.pb.h"

namespace actorrent {

class file_io;

struct download_record {
  std::string name;
  std::string dest_dir;
  std::string part_path;
  std::string state;       // downloading, complete, failed
  std::optional<pb::Manifest> manifest;  // unknown until the tracker answered
  std::string bitfield;    // verified pieces
};

class peer_store {
public:
  explicit peer_store(const std::string& path);

  /// The peer's Ed25519 key pair, made once (from `random`) and kept across
  /// restarts: its id is peer_id_of(public key).
  signing_key identity(const random_source& random);

  /// Manifest of `path` when size and mtime still match the cached entry.
  std::optional<pb::Manifest> cached_manifest(const std::string& path,
                                              uint64_t size, int64_t mtime_ns);
  void cache_manifest(const std::string& path, uint64_t size, int64_t mtime_ns,
                      const pb::Manifest& m);

  /// Files shared from outside the share directory: name -> path.
  void add_published(const std::string& name, const std::string& path);
  void remove_published(const std::string& name);
  std::vector<std::pair<std::string, std::string>> published();

  /// Files a user shares in groups: re-shared at the user's next login.
  struct group_share {
    std::string user, group, name, path, file_sha256;
  };
  void add_group_share(const group_share& s);
  void remove_group_share(const std::string& user, const std::string& group,
                          const std::string& name);
  std::vector<group_share> group_shares(const std::string& user);

  void put_download(const download_record& rec);
  void set_download_manifest(const std::string& name, const pb::Manifest& m);
  void set_download_bitfield(const std::string& name, const std::string& bits);
  void set_download_state(const std::string& name, const std::string& state);
  std::vector<download_record> downloads();

private:
  sql::database db_;
};

/// Canonical absolute path (the path itself when it does not exist).
std::string absolute(const std::string& path);
/// Last component of a path.
std::string base_name(const std::string& path);

/// Manifest of a file, from the cache when size and mtime match, otherwise
/// computed and cached.
pb::Manifest manifest_of(peer_store& store, file_io& io,
                         const std::string& path, const std::string& name,
                         uint32_t piece_size);

} // namespace actorrent
