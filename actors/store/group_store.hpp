// Accounts and groups in SQLite (the tracker's database): users with Argon2id
// password hashes, sessions, groups with owners, join requests, memberships
// (in joining order) and which member shares which file in which group.
// Every refusal throws `refusal` with an error code and a message for users;
// state is unchanged then.
//
// Membership of a user in a group:
//   none -> requested      (join_group)
//   requested -> member    (accept_request by the owner)
//   requested -> none      (reject_request by the owner)
//   none -> owner          (create_group)
//   member/owner -> none   (leave_group; an owner hands the group to the
//                           longest-standing member, the last one removes it)
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "actors/store/sqlite.hpp"
#include "actors/core/ticket.hpp"
#include "actors/types.hpp"

namespace actorrent {

struct refusal : std::runtime_error {
  errc code;
  refusal(errc c, const std::string& what) : std::runtime_error(what), code(c) {}
};

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
  explicit group_store(const std::string& path);

  /// The tracker's signing key, created once and kept in the database.
  const signing_key& key() const { return key_; }

  void create_user(const std::string& user, const std::string& password);
  /// A new session token. The same refusal for unknown users and wrong
  /// passwords.
  std::string login(const std::string& user, const std::string& password);
  void logout(const std::string& token);
  /// The user of a session, or a not_logged_in refusal.
  std::string user_of(const std::string& token);

  void create_group(const std::string& user, const std::string& group);
  void join_group(const std::string& user, const std::string& group);
  /// Returns what happened to the group: "", "owner is now X" or "removed".
  std::string leave_group(const std::string& user, const std::string& group);
  std::vector<std::string> list_requests(const std::string& user,
                                         const std::string& group);
  void accept_request(const std::string& owner, const std::string& group,
                      const std::string& requester);
  void reject_request(const std::string& owner, const std::string& group,
                      const std::string& requester);
  std::vector<group_summary> list_groups(const std::string& user);
  bool is_member(const std::string& user, const std::string& group);
  std::string owner_of(const std::string& group);

  /// Records that `user` shares file `name` in `group` from peer `peer_id`.
  void share(const std::string& user, const std::string& group,
             const std::string& name, const std::string& peer_id);
  void unshare(const std::string& user, const std::string& group,
               const std::string& name);
  /// Names shared in a group (members only).
  std::vector<std::string> files(const std::string& user,
                                 const std::string& group);
  std::vector<group_share> shares_of(const std::string& user);

  /// A ticket for a member to fetch `name` (with `file_sha256`) of `group`,
  /// valid for `ttl_seconds`.
  pb::SignedTicket ticket(const std::string& user, const std::string& group,
                          const std::string& name,
                          const std::string& file_sha256, int64_t now_unix,
                          int64_t ttl_seconds);

private:
  void require_group(const std::string& group);
  void require_member(const std::string& user, const std::string& group);
  void require_owner(const std::string& user, const std::string& group);
  bool has_request(const std::string& user, const std::string& group);
  /// The first column of every row of `sql` with `?` bound to `arg`.
  std::vector<std::string> column(const std::string& sql,
                                  const std::string& arg);
  sql::database db_;
  signing_key key_;
};

/// A user or group name: non-empty, at most 255 bytes, no control character
/// or path separator. Throws a bad_name refusal naming `what`.
void check_name(const std::string& what, const std::string& name);

} // namespace actorrent
