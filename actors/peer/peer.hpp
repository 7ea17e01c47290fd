// A peer's agent: shares the files of its library, keeps its session with the
// tracker, runs one piece fetcher per download, takes part in groups and
// answers the peer's commands (shell and `ctl`, typed: pb::PeerRequest). It
// is the only owner of the peer's state database. Runs as a blocking actor
// (detached in a node): it hashes files and writes SQLite.
//
// The agent is split along its responsibilities, each a part of its state
// with methods; its handlers are one line each:
//   tracker_client   the session with a tracker (state machine, failover)
//   sharing          what the peer shares: share dir, published files
//   download_manager fetchers, download progress, resume records
//   groups_client    accounts, groups and group files
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/typed_response_promise.hpp>

#include "actors/core/environment.hpp"
#include "actors/interfaces.hpp"
#include "actors/peer/downloads.hpp"
#include "actors/peer/groups_client.hpp"
#include "actors/peer/library.hpp"
#include "actors/peer/sharing.hpp"
#include "actors/peer/tracker_client.hpp"
#include "actors/store/peer_store.hpp"

namespace actorrent {

struct peer_options {
  /// Trackers in order of preference: the client fails over to the next.
  std::vector<endpoint> trackers = {{"127.0.0.1", 6881}};
  std::string host = "127.0.0.1";   // announced address of the piece server
  uint16_t port = 0;                // announced port of the piece server
  std::string share_dir;            // empty: shares nothing on its own
  std::string download_dir = "downloads";
  std::string state_db = "peer.db";
  uint32_t piece_size = 1 << 20;
  uint32_t window = 8;
  uint32_t request_timeout_ms = 10000;
  bool one_shot = false;            // downloads fail instead of stalling
  uint32_t group_timeout_ms = 30000; // group commands (Argon2id is slow)
  std::function<void()> on_quit;    // `quit` command
};

struct peer_state {
  peer_state(peer_self self);

  peer_options opts;
  environment env;
  std::shared_ptr<library> lib;
  std::unique_ptr<peer_store> store;
  signing_key key;      // proves peer_id to the tracker
  std::string peer_id;  // peer_id_of(key.public_key)
  tracker_client tracker;
  sharing shares;
  download_manager downloads;
  groups_client groups;

  /// Opens the state database, loads what the peer holds, starts the
  /// tracker session. Quits the actor when the database cannot be opened.
  void start();
  /// Answers one command.
  caf::result<pb::PeerReply> command(const pb::PeerRequest& rq);
  /// A file's manifest and sources for a fetcher: from the tracker, or from
  /// the group manager with a ticket for a group's file.
  caf::result<pb::FileInfo> file_info(const pb::FileQuery& q);
  /// The tracker session changed: questions for sources that waited for it
  /// go to the tracker once it is up, or fail when an attempt failed (the
  /// session went to disconnected).
  void on_session();
  /// Fetchers' questions waiting for the tracker session (at most
  /// max_info_waiting; more are refused at once).
  std::vector<std::pair<caf::typed_response_promise<pb::FileInfo>,
                        pb::FileQuery>>
    info_waiting;
  static constexpr size_t max_info_waiting = 1024;
  void on_down(const caf::down_msg& dm);
  /// The peer's status (the `status` command).
  pb::PeerStatus status() const;
  /// Leaves the tracker and asks the node to stop.
  pb::PeerReply quit();
  static inline const char* name = "peer";

private:
  caf::result<pb::PeerReply> ask_list();
  caf::result<pb::PeerReply> ask_info(const std::string& name);
  peer_self self_;
};

peer_actor::behavior_type peer(peer_self self, peer_options opts,
                               environment env, std::shared_ptr<library> lib);

/// A reply with one line and a code (0 ok, 1 failed).
pb::PeerReply make_reply(int code, std::string line = {});

} // namespace actorrent
