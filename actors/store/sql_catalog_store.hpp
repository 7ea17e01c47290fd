// The catalog in SQLite (WAL) or PostgreSQL, one code for both
// (actors/store/sql.hpp). Created through open_catalog_store.
#pragma once

#include <memory>
#include <unordered_map>

#include "actors/store/sql.hpp"
#include "actors/store/catalog_store.hpp"

namespace actorrent {

class sql_catalog_store final : public catalog_store {
public:
  sql_catalog_store(const std::string& location, std::string tracker);

  bool shared() const override;

  std::vector<std::string> announce(const pb::Announce& msg) override;
  void have(const pb::Have& msg) override;
  void leave(const std::string& peer_id, const std::string& name) override;
  void permit(const std::string& peer_id, const std::string& key) override;
  void withdraw(const std::string& peer_id, const std::string& key) override;
  void open_session(const std::string& peer_id,
                    const std::string& token) override;
  bool adopt_session(const std::string& peer_id,
                     const std::string& token) override;
  void set_offline(const std::string& peer_id) override;
  void batch(const std::function<void()>& fn) override;
  void set_all_offline() override;
  void alive(uint32_t dead_after_ms) override;
  bool known_peer(const std::string& peer_id) override;
  pb::FileList list() override;
  std::optional<pb::FileInfo> info(const std::string& name,
                                   uint32_t max_sources = 0,
                                   const std::string& from = {}) override;
  std::optional<pb::Manifest> manifest(const std::string& name) override;

private:
  /// A group file's key the peer may hold (always true for public names).
  bool permitted(const std::string& peer_id, const std::string& name);
  std::vector<std::string> announce_once(const pb::Announce& msg);
  void have_once(const pb::Have& msg);
  /// The manifest info() answers with, from memory after the first read:
  /// a catalog never changes or deletes a file's row (a name stays bound
  /// to its file), so a manifest read once stays true. Filled outside
  /// transactions only (a row read inside one may be rolled back).
  std::shared_ptr<const pb::Manifest> known_manifest(const std::string& name);
  sql::database db_;
  std::unordered_map<std::string, std::shared_ptr<const pb::Manifest>>
    manifests_;
  size_t manifest_bytes_ = 0; // piece hashes held in manifests_
  std::string tracker_;
};

} // namespace actorrent
