#include "actors/tracker/group_client.hpp"

namespace actorrent {

pb::GroupReply as_group_reply(const pb::GroupText& r) {
  pb::GroupReply out;
  out.set_text(r.text());
  out.set_user(r.user());
  return out;
}

pb::GroupReply as_group_reply(const pb::LoginReply& r) {
  pb::GroupReply out;
  out.set_text(r.text());
  out.set_user(r.user());
  out.set_token(r.token());
  return out;
}

pb::GroupReply as_group_reply(const pb::NameList& r) {
  pb::GroupReply out;
  for (auto& x : r.names())
    out.add_items(x);
  return out;
}

pb::GroupReply as_group_reply(const pb::GroupList& r) {
  pb::GroupReply out;
  for (auto& g : r.groups())
    out.add_items(g.name() + " " + g.owner() + " " + std::to_string(g.members())
                  + " " + (g.member() ? "member" : "-"));
  return out;
}

pb::GroupReply as_group_reply(const pb::FileInfo& r) {
  pb::GroupReply out;
  *out.mutable_info() = r;
  return out;
}

} // namespace actorrent
