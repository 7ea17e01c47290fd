// What a peer shares: every regular file of its share directory, files
// published from elsewhere (kept in the state database), finished downloads.
// A file is hashed once (the state database caches manifests by size and
// modification time) and put into the library, where the piece server finds
// it.
#pragma once

#include <string>
#include <vector>

#include <caf/make_message.hpp>
#include <caf/result.hpp>

#include "actors/peer/self.hpp"

namespace actorrent {

class sharing {
public:
  explicit sharing(peer_self self);

  /// Shares what the peer held before it (re)started.
  void load();

  /// Shares the file at `path` under catalog name `name` (a group key for a
  /// group's file); `sha` receives its SHA-256. False with `why` otherwise.
  bool share(const std::string& path, const std::string& name,
             const std::string& group, std::string& why,
             std::string* sha = nullptr);

  /// `publish FILE...`
  pb::PeerReply publish(const pb::PathList& paths);
  /// `mirror_publish FILE...`: shares the files (as `publish`) and asks
  /// placement to store them on the mirrors, which copy every part from
  /// this peer. The reply (code 1 when a part has fewer replicas than asked)
  /// comes once every copy ended.
  caf::result<pb::PeerReply> mirror_publish(const pb::PathList& paths);
  /// `stop_share NAME`
  pb::PeerReply stop_share(const std::string& name);

private:
  void load_share_dir();
  peer_self self_;
};

} // namespace actorrent
