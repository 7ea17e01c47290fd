// The tracker's catalog in SQLite (WAL): manifests, peers and which pieces
// each peer holds. Every call is one transaction: what it returns has been
// committed.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "actors/store/sqlite.hpp"
#include "messages/actorrent.pb.h"

namespace actorrent {

class tracker_store {
public:
  explicit tracker_store(const std::string& path);

  /// Records a peer and everything it holds, replacing what was known of it;
  /// marks it online. Files whose manifest is invalid or conflicts with a
  /// known file of the same name are skipped and reported as "name: why".
  std::vector<std::string> announce(const pb::Announce& msg);

  /// Adds verified pieces to what a peer holds. False when the file or the
  /// piece index is unknown (`why` says which).
  bool have(const pb::Have& msg, std::string& why);

  /// The peer stops sharing one file (or everything with an empty name).
  void leave(const std::string& peer_id, const std::string& name);

  void set_online(const std::string& peer_id, bool online);
  /// At start: nobody is online until they announce again.
  void set_all_offline();
  bool known_peer(const std::string& peer_id);

  pb::FileList list();
  std::optional<pb::FileInfo> info(const std::string& name);
  std::optional<pb::Manifest> manifest(const std::string& name);

private:
  sql::database db_;
};

} // namespace actorrent
