// Accounts and groups: users with Argon2id password hashes, sessions, groups
// with owners, join requests, memberships (in joining order), which member
// shares which file in which group, and the tracker's ticket signing key.
// An interface, so that another database can stand in for SQLite without
// touching the group manager. Every call that changes state is one
// transaction. Every refusal throws `refusal` with an error code and a
// message for users (state unchanged then); database failures throw
// std::runtime_error.
//
// Membership of a user in a group:
//   none -> requested      (join_group)
//   requested -> member    (accept_request by the owner)
//   requested -> none      (reject_request by the owner)
//   none -> owner          (create_group)
//   member/owner -> none   (leave_group; an owner hands the group to the
//                           longest-standing member, the last one removes it)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/core/ticket.hpp"
#include "actors/store/refusal.hpp"

namespace actorrent {

struct group_summary {
  std::string name;
  std::string owner;
  size_t members = 0;
  bool member = false;   // the asking user is a member
};

struct group_share {
  std::string group;
  std::string name;
  std::string user;
  std::string peer_id;
};

class group_store {
public:
  virtual ~group_store();

  /// The tracker's signing key, created once and kept in the database.
  virtual const signing_key& key() const = 0;

  virtual void create_user(const std::string& user,
                           const std::string& password) = 0;
  /// A new session token. The same refusal for unknown users and wrong
  /// passwords.
  virtual std::string login(const std::string& user,
                            const std::string& password) = 0;
  /// Ends a session and stops every share of its user; returns the shares
  /// that ended.
  virtual std::vector<group_share> logout(const std::string& token) = 0;
  /// The user of a session, or a not_logged_in refusal.
  virtual std::string user_of(const std::string& token) = 0;

  virtual void create_group(const std::string& user,
                            const std::string& group) = 0;
  virtual void join_group(const std::string& user,
                          const std::string& group) = 0;
  /// Leaves a group, ending the user's shares there. Returns what happened
  /// to the group: "", "owner is now X" or "removed".
  virtual std::string leave_group(const std::string& user,
                                  const std::string& group) = 0;
  virtual std::vector<std::string> list_requests(const std::string& user,
                                                 const std::string& group) = 0;
  virtual void accept_request(const std::string& owner,
                              const std::string& group,
                              const std::string& requester) = 0;
  virtual void reject_request(const std::string& owner,
                              const std::string& group,
                              const std::string& requester) = 0;
  virtual std::vector<group_summary> list_groups(const std::string& user) = 0;
  virtual bool is_member(const std::string& user, const std::string& group) = 0;
  /// The owner, or an unknown_group refusal.
  virtual std::string owner_of(const std::string& group) = 0;

  /// Records that `user` shares file `name` in `group` from peer `peer_id`.
  virtual void share(const std::string& user, const std::string& group,
                     const std::string& name, const std::string& peer_id) = 0;
  /// Ends the user's shares of `name` in `group`; returns them.
  virtual std::vector<group_share> unshare(const std::string& user,
                                           const std::string& group,
                                           const std::string& name) = 0;
  /// Names shared in a group (members only).
  virtual std::vector<std::string> files(const std::string& user,
                                         const std::string& group) = 0;
  virtual bool is_shared(const std::string& group, const std::string& name) = 0;
  virtual std::vector<group_share> shares_of(const std::string& user) = 0;

  /// Refuses unless `user` is a member of `group` (unknown_group, denied).
  void require_member(const std::string& user, const std::string& group);

  /// A ticket for a member to fetch `name` (with `file_sha256`) of `group`,
  /// valid for `ttl_seconds` from `now_unix`. Refuses non-members (denied)
  /// and files not shared there (unknown_file).
  pb::SignedTicket ticket(const std::string& user, const std::string& group,
                          const std::string& name,
                          const std::string& file_sha256, int64_t now_unix,
                          int64_t ttl_seconds);
};

/// Opens (creating) the group store named by the `tracker.db` setting: a
/// SQLite file path or a PostgreSQL connection URI (`postgresql://...`).
std::unique_ptr<group_store>
open_group_store(const std::string& db,
                 random_source random = system_random());

/// A user or group name: non-empty, at most 255 bytes, no control character
/// or path separator. Throws a bad_name refusal naming `what`.
void check_name(const std::string& what, const std::string& name);

} // namespace actorrent
