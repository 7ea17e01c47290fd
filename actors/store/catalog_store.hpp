// The tracker's catalog: manifests, peers and which pieces each peer holds.
// An interface, so that another database can stand in for SQLite without
// touching the tracker. Every call is one transaction: what it returns has
// been committed. Refusals throw `refusal`, database failures
// std::runtime_error.
//
// Several trackers may share one catalog (PostgreSQL): each peer row names
// the tracker that holds its session, a tracker marks offline only its own
// peers, and each tracker records that it is alive so that the peers of a
// tracker that died are marked offline by the others.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/store/refusal.hpp"
#include "messages/actorrent.pb.h"

namespace actorrent {

class catalog_store {
public:
  virtual ~catalog_store();

  /// Records a peer and everything it holds, replacing what was known of it;
  /// marks it online. Files whose manifest is invalid or conflicts with a
  /// known file of the same name, and files of a group (`g:GROUP:NAME`)
  /// the peer has no permit for, are skipped and reported as "name: why".
  virtual std::vector<std::string> announce(const pb::Announce& msg) = 0;

  /// Adds verified pieces to what a peer holds. Refuses an unknown file
  /// (unknown_file), piece index (bad_piece) or a group file the peer has no
  /// permit for (denied).
  virtual void have(const pb::Have& msg) = 0;

  /// Lets a peer hold group file `key` (`g:GROUP:NAME`): only the group
  /// manager grants this, for a member's share. Kept until withdrawn.
  virtual void permit(const std::string& peer_id, const std::string& key) = 0;
  /// The peer no longer serves group file `key`: its holding and its permit
  /// end.
  virtual void withdraw(const std::string& peer_id, const std::string& key) = 0;

  /// The peer stops sharing one file (or everything with an empty name,
  /// and is offline).
  virtual void leave(const std::string& peer_id, const std::string& name) = 0;

  /// Records the session token a tracker handed to the peer (after its
  /// announce), so that another tracker can take the session over.
  virtual void open_session(const std::string& peer_id,
                            const std::string& token) = 0;
  /// True (and the peer is online, its session held by this tracker) when
  /// `token` is the session token recorded for the peer.
  virtual bool adopt_session(const std::string& peer_id,
                             const std::string& token) = 0;
  /// Runs `fn`, calls of this store, in one transaction (one commit for
  /// many writes); run again as a whole when it lost against a concurrent
  /// transaction, so `fn` must only assign its results.
  virtual void batch(const std::function<void()>& fn) = 0;
  /// Whether other trackers may use this catalog at the same time.
  virtual bool shared() const = 0;
  /// The peer's session with this tracker ended (it was silent): offline,
  /// unless it announced to another tracker meanwhile.
  virtual void set_offline(const std::string& peer_id) = 0;
  /// At start: nobody this tracker served (one tracker: nobody at all) is
  /// online until they announce again.
  virtual void set_all_offline() = 0;
  /// Shared catalogs: records that this tracker is alive and marks offline
  /// the peers of trackers silent for `dead_after_ms`. Nothing otherwise.
  virtual void alive(uint32_t dead_after_ms) = 0;
  virtual bool known_peer(const std::string& peer_id) = 0;

  /// Every file except those shared in groups.
  virtual pb::FileList list() = 0;
  /// Manifest and online sources (holding at least one piece). With
  /// `max_sources` > 0, at most that many: those whose peer id follows
  /// `from` in order, wrapping around (peer ids are hashes of keys, so a
  /// random `from` gives a random window of the holders, found through an
  /// index without reading the others).
  virtual std::optional<pb::FileInfo> info(const std::string& name,
                                           uint32_t max_sources = 0,
                                           const std::string& from = {})
    = 0;
  virtual std::optional<pb::Manifest> manifest(const std::string& name) = 0;
};

/// Opens (creating) the catalog named by the `tracker.db` setting: a SQLite
/// file path or a PostgreSQL connection URI (`postgresql://...`). `tracker`
/// names this tracker among those sharing the catalog (its address).
std::unique_ptr<catalog_store>
open_catalog_store(const std::string& db,
                   const std::string& tracker = "tracker");

} // namespace actorrent
