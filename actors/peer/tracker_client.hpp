// The peer's session with a tracker, as an explicit state machine. It tries
// the configured trackers in order and fails over to the next one when the
// session is lost (connection down, a request timed out, not a tracker).
//
// Each announce first asks the tracker for a challenge and signs it with the
// peer's key (actors/core/identity.hpp); the reply's session token goes into
// every heartbeat, have and leave, and into group shares.
//
// States (transitions are logged with the event that caused them):
//   disconnected -> connecting -> announcing -> online
//   online -> announcing       (session_unknown: the tracker lost our
//                               session, e.g. it restarted)
//   connecting/announcing/online -> disconnected, on
//     connect_failed, not_a_tracker, connection_lost, request_timed_out,
//     heartbeat_missed (no reply within twice the heartbeat interval,
//     at least 1 s) or announce_failed:
//     switch to the next tracker of the list (`switches` counts it) and
//     connect after the backoff (250 ms, doubling to 5 s; back to 250 ms
//     once online); the announce there re-announces everything held.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <caf/actor_clock.hpp>

#include "actors/core/endpoint.hpp"
#include "actors/peer/self.hpp"

namespace actorrent {

/// What ends the session with the tracker in use.
enum class tracker_event {
  connect_failed,
  not_a_tracker,
  connection_lost,
  request_timed_out,
  heartbeat_missed,
  announce_failed,
};

const char* to_string(tracker_event x);

class tracker_client {
public:
  explicit tracker_client(peer_self self);

  /// Starts connecting, heartbeats and have batches.
  void start(std::vector<endpoint> trackers);

  // -- timers and events ------------------------------------------------------
  void reconnect();
  void heartbeat();
  /// Sends the haves that wait (one Have per file); armed by have().
  void flush();
  /// True when the down message was about the tracker.
  bool on_down(const caf::down_msg& dm);

  // -- what the peer tells the tracker ----------------------------------------
  /// What an announce's sender learns: the reply (with the refused files)
  /// or why it failed.
  using announced = std::function<void(const caf::expected<pb::AnnounceReply>&)>;
  /// Announces everything the peer holds (after a change of what it shares);
  /// `done` (if any) is called with the outcome of this very announce, or
  /// with tracker_unavailable when there is no tracker.
  void announce(announced done = nullptr);
  /// A verified piece, sent in the next batch.
  void have(const std::string& name, uint32_t piece);
  /// A mirror sent a piece that failed its SHA-256: tells the tracker (with
  /// this peer's session), whose placement has the mirror check the part.
  /// Dropped while there is no session.
  void report(pb::BadPieceReport r);
  /// Stops sharing one file, or leaves altogether (empty name).
  void leave(const std::string& name);

  // -- state -------------------------------------------------------------------
  pb::SessionState session() const { return session_; }
  bool online() const { return session_ == pb::SESSION_ONLINE; }
  /// The tracker in use (or being tried).
  const endpoint& current() const;
  /// Why a command needing the tracker cannot run now; none when online.
  caf::error unavailable() const;
  const tracker_actor& handle() const { return handle_; }
  /// The session token of the last announce (empty before one).
  const std::string& session_token() const { return token_; }
  const std::vector<std::string>& refused() const { return refused_; }
  uint32_t switches() const { return switches_; }

private:
  void transition(pb::SessionState to, const std::string& why = {});
  /// The session is gone (`event`): on to the next tracker after the
  /// backoff.
  void lose(tracker_event event, const std::string& detail = {});
  void on_announced(const pb::AnnounceReply& r);
  /// Sends the signed announce answering challenge `nonce`.
  void send_announce(const std::string& nonce, uint64_t epoch, uint64_t seq,
                     announced done);
  /// A heartbeat or have failed; ignored when it belongs to a lost session.
  void on_error(const char* what, uint64_t epoch, const caf::error& err);
  /// Arms the flush timer unless it is armed.
  void arm_flush();

  peer_self self_;
  std::vector<endpoint> trackers_;
  size_t index_ = 0;
  uint32_t switches_ = 0;
  /// Counts lost sessions: a reply to an older session is ignored.
  uint64_t epoch_ = 0;
  /// The session of the last acknowledged announce.
  uint64_t announced_epoch_ = static_cast<uint64_t>(-1);
  /// Counts announces: only the answer to the latest one counts.
  uint64_t announces_ = 0;
  /// Proves this peer in heartbeats, haves and leaves.
  std::string token_;
  pb::SessionState session_ = pb::SESSION_DISCONNECTED;
  tracker_actor handle_;
  caf::timespan backoff_;
  uint32_t heartbeat_ms_ = 1000;
  std::map<std::string, std::vector<uint32_t>> pending_haves_;
  bool flush_armed_ = false;
  std::vector<std::string> refused_;
};

const char* to_string(pb::SessionState x);

} // namespace actorrent
