// The tracker: catalog of files and of who holds which pieces, in its
// catalog_store (the only owner of that database). Blocks on the database:
// spawned with spawn_blocking. Peers keep a session alive with heartbeats; a
// peer silent for `offline_ms` (CAF's clock) is marked offline and no longer
// handed out as a source. The ticket key peers learn on announce comes from
// the group manager in the `groups` slot; announces wait until it is known.
#pragma once

#include <functional>
#include <map>
#include <vector>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include <caf/actor_clock.hpp>
#include <caf/timespan.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/interfaces.hpp"
#include "actors/node/actor_slot.hpp"
#include "actors/core/limits.hpp"
#include "actors/core/random.hpp"
#include "actors/store/catalog_store.hpp"
#include "actors/tracker/challenge_book.hpp"

namespace actorrent {

struct tracker_options {
  std::string db;
  /// This tracker among those sharing a catalog (its host:port).
  std::string id = "tracker";
  uint32_t heartbeat_ms = 1000;
  uint32_t offline_ms = 2500;
  /// The group manager (group_manager_actor), asked for the ticket key.
  /// Without one the tracker serves public files only: no key, no waiting.
  std::shared_ptr<actor_slot> groups;
  /// How long announces wait for the ticket key; then they are answered
  /// without it (public files work; peers learn the key from a later
  /// heartbeat reply), so a failed group manager cannot stop the catalog.
  caf::timespan key_wait = std::chrono::seconds(2);
  /// Largest file and most pieces per file accepted (tracker.max-file-size,
  /// tracker.max-pieces).
  limits bounds;
  /// Challenges and session tokens (environment).
  random_source random = system_random();
  /// How long a challenge may be answered, and how many may be pending.
  caf::timespan challenge_ttl = std::chrono::seconds(10);
  size_t max_challenges = 10000;
  /// Placement (placement_local_actor), asked for the mirrors of a public
  /// file; none: peers are the only sources.
  std::shared_ptr<actor_slot> placement;
  /// At most this many peers are handed out as a file's sources, a random
  /// window of them per request (BitTorrent's numwant); 0: all. A file's
  /// mirrors come on top (at most its replicas per part).
  uint32_t max_sources = 50;
};

struct tracker_session {
  caf::actor_clock::time_point last_seen;
  bool expiry_pending = false;  // an expire timer is on its way
  std::string token;            // proves the peer in later requests
};

struct tracker_state {
  using pointer = tracker_local_actor::stateful_pointer<tracker_state>;
  explicit tracker_state(pointer self) : self_(self) {}

  std::unique_ptr<catalog_store> store;
  tracker_options opts;
  std::string public_key;   // the ticket key, once the group manager told it
  bool asking_key = false;
  caf::actor_clock::time_point started;  // when this incarnation started
  /// Peers with a live session.
  std::unordered_map<std::string, tracker_session> sessions;
  /// Challenges handed out and not yet answered.
  challenge_book challenges;
  /// Writes of a shared catalog waiting for their transaction: every write
  /// that arrives while one is queued joins it, and all are committed
  /// together (one commit for the mailbox's worth) when the flush message
  /// this queue sent to itself comes up; each is answered after the commit.
  struct queued_write {
    std::function<void()> run;                    // in the transaction
    std::function<void(const caf::error&)> done;  // after it
  };
  std::vector<queued_write> batch;
  bool batch_flush_sent = false;
  /// Announces that came before the ticket key, by peer id.
  std::map<std::string, std::pair<pb::Announce,
                                  caf::typed_response_promise<pb::AnnounceReply>>>
    waiting;

  /// Takes the options, opens the catalog and asks for the ticket key;
  /// false (and the actor quits) when the catalog cannot be opened.
  bool init(tracker_options o);

  // One method per request of tracker_local_actor; a refusal or database
  // failure becomes the error reply.
  caf::result<pb::Challenge> challenge();
  caf::result<pb::AnnounceReply> announce(const pb::Announce& msg);
  caf::result<pb::AnnounceReply> heartbeat(const pb::Heartbeat& msg);
  caf::result<caf::ok_atom> have(const pb::Have& msg);
  caf::result<caf::ok_atom> leave(const pb::Leave& msg);
  caf::result<pb::FileList> list();
  caf::result<pb::FileInfo> info(const pb::FileQuery& q);
  caf::result<pb::FileInfo> info(const pb::GroupFile& f);
  caf::result<caf::ok_atom> withdraw(const pb::Withdraw& w);
  caf::result<caf::ok_atom> permit(const pb::GroupHolding& h);
  /// A peer's report of a mirror's bad piece, checked and handed to
  /// placement (which answers).
  caf::result<caf::ok_atom> bad_piece(const pb::BadPieceReport& r);
  /// The expire timer: marks the peer offline once it has been silent for
  /// offline_ms, or waits for the rest of that time.
  void expire(const std::string& peer);
  /// The retry timer of the ticket key request.
  void retry_key();
  /// Answers the waiting announces without a key once key_wait is over.
  void release_waiting();
  /// Commits the queued writes in one transaction and answers them (a
  /// database failure fails them all; a refusal only its own).
  void commit_batch();
  /// The liveness timer of a shared catalog (every heartbeat_ms): this
  /// tracker is alive; peers of trackers silent for 2 * offline_ms go
  /// offline.
  void alive();

  static inline const char* name = "tracker";

private:
  caf::timespan offline_after() const;
  /// Starts or renews a peer's session.
  void touch(const std::string& peer);
  /// Renews a live session; false when the tracker has none for `peer` or
  /// `token` is not its token.
  bool renew(const std::string& peer, const std::string& token);
  /// True when `token` is the token of `peer`'s live session. With a
  /// shared catalog, a session another tracker opened is taken over.
  bool proven(const std::string& peer, const std::string& token);
  /// Takes the announce's challenge (once) and checks its signature;
  /// the refusal otherwise.
  caf::error check_identity(const pb::Announce& msg);
  pb::AnnounceReply reply() const;
  /// The session token of `peer`: kept across re-announces, new otherwise.
  std::string token_for(const std::string& peer);
  /// Writes an announce and its session token (throws on a database
  /// failure); the reply.
  pb::AnnounceReply record_announce(const pb::Announce& msg,
                                    const std::string& token);
  /// After the announce was committed: the session starts (or goes on).
  void start_session(const pb::Announce& msg, const pb::AnnounceReply& r);
  /// A write: on a shared catalog queued into the next batch (answered
  /// after its commit), otherwise done at once. `after` runs once it is
  /// committed, before the answer.
  template <class T, class F>
  caf::result<T> write(const std::string& what, F f,
                       std::function<void(const T&)> after = nullptr);
  /// Records an announce (throws on a database failure).
  pb::AnnounceReply announce_now(const pb::Announce& msg);
  /// An announce before the ticket key is known waits for it.
  caf::result<pb::AnnounceReply> announce_later(const pb::Announce& msg);
  /// The ticket key is known: answers the announces that waited for it.
  void key_known(std::string key);
  /// Asks the group manager for the ticket key; on failure asks again later.
  void ask_key();
  /// Adds the file's mirrors (from placement) to its sources.
  caf::result<pb::FileInfo> with_mirrors(pb::FileInfo info);
  /// Manifest and online sources of catalog entry `key` (with its mirrors
  /// when `mirrors`; at most `want` peers when that is tighter than
  /// max_sources), or unknown_file with `unknown` as its text; guarded as
  /// operation `what`.
  caf::result<pb::FileInfo> info_of(const std::string& key,
                                    const std::string& what,
                                    const std::string& unknown,
                                    bool mirrors = false, uint32_t want = 0);

  pointer self_;
};

tracker_local_actor::behavior_type
tracker(tracker_local_actor::stateful_pointer<tracker_state> self,
        tracker_options opts);

} // namespace actorrent
