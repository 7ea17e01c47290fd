#include "actors/tracker/group_manager.hpp"

#include <ctime>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/log.hpp"
#include "actors/core/manifest.hpp"

namespace actorrent {

namespace {

// Stops the catalog from handing out `user`'s peers as sources of files
// shared in `group` (all groups when empty).
void withdraw(group_manager_state& st, const std::string& user,
              const std::string& group) {
  for (auto& s : st.groups->shares_of(user))
    if (group.empty() || s.group == group)
      st.catalog->leave(s.peer_id, group_key(s.group, s.name));
}

pb::GroupReply run(group_manager_state& st, const pb::GroupRequest& rq) {
  auto& gs = *st.groups;
  pb::GroupReply out;
  auto& op = rq.op();
  if (op == "create_user") {
    gs.create_user(rq.user(), rq.password());
    out.set_text("created user " + rq.user());
    return out;
  }
  if (op == "login") {
    out.set_token(gs.login(rq.user(), rq.password()));
    out.set_user(rq.user());
    out.set_text("logged in as " + rq.user());
    return out;
  }
  auto user = gs.user_of(rq.token());
  out.set_user(user);
  if (op == "logout") {
    withdraw(st, user, {});
    for (auto& s : gs.shares_of(user))
      gs.unshare(user, s.group, s.name);
    gs.logout(rq.token());
    out.set_text("logged out " + user);
  } else if (op == "create_group") {
    gs.create_group(user, rq.group());
    out.set_text("created group " + rq.group() + ", owned by " + user);
  } else if (op == "join_group") {
    gs.join_group(user, rq.group());
    out.set_text("asked to join " + rq.group());
  } else if (op == "leave_group") {
    withdraw(st, user, rq.group());
    auto what = gs.leave_group(user, rq.group());
    out.set_text("left " + rq.group() + (what.empty() ? "" : "; " + what));
  } else if (op == "list_requests") {
    for (auto& u : gs.list_requests(user, rq.group()))
      out.add_items(u);
  } else if (op == "accept_request") {
    gs.accept_request(user, rq.group(), rq.user());
    out.set_text(rq.user() + " is now a member of " + rq.group());
  } else if (op == "reject_request") {
    gs.reject_request(user, rq.group(), rq.user());
    out.set_text("rejected " + rq.user() + " for " + rq.group());
  } else if (op == "list_groups") {
    for (auto& g : gs.list_groups(user))
      out.add_items(g.name + " " + g.owner + " " + std::to_string(g.members)
                    + " " + (g.member ? "member" : "-"));
  } else if (op == "list_files") {
    for (auto& f : gs.files(user, rq.group()))
      out.add_items(f);
  } else if (op == "share") {
    gs.share(user, rq.group(), rq.name(), rq.peer_id());
    out.set_text("sharing " + rq.name() + " in " + rq.group());
  } else if (op == "unshare") {
    for (auto& s : gs.shares_of(user))
      if (s.group == rq.group() && s.name == rq.name())
        st.catalog->leave(s.peer_id, group_key(s.group, s.name));
    gs.unshare(user, rq.group(), rq.name());
    out.set_text("stopped sharing " + rq.name() + " in " + rq.group());
  } else if (op == "download") {
    if (!gs.is_member(user, rq.group())) {
      gs.owner_of(rq.group()); // unknown_group first
      throw refusal(errc::denied, user + " is not a member of " + rq.group());
    }
    auto info = st.catalog->info(group_key(rq.group(), rq.name()));
    if (!info)
      throw refusal(errc::unknown_file,
                    rq.name() + " is not shared in " + rq.group());
    *info->mutable_ticket() = gs.ticket(user, rq.group(), rq.name(),
                                        info->manifest().file_sha256(),
                                        std::time(nullptr), st.ticket_ttl);
    *out.mutable_info() = std::move(*info);
  } else {
    throw refusal(errc::bad_message, "unknown group op '" + op + "'");
  }
  return out;
}

} // namespace

group_actor::behavior_type
group_manager(group_actor::stateful_pointer<group_manager_state> self,
              std::string db, int64_t ticket_ttl_seconds) {
  try {
    self->state.groups = std::make_unique<group_store>(db);
    self->state.catalog = std::make_unique<tracker_store>(db);
  } catch (std::exception& e) {
    LOG_ERROR("group_manager", e.what());
    self->quit(make_error(errc::io_failure, e.what()));
    return group_actor::behavior_type::make_empty_behavior();
  }
  self->state.ticket_ttl = ticket_ttl_seconds;
  return {
    [=](group_atom, const pb::GroupRequest& rq) -> caf::result<pb::GroupReply> {
      try {
        auto reply = run(self->state, rq);
        if (!reply.text().empty())
          LOG_INFO("group_manager", reply.text());
        return reply;
      } catch (refusal& r) {
        LOG_INFO("group_manager", rq.op() << " refused: " << r.what());
        return make_error(r.code, r.what());
      } catch (std::exception& e) {
        LOG_ERROR("group_manager", rq.op() << ": " << e.what());
        return make_error(errc::io_failure, e.what());
      }
    },
  };
}

} // namespace actorrent
