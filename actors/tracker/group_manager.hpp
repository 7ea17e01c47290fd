// The group manager: accounts, sessions, groups and group-scoped files, in
// its group_store (the only owner of that database). Blocks on the database
// and Argon2id hashing: spawned with spawn_blocking. The catalog belongs to
// the tracker: the group manager asks the tracker in the `tracker` slot for a
// group file's sources and to withdraw holdings. Answers a download with the
// file's sources and a ticket signed with the key it keeps, which the
// tracker hands to peers so that serving peers can check tickets.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/timespan.hpp>

#include "actors/interfaces.hpp"
#include "actors/node/actor_slot.hpp"
#include "actors/store/group_store.hpp"

namespace actorrent {

struct group_manager_options {
  std::string db;
  int64_t ticket_ttl_seconds = 3600;
  /// Seconds since the Unix epoch: when tickets expire (environment).
  std::function<int64_t()> unix_time;
  /// The ticket key (made once) and session tokens (environment).
  random_source random = system_random();
  /// The tracker (tracker_local_actor): the catalog of group files.
  std::shared_ptr<actor_slot> tracker;
  caf::timespan tracker_timeout = std::chrono::seconds(5);
};

struct group_manager_state {
  using pointer = group_manager_actor::stateful_pointer<group_manager_state>;
  explicit group_manager_state(pointer self) : self_(self) {}

  std::unique_ptr<group_store> groups;
  group_manager_options opts;

  /// Takes the options and opens the store; false (and the actor quits)
  /// when that fails.
  bool init(group_manager_options o);

  // One method per request of group_manager_actor; a refusal or database
  // failure becomes the error reply.
  caf::result<pb::GroupText> create_user(const pb::CreateUser& rq);
  caf::result<pb::LoginReply> login(const pb::Login& rq);
  caf::result<pb::GroupText> logout(const pb::Logout& rq);
  caf::result<pb::GroupText> create_group(const pb::CreateGroup& rq);
  caf::result<pb::GroupText> join_group(const pb::JoinGroup& rq);
  caf::result<pb::GroupText> leave_group(const pb::LeaveGroup& rq);
  caf::result<pb::NameList> list_requests(const pb::ListRequests& rq);
  caf::result<pb::GroupText> accept_request(const pb::AcceptRequest& rq);
  caf::result<pb::GroupText> reject_request(const pb::RejectRequest& rq);
  caf::result<pb::GroupList> list_groups(const pb::ListGroups& rq);
  caf::result<pb::NameList> list_files(const pb::ListFiles& rq);
  caf::result<pb::GroupText> share(const pb::Share& rq);
  caf::result<pb::GroupText> unshare(const pb::Unshare& rq);
  caf::result<pb::FileInfo> download(const pb::GroupDownload& rq);
  /// The public key that checks download tickets.
  std::string ticket_key() const;

  static inline const char* name = "group_manager";

private:
  /// Runs `f(user)` for the user of the request's token, guarded as
  /// operation `what`, once the request is within the size limits.
  template <class T, class Request, class F>
  caf::result<T> as_user(const char* what, const Request& rq, F f);
  /// The tracker's current incarnation; invalid while it is (re)starting.
  tracker_local_actor catalog() const;
  /// Answers `reply` once the catalog no longer hands out the peers of
  /// `ended` as sources of those files.
  caf::result<pb::GroupText> after_withdraw(const std::vector<group_share>& ended,
                                            pb::GroupText reply);
  /// Sources from the catalog plus a ticket (throws on a refusal).
  caf::result<pb::FileInfo> download_now(const pb::GroupDownload& rq);

  pointer self_;
};

group_manager_actor::behavior_type
group_manager(group_manager_actor::stateful_pointer<group_manager_state> self,
              group_manager_options opts);

} // namespace actorrent
