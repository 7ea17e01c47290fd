// Every typed actor interface of actorrent, in one place: which request
// returns which reply. Messages crossing a node boundary carry protobuf types
// from messages/actorrent.proto; atoms select the handler.
#pragma once

#include <string>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/types.hpp"

namespace actorrent {

/// The catalog of files and of who holds which pieces (tracker node).
using tracker_actor = caf::typed_actor<
  /// A peer joins or re-joins with every file it holds; replaces what the
  /// tracker knew of it. Refuses bad names and inconsistent manifests.
  caf::replies_to<announce_atom, pb::Announce>::with<pb::AnnounceReply>,
  /// Keeps a peer online. Fails with errc::unknown_peer when the tracker has no
  /// session for it (e.g. after a restart): the peer must announce again.
  caf::replies_to<heartbeat_atom, pb::Heartbeat>::with<pb::AnnounceReply>,
  /// Pieces a peer has just verified, batched.
  caf::replies_to<have_atom, pb::Have>::with<caf::ok_atom>,
  /// A peer stops sharing one file, or leaves (empty name).
  caf::replies_to<leave_atom, pb::Leave>::with<caf::ok_atom>,
  /// Lists every file with how many online sources hold it.
  caf::replies_to<list_atom, pb::FileQuery>::with<pb::FileList>,
  /// The manifest of one file plus its online sources and their bitfields.
  caf::replies_to<info_atom, pb::FileQuery>::with<pb::FileInfo>,
  /// Timer: marks peers that missed their heartbeats offline.
  caf::reacts_to<tick_atom>>;

/// Accounts, groups and group-scoped files (tracker node). Every op except
/// create_user and login is checked against the session token, never a user
/// name the client claims. Refusals are errors: bad_name, conflict,
/// wrong_login, not_logged_in, denied, unknown_group, unknown_file.
using group_actor = caf::typed_actor<
  /// create_user USER PASSWORD; login USER PASSWORD -> token; logout;
  /// create_group, join_group, leave_group GROUP; list_requests GROUP;
  /// accept_request/reject_request GROUP USER (owner only); list_groups;
  /// list_files GROUP (members only); share/unshare GROUP NAME (members);
  /// download GROUP NAME -> manifest, online sources and a signed ticket.
  caf::replies_to<group_atom, pb::GroupRequest>::with<pb::GroupReply>>;

/// What the tracker node publishes: the catalog and the group manager.
using tracker_node_actor = tracker_actor::extend_with<group_actor>;

/// Serves verified pieces of a peer's files (published on the peer's port).
using piece_server_actor = caf::typed_actor<
  /// One piece: its header and its bytes. Fails with unknown_file, bad_piece
  /// (out of range or not held yet) or io_failure.
  caf::replies_to<piece_atom, pb::PieceRequest>::with<pb::PieceHeader,
                                                      std::vector<char>>>;

/// The piece server itself (local to its node): what its front publishes
/// plus the timer of its upload pacing.
using paced_piece_server_actor = piece_server_actor::extend<
  /// Timer: answers the replies held back by the upload limit that are due.
  caf::reacts_to<tick_atom>>;

/// Answers operators (published on a node's control port, loopback only).
/// The shell and `actorrent ctl` parse command lines into these requests and
/// format the replies (nodes/commands.*).
using control_actor = caf::typed_actor<
  /// `actors`: every supervised actor with its state and restart count.
  caf::replies_to<list_atom>::with<pb::ActorList>,
  /// `kill [--hard] NAME`: ends an actor abnormally (restarted) or for good.
  caf::replies_to<kill_atom, std::string, bool>::with<caf::ok_atom>,
  /// `restart NAME`: ends an actor if it runs and starts it again at once.
  caf::replies_to<restart_atom, std::string>::with<caf::ok_atom>,
  /// A peer command, handed to the node's peer agent. Fails with
  /// no_such_actor on a node without one (a tracker) or while it restarts.
  caf::replies_to<command_atom, pb::PeerRequest>::with<pb::PeerReply>>;

/// Restarts a node's server actors (local to its node).
using supervisor_actor = caf::typed_actor<
  /// Every child with its state and restart count.
  caf::replies_to<list_atom>::with<pb::ActorList>,
  /// Ends a child abnormally (restarted) or, with hard=true, for good.
  caf::replies_to<kill_atom, std::string, bool>::with<caf::ok_atom>,
  /// Ends a child if it runs and starts it again at once.
  caf::replies_to<restart_atom, std::string>::with<caf::ok_atom>,
  /// Timer: start child NAME again if it is still at generation GEN.
  caf::reacts_to<respawn_atom, std::string, uint64_t>>;

/// A peer's own agent: keeps the tracker session, runs downloads, answers
/// the peer's commands (local to its node).
using peer_actor = caf::typed_actor<
  /// One peer command (`fetch`, `list`, `downloads`, group commands, ...):
  /// pb::PeerRequest holds exactly one operation with its arguments.
  caf::replies_to<command_atom, pb::PeerRequest>::with<pb::PeerReply>,
  /// A fetcher asks for a file's manifest and sources (through the tracker).
  caf::replies_to<info_atom, pb::FileQuery>::with<pb::FileInfo>,
  /// A fetcher knows its download's manifest: the peer records it in its
  /// state database (the only owner of that database) so a restart resumes.
  caf::reacts_to<manifest_atom, pb::Manifest>,
  /// A fetcher reports a piece it has verified and written: the peer records
  /// it (batched, one transaction per flush) and tells the tracker.
  caf::reacts_to<have_atom, std::string, uint32_t>,
  /// A fetcher reports its progress.
  caf::reacts_to<status_atom, pb::DownloadStatus>,
  /// Progress of every download (the one-shot `fetch` polls it).
  caf::replies_to<status_atom>::with<pb::DownloadList>,
  /// Timers: connect to the tracker, send a heartbeat, flush haves.
  caf::reacts_to<reconnect_atom>,
  caf::reacts_to<heartbeat_atom>,
  caf::reacts_to<flush_atom>>;

/// One download (local to its peer).
using fetcher_actor = caf::typed_actor<
  /// Timer: ask for fresh sources, schedule requests, report progress.
  caf::reacts_to<refresh_atom>,
  caf::reacts_to<tick_atom>,
  /// The current progress.
  caf::replies_to<status_atom>::with<pb::DownloadStatus>>;

/// Verifies and writes pieces of one download (local to its fetcher);
/// detached in a node because it hashes and does disk I/O.
using writer_actor = caf::typed_actor<
  /// Checks the piece's SHA-256, writes it, marks it held in the library
  /// (served at once). Replies true when written, false when the hash did
  /// not match.
  caf::replies_to<write_atom, uint32_t, std::vector<char>>::with<bool>,
  /// Checks the whole file's SHA-256 and renames it into place. Replies the
  /// final path, or hash_mismatch / io_failure.
  caf::replies_to<finish_atom>::with<std::string>>;

} // namespace actorrent
