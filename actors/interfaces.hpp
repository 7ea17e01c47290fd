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
  /// tracker knew of it. Refuses bad names and inconsistent manifests. The
  /// reply carries the ticket key (answered once the tracker has it).
  caf::replies_to<announce_atom, pb::Announce>::with<pb::AnnounceReply>,
  /// Keeps a peer online. Fails with errc::unknown_peer when the tracker has no
  /// session for it (e.g. after a restart): the peer must announce again.
  caf::replies_to<heartbeat_atom, pb::Heartbeat>::with<pb::AnnounceReply>,
  /// Pieces a peer has just verified, batched. Fails with unknown_peer,
  /// bad_name, unknown_file or bad_piece (index out of range).
  caf::replies_to<have_atom, pb::Have>::with<caf::ok_atom>,
  /// A peer stops sharing one file, or leaves (empty name).
  caf::replies_to<leave_atom, pb::Leave>::with<caf::ok_atom>,
  /// Lists every public file with how many online sources hold it.
  caf::replies_to<list_atom, pb::FileQuery>::with<pb::FileList>,
  /// The manifest of one public file plus its online sources and their
  /// bitfields. A group's file is denied (only its members get it, through
  /// the group manager).
  caf::replies_to<info_atom, pb::FileQuery>::with<pb::FileInfo>>;

/// The tracker as the group manager on its node sees it (never published:
/// the front forwards only tracker_actor's handlers).
using tracker_local_actor = tracker_actor::extend<
  /// Manifest and online sources of a file shared in a group; unknown_file
  /// when the catalog has no such file.
  caf::replies_to<info_atom, pb::GroupFile>::with<pb::FileInfo>,
  /// The catalog stops handing out these peers as sources of these group
  /// files (a logout, leave_group or unshare).
  caf::replies_to<leave_atom, pb::Withdraw>::with<caf::ok_atom>,
  /// Timer: the peer's heartbeat deadline; marks it offline when it has
  /// been silent for offline_ms.
  caf::reacts_to<expire_atom, std::string>,
  /// Timer: ask the group manager for the ticket key (again).
  caf::reacts_to<ticket_key_atom>,
  /// Timer: announces that waited key_wait for the ticket key are answered
  /// without it.
  caf::reacts_to<flush_atom>>;

/// Accounts, groups and group-scoped files (tracker node). Every request but
/// CreateUser and Login carries the session token; the user is the token's,
/// never a name the client claims. Refusals are errors: bad_name,
/// bad_message, conflict, wrong_login, not_logged_in, denied, unknown_group,
/// unknown_file; database failures io_failure.
using group_actor = caf::typed_actor<
  /// An account; the password is stored as an Argon2id hash.
  caf::replies_to<create_user_atom, pb::CreateUser>::with<pb::GroupText>,
  /// A new session token. One refusal (wrong_login) for an unknown user and
  /// a wrong password.
  caf::replies_to<login_atom, pb::Login>::with<pb::LoginReply>,
  /// Ends the session and withdraws every file the user shares.
  caf::replies_to<logout_atom, pb::Logout>::with<pb::GroupText>,
  /// A group owned by the user.
  caf::replies_to<create_group_atom, pb::CreateGroup>::with<pb::GroupText>,
  /// Asks to join a group (the owner decides).
  caf::replies_to<join_group_atom, pb::JoinGroup>::with<pb::GroupText>,
  /// Leaves a group and withdraws the user's files there; an owner hands
  /// the group to the longest-standing member, the last member removes it.
  caf::replies_to<leave_group_atom, pb::LeaveGroup>::with<pb::GroupText>,
  /// Users asking to join (owner only).
  caf::replies_to<list_requests_atom, pb::ListRequests>::with<pb::NameList>,
  /// Makes a requester a member (owner only).
  caf::replies_to<accept_atom, pb::AcceptRequest>::with<pb::GroupText>,
  /// Drops a join request (owner only).
  caf::replies_to<reject_atom, pb::RejectRequest>::with<pb::GroupText>,
  /// Every group with owner, member count and whether the user is a member.
  caf::replies_to<list_groups_atom, pb::ListGroups>::with<pb::GroupList>,
  /// Names of the files shared in a group (members only).
  caf::replies_to<list_files_atom, pb::ListFiles>::with<pb::NameList>,
  /// Records that the user's peer shares a file in a group (members only).
  caf::replies_to<share_atom, pb::Share>::with<pb::GroupText>,
  /// Stops sharing a file in a group and withdraws it from the catalog.
  caf::replies_to<unshare_atom, pb::Unshare>::with<pb::GroupText>,
  /// Manifest, online sources and a signed download ticket (members only).
  caf::replies_to<download_atom, pb::GroupDownload>::with<pb::FileInfo>>;

/// The group manager as the tracker on its node sees it (never published).
using group_manager_actor = group_actor::extend<
  /// The Ed25519 public key that checks download tickets (for peers).
  caf::replies_to<ticket_key_atom>::with<std::string>>;

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
  /// it in its state database (resume) and tells the tracker (batched).
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
  /// Checks that every piece of the file has passed its SHA-256 (by any
  /// writer of the download) and renames it into place. Replies the final
  /// path, or io_failure.
  caf::replies_to<finish_atom>::with<std::string>>;

} // namespace actorrent
