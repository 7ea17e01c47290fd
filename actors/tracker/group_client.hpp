// The client's side of the group protocol: the atom and reply type of each
// request, so a caller sends a request without naming them twice.
#pragma once

#include "actors/interfaces.hpp"

namespace actorrent {

/// group_op<Request>::atom and ::reply, as group_actor declares them.
template <class Request>
struct group_op;

#define ACTORRENT_GROUP_OP(Request, Atom, Reply)                               \
  template <>                                                                  \
  struct group_op<pb::Request> {                                               \
    using atom = Atom;                                                         \
    using reply = pb::Reply;                                                   \
  };
ACTORRENT_GROUP_OP(CreateUser, create_user_atom, GroupText)
ACTORRENT_GROUP_OP(Login, login_atom, LoginReply)
ACTORRENT_GROUP_OP(Logout, logout_atom, GroupText)
ACTORRENT_GROUP_OP(CreateGroup, create_group_atom, GroupText)
ACTORRENT_GROUP_OP(JoinGroup, join_group_atom, GroupText)
ACTORRENT_GROUP_OP(LeaveGroup, leave_group_atom, GroupText)
ACTORRENT_GROUP_OP(ListRequests, list_requests_atom, NameList)
ACTORRENT_GROUP_OP(AcceptRequest, accept_atom, GroupText)
ACTORRENT_GROUP_OP(RejectRequest, reject_atom, GroupText)
ACTORRENT_GROUP_OP(ListGroups, list_groups_atom, GroupList)
ACTORRENT_GROUP_OP(ListFiles, list_files_atom, NameList)
ACTORRENT_GROUP_OP(Share, share_atom, GroupText)
ACTORRENT_GROUP_OP(Unshare, unshare_atom, GroupText)
ACTORRENT_GROUP_OP(GroupDownload, download_atom, FileInfo)
#undef ACTORRENT_GROUP_OP

} // namespace actorrent
