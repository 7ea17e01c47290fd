// The catalog in SQLite (WAL). Created through open_catalog_store.
#pragma once

#include "actors/store/sqlite.hpp"
#include "actors/store/catalog_store.hpp"

namespace actorrent {

class sqlite_catalog_store final : public catalog_store {
public:
  explicit sqlite_catalog_store(const std::string& path);

  std::vector<std::string> announce(const pb::Announce& msg) override;
  void have(const pb::Have& msg) override;
  void leave(const std::string& peer_id, const std::string& name) override;
  void permit(const std::string& peer_id, const std::string& key) override;
  void withdraw(const std::string& peer_id, const std::string& key) override;
  void set_online(const std::string& peer_id, bool online) override;
  void set_all_offline() override;
  bool known_peer(const std::string& peer_id) override;
  pb::FileList list() override;
  std::optional<pb::FileInfo> info(const std::string& name) override;
  std::optional<pb::Manifest> manifest(const std::string& name) override;

private:
  /// A group file's key the peer may hold (always true for public names).
  bool permitted(const std::string& peer_id, const std::string& name);
  void update_online(const std::string& peer_id, bool online);
  sql::database db_;
};

} // namespace actorrent
