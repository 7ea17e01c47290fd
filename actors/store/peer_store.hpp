// A peer's own state (a SQLite file readable by its owner only, or memory
// for a peer whose state need not outlive it): its key pair
// (its id is derived from the public key), the hash cache (path, size,
// mtime -> manifest), files it publishes from outside its share directory,
// and every download with its verified pieces (for resume).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <string>
#include <vector>

#include "actors/core/manifest.hpp"
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

/// The interface; open_peer_store() picks the implementation.
class peer_store {
public:
  virtual ~peer_store() = default;

  /// The peer's Ed25519 key pair, made once (from `random`) and kept across
  /// restarts: its id is peer_id_of(public key).
  virtual signing_key identity(const random_source& random) = 0;

  /// Manifest of `path` when size and mtime still match the cached entry.
  virtual std::optional<pb::Manifest>
  cached_manifest(const std::string& path, uint64_t size, int64_t mtime_ns) = 0;
  virtual void cache_manifest(const std::string& path, uint64_t size,
                              int64_t mtime_ns, const pb::Manifest& m) = 0;

  /// Files shared from outside the share directory: name -> path.
  virtual void add_published(const std::string& name,
                             const std::string& path) = 0;
  virtual void remove_published(const std::string& name) = 0;
  virtual std::vector<std::pair<std::string, std::string>> published() = 0;

  /// Files a user shares in groups: re-shared at the user's next login.
  struct group_share {
    std::string user, group, name, path, file_sha256;
  };
  virtual void add_group_share(const group_share& s) = 0;
  /// One share, or all of the group's when `name` is empty.
  virtual void remove_group_share(const std::string& user,
                                  const std::string& group,
                                  const std::string& name) = 0;
  /// Ordered by group, then name.
  virtual std::vector<group_share> group_shares(const std::string& user) = 0;

  virtual void put_download(const download_record& rec) = 0;
  /// The setters change a recorded download only (none: nothing).
  virtual void set_download_manifest(const std::string& name,
                                     const pb::Manifest& m) = 0;
  virtual void set_download_bitfield(const std::string& name,
                                     const std::string& bits) = 0;
  virtual void set_download_state(const std::string& name,
                                  const std::string& state) = 0;
  /// Ordered by name.
  virtual std::vector<download_record> downloads() = 0;
};

/// The state in a SQLite file (readable by its owner only).
class sqlite_peer_store final : public peer_store {
public:
  explicit sqlite_peer_store(const std::string& path);

  signing_key identity(const random_source& random) override;
  std::optional<pb::Manifest> cached_manifest(const std::string& path,
                                              uint64_t size,
                                              int64_t mtime_ns) override;
  void cache_manifest(const std::string& path, uint64_t size, int64_t mtime_ns,
                      const pb::Manifest& m) override;
  void add_published(const std::string& name,
                     const std::string& path) override;
  void remove_published(const std::string& name) override;
  std::vector<std::pair<std::string, std::string>> published() override;
  void add_group_share(const group_share& s) override;
  void remove_group_share(const std::string& user, const std::string& group,
                          const std::string& name) override;
  std::vector<group_share> group_shares(const std::string& user) override;
  void put_download(const download_record& rec) override;
  void set_download_manifest(const std::string& name,
                             const pb::Manifest& m) override;
  void set_download_bitfield(const std::string& name,
                             const std::string& bits) override;
  void set_download_state(const std::string& name,
                          const std::string& state) override;
  std::vector<download_record> downloads() override;

private:
  sql::database db_;
};

/// The state in this process's memory only, gone when the peer ends (as a
/// SQLite ":memory:" database, without its schema, statements and pages:
/// a few hundred bytes per peer instead of tens of KiB).
class memory_peer_store final : public peer_store {
public:
  signing_key identity(const random_source& random) override;
  std::optional<pb::Manifest> cached_manifest(const std::string& path,
                                              uint64_t size,
                                              int64_t mtime_ns) override;
  void cache_manifest(const std::string& path, uint64_t size, int64_t mtime_ns,
                      const pb::Manifest& m) override;
  void add_published(const std::string& name,
                     const std::string& path) override;
  void remove_published(const std::string& name) override;
  std::vector<std::pair<std::string, std::string>> published() override;
  void add_group_share(const group_share& s) override;
  void remove_group_share(const std::string& user, const std::string& group,
                          const std::string& name) override;
  std::vector<group_share> group_shares(const std::string& user) override;
  void put_download(const download_record& rec) override;
  void set_download_manifest(const std::string& name,
                             const pb::Manifest& m) override;
  void set_download_bitfield(const std::string& name,
                             const std::string& bits) override;
  void set_download_state(const std::string& name,
                          const std::string& state) override;
  std::vector<download_record> downloads() override;

private:
  struct cached {
    uint64_t size;
    int64_t mtime_ns;
    pb::Manifest manifest;
  };
  std::string seed_;  // the identity's, once made
  std::map<std::string, cached> hash_cache_;
  std::map<std::string, std::string> published_;
  std::map<std::tuple<std::string, std::string, std::string>, group_share>
    group_shares_;
  std::map<std::string, download_record> downloads_;  // without manifest
  std::map<std::string, shared_manifest> manifests_;  // of downloads_
};

/// ":memory:": a memory_peer_store; otherwise the SQLite file at `path`.
std::unique_ptr<peer_store> open_peer_store(const std::string& path);

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
