// The peer's side of groups: its user's session at the group manager, the
// group commands, and what logging in, leaving and downloading mean for what
// this peer shares (a user's group files are shared again at login, if
// unchanged on disk, and withdrawn at logout).
#pragma once

#include <functional>
#include <string>

#include "actors/peer/self.hpp"

namespace actorrent {

class groups_client {
public:
  explicit groups_client(peer_self self);

  using reply = caf::result<pb::PeerReply>;

  reply create_user(const pb::Credentials& c);
  reply login(const pb::Credentials& c);
  reply logout();
  reply create_group(const std::string& group);
  reply join_group(const std::string& group);
  reply leave_group(const std::string& group);
  reply list_requests(const std::string& group);
  reply decide(const pb::GroupUserArg& rq, bool accept);
  reply list_groups();
  reply list_files(const std::string& group);
  reply upload_file(const pb::GroupFileArg& rq);
  reply download_file(const pb::GroupFileArg& rq);
  reply stop_share(const pb::GroupFileArg& rq);

  /// Sources and a fresh ticket of a group file, for a fetcher.
  caf::result<pb::FileInfo> info(const std::string& group,
                                 const std::string& name);

  const std::string& user() const { return user_; }

private:
  /// Sends one group request; `on_ok` turns the typed answer into the
  /// command's reply, `on_fail` undoes local changes.
  template <class Request, class OnOk>
  reply call(const Request& rq, OnOk on_ok,
             std::function<void()> on_fail = nullptr);
  /// As call, but `on_ok(answer, promise)` delivers the command's reply
  /// itself (later, after more requests).
  template <class Request, class OnOk>
  reply call_then(const Request& rq, OnOk on_ok,
                  std::function<void()> on_fail = nullptr);
  /// A request that just reports what it did.
  template <class Request>
  reply call_text(const Request& rq);
  /// A request carrying this session's token; refused when logged out.
  template <class Request>
  bool with_session(Request& rq, reply& refusal);
  /// Shares again what the user shared before, if unchanged on disk.
  void reshare(pb::PeerReply& out);
  /// Stops sharing this user's files of `group` here (all when empty).
  void unshare_local(const std::string& group);
  /// Registers a share at the group manager, then announces (the tracker
  /// accepts a group file only from a peer the group manager permitted).
  void register_share(const std::string& group, const std::string& name);

  peer_self self_;
  std::string user_;   // logged-in user, or ""
  std::string token_;  // its session at the group manager
};

} // namespace actorrent
