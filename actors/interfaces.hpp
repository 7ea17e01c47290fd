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
  /// A one-time challenge for the next announce (valid a few seconds).
  caf::replies_to<challenge_atom>::with<pb::Challenge>,
  /// A peer joins or re-joins with every file it holds; replaces what the
  /// tracker knew of it. The peer proves its id (derived from its key) by
  /// signing a challenge: denied otherwise. Refuses bad names and
  /// inconsistent manifests. The reply carries the session token and the
  /// ticket key (answered once the tracker has it).
  caf::replies_to<announce_atom, pb::Announce>::with<pb::AnnounceReply>,
  /// Keeps a peer online. Fails with errc::unknown_peer when the tracker has
  /// no session for it (e.g. after a restart) or the session token is not
  /// the peer's: the peer must announce again.
  caf::replies_to<heartbeat_atom, pb::Heartbeat>::with<pb::AnnounceReply>,
  /// Pieces a peer has just verified, batched. Fails with unknown_peer (no
  /// session or not the peer's token), bad_name, unknown_file or bad_piece
  /// (index out of range).
  caf::replies_to<have_atom, pb::Have>::with<caf::ok_atom>,
  /// A peer stops sharing one file, or leaves (empty name). Denied without
  /// the peer's session token.
  caf::replies_to<leave_atom, pb::Leave>::with<caf::ok_atom>,
  /// Lists every public file with how many online sources hold it.
  caf::replies_to<list_atom, pb::FileQuery>::with<pb::FileList>,
  /// The manifest of one public file plus its online sources and their
  /// bitfields. A group's file is denied (only its members get it, through
  /// the group manager).
  caf::replies_to<info_atom, pb::FileQuery>::with<pb::FileInfo>,
  /// A downloading peer reports that a mirror sent a piece failing its
  /// SHA-256; handed to placement, which asks that mirror to check the
  /// part. Fails with bad_message (oversized, no SHA-256 or mirror id),
  /// unknown_peer (not the peer's session), unknown_mirror, unknown_file or
  /// bad_piece (what placement does not know), busy (too many checks),
  /// no_such_actor (no placement).
  caf::replies_to<corrupt_atom, pb::BadPieceReport>::with<caf::ok_atom>>;

/// The tracker as the group manager on its node sees it (never published:
/// the front forwards only tracker_actor's handlers).
using tracker_local_actor = tracker_actor::extend<
  /// Manifest and online sources of a file shared in a group; unknown_file
  /// when the catalog has no such file.
  caf::replies_to<info_atom, pb::GroupFile>::with<pb::FileInfo>,
  /// The catalog stops handing out these peers as sources of these group
  /// files (a logout, leave_group or unshare); their permits end.
  caf::replies_to<leave_atom, pb::Withdraw>::with<caf::ok_atom>,
  /// A member's peer may now announce and serve this group file (a share):
  /// a plain announce of a `g:GROUP:NAME` name without a permit is refused.
  /// Denied unless the session is the peer's live tracker session.
  caf::replies_to<share_atom, pb::GroupHolding>::with<caf::ok_atom>,
  /// Timer: the peer's heartbeat deadline; marks it offline when it has
  /// been silent for offline_ms.
  caf::reacts_to<expire_atom, std::string>,
  /// Timer: ask the group manager for the ticket key (again).
  caf::reacts_to<ticket_key_atom>,
  /// Timer: announces that waited key_wait for the ticket key are answered
  /// without it.
  caf::reacts_to<flush_atom>,
  /// Timer (catalog shared with other trackers): records that this tracker
  /// is alive; the peers of trackers silent too long go offline.
  caf::reacts_to<tick_atom>>;

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

/// Which mirror holds which part of which file (tracker node). Mirrors
/// register and send heartbeats; placement chooses each part's mirrors by
/// weighted rendezvous hashing and keeps every part on `replicas` live ones.
using placement_actor = caf::typed_actor<
  /// A mirror (re)joins with every part it holds; the sender is the mirror
  /// (its handle is kept to ask it for copies). Extra replicas of a mirror
  /// that comes back are trimmed.
  caf::replies_to<register_atom, pb::MirrorHello>::with<caf::ok_atom>,
  /// Keeps a mirror alive. Fails with unknown_mirror when placement has no
  /// record of it (after a restart of either): the mirror registers again.
  caf::replies_to<heartbeat_atom, pb::MirrorBeat>::with<caf::ok_atom>,
  /// Publishes a file: every part is copied from `source` to its mirrors;
  /// the reply (once every copy ended) says where each part is stored and
  /// why a part has fewer replicas than asked. Fails with no_mirrors when no
  /// mirror is alive.
  caf::replies_to<place_atom, pb::PlaceFile>::with<pb::PlaceReply>,
  /// Mirrors, parts below their replica count, copies in flight.
  caf::replies_to<placement_atom>::with<pb::PlacementStatus>,
  /// A mirror found a part it holds corrupt (scrub) and dropped it:
  /// placement copies it again from a good replica.
  caf::reacts_to<corrupt_atom, pb::PartRef>>;

/// Placement as the tracker on its node sees it (never published).
using placement_local_actor = placement_actor::extend<
  /// The live mirrors of a file (by its SHA-256) as sources, with the
  /// pieces each holds; an empty list for a file not on the mirrors.
  caf::replies_to<sources_atom, std::string>::with<pb::FileInfo>,
  /// Timer: declares silent mirrors dead, re-replicates, trims.
  caf::reacts_to<check_atom>,
  /// A peer's report (checked by the tracker on this node) that a mirror
  /// sent a bad piece: placement asks that mirror to check the part, at
  /// most once per part and mirror a minute; a part found corrupt is dropped
  /// and copied again from a good replica. Fails with unknown_mirror,
  /// unknown_file or bad_piece (piece out of range, part not on that
  /// mirror), busy (8 checks running, or 16 started for this peer within a
  /// minute), denied from another node.
  caf::replies_to<verify_atom, pb::BadPieceReport>::with<caf::ok_atom>>;

/// What the tracker node publishes: the catalog, the group manager and
/// placement.
using tracker_node_actor
  = tracker_actor::extend_with<group_actor>::extend_with<placement_actor>;

/// Serves verified pieces of a peer's files (published on the peer's port).
using piece_server_actor = caf::typed_actor<
  /// One piece, or several (pb::PieceRequest::more): the header says which,
  /// the bytes follow each other. Fails with unknown_file, bad_piece (the
  /// first piece out of range or not held yet) or io_failure; a further
  /// piece that is not here is left out.
  caf::replies_to<piece_atom, pb::PieceRequest>::with<pb::PieceHeader,
                                                      piece_bytes>,
  /// A grant to stream one file's pieces over a TCP connection of their own
  /// (piece_stream.hpp), checked like a piece request: the port and a
  /// one-time token. Fails with unsupported (no stream here: a mirror, a
  /// paced peer, a simulation), unknown_file, conflict or denied.
  caf::replies_to<stream_atom, pb::StreamRequest>::with<pb::StreamGrant>>;

/// A downloader's end of a piece stream (local to its fetcher): a piece
/// server to the fetcher, whose requests it writes to the stream, plus what
/// its reader delivers. Ends (with the reason) when the stream closes; the
/// fetcher's monitor sees a lost source.
using stream_source_actor = piece_server_actor::extend<
  /// The reader connected and sent the hello: queued requests go out.
  caf::reacts_to<caf::ok_atom>,
  /// A reply read from the stream: index, status (0 or an errc), bytes.
  caf::reacts_to<piece_atom, uint32_t, uint32_t, piece_bytes>,
  /// The stream closed (by the source, an error or a bad reply): why.
  caf::reacts_to<closed_atom, std::string>>;

/// The piece server itself (local to its node): what its front publishes
/// plus the timer of its upload pacing.
using paced_piece_server_actor = piece_server_actor::extend<
  /// Timer: answers the replies held back by the upload limit that are due.
  caf::reacts_to<tick_atom>>;

/// One mirror server (mirror node, many per process): stores the parts
/// placed on it, serves their pieces like a peer's piece server, copies
/// parts from other mirrors when placement asks, scrubs its data.
using mirror_actor = piece_server_actor::extend<
  /// Stores a part, copying its pieces from the sources (each checked
  /// against the manifest's SHA-256 before it is written); replies once the
  /// whole part is stored. Fails with bad_message (part out of range, part
  /// size not a multiple of the piece size), hash_mismatch / io_failure /
  /// unknown_file when no source delivered a good copy.
  caf::replies_to<copy_atom, pb::PartCopy>::with<pb::PartStored>,
  /// Forgets a part (placement trims a replica no longer needed).
  caf::replies_to<drop_atom, pb::PartRef>::with<caf::ok_atom>,
  /// Checks every piece of a part it holds against its SHA-256 now
  /// (placement asks after a downloader's report). True when intact; false
  /// when corrupt, and the part is dropped. Fails with denied unless
  /// placement's node asks, unknown_file when the part is not held here.
  caf::replies_to<verify_atom, pb::PartRef>::with<bool>,
  /// Timers: register with placement, heartbeat, scrub one piece.
  caf::reacts_to<register_atom>,
  caf::reacts_to<heartbeat_atom>,
  caf::reacts_to<scrub_atom>>;

/// What a mirror node publishes: the handles of the mirrors it hosts (so
/// traffic goes straight to this node, not through whoever relayed them).
using mirror_node_actor = caf::typed_actor<
  /// The current incarnation of mirror `id` (a mirror_actor); fails with
  /// no_such_actor for an id this node does not host or while it restarts.
  caf::replies_to<mirror_atom, std::string>::with<caf::strong_actor_ptr>>;

/// Answers operators (published on a node's control port, loopback only).
/// The shell and `actorrent ctl` parse command lines into these requests and
/// format the replies (nodes/commands.*). Every request ends with the
/// node's control token: refused (denied) when the node has one and the
/// request carries another (`*.control-token-file`).
using control_actor = caf::typed_actor<
  /// `actors`: every supervised actor with its state and restart count.
  caf::replies_to<list_atom, std::string>::with<pb::ActorList>,
  /// `kill [--hard] NAME`: ends an actor abnormally (restarted) or for good.
  caf::replies_to<kill_atom, std::string, bool, std::string>::with<caf::ok_atom>,
  /// `restart NAME`: ends an actor if it runs and starts it again at once.
  caf::replies_to<restart_atom, std::string, std::string>::with<caf::ok_atom>,
  /// A peer command, handed to the node's peer agent. Fails with
  /// no_such_actor on a node without one (a tracker) or while it restarts.
  caf::replies_to<command_atom, pb::PeerRequest, std::string>::with<pb::PeerReply>,
  /// `placement`: the mirror cluster (tracker nodes; no_such_actor
  /// elsewhere).
  caf::replies_to<placement_atom, std::string>::with<pb::PlacementStatus>>;

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
  /// A fetcher asks for a file's manifest and sources (through the tracker;
  /// at most `want` sources). Without a tracker session the question waits
  /// for the next attempt at one (at most 1,024 wait) and fails with
  /// tracker_unavailable when that attempt fails.
  caf::replies_to<info_atom, pb::FileQuery>::with<pb::FileInfo>,
  /// A fetcher knows its download's manifest: the peer records it in its
  /// state database (the only owner of that database) so a restart resumes.
  caf::reacts_to<manifest_atom, pb::Manifest>,
  /// A fetcher reports pieces it has verified and written (those of one
  /// reply together): the peer records them in its state database (resume)
  /// and tells the tracker (batched).
  caf::reacts_to<have_atom, std::string, std::vector<uint32_t>>,
  /// A fetcher reports that a mirror sent a piece failing its SHA-256: the
  /// peer tells the tracker (with its session), which has placement check.
  caf::reacts_to<corrupt_atom, pb::BadPieceReport>,
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
  /// Checks each piece's SHA-256, writes it, marks it held in the library
  /// (served at once). The bytes hold the pieces in the order given, end to
  /// end. Replies the pieces whose hash did not match (not written).
  caf::replies_to<write_atom, std::vector<uint32_t>, piece_bytes>::with<
    std::vector<uint32_t>>,
  /// Checks that every piece of the file has passed its SHA-256 (by any
  /// writer of the download) and renames it into place. Replies the final
  /// path, or io_failure.
  caf::replies_to<finish_atom>::with<std::string>>;

} // namespace actorrent
