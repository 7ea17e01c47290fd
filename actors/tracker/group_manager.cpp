#include "actors/tracker/group_manager.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/log.hpp"
#include "actors/tracker/guarded.hpp"

namespace actorrent {

namespace {

using gm_ptr = group_manager_actor::stateful_pointer<group_manager_state>;

constexpr const char* who = "group_manager";

// An outcome for humans, logged.
pb::GroupText text(const std::string& user, const std::string& what) {
  LOG_INFO(who, what);
  pb::GroupText out;
  out.set_user(user);
  out.set_text(what);
  return out;
}

// The tracker's current incarnation; invalid while it is (re)starting.
tracker_local_actor catalog(gm_ptr self) {
  auto& slot = self->state.opts.tracker;
  return caf::actor_cast<tracker_local_actor>(slot ? slot->get() : nullptr);
}

// Answers `reply` once the catalog no longer hands out the peers of `ended`
// as sources of those files. Without a tracker (restarting) there is nothing
// to withdraw from: a restarted tracker knows only what peers announce again.
caf::result<pb::GroupText> after_withdraw(gm_ptr self,
                                          const std::vector<group_share>& ended,
                                          pb::GroupText reply) {
  auto tracker = catalog(self);
  if (ended.empty() || !tracker)
    return reply;
  pb::Withdraw w;
  for (auto& s : ended) {
    auto& h = *w.add_holdings();
    h.set_peer_id(s.peer_id);
    h.set_group(s.group);
    h.set_name(s.name);
  }
  auto rp = self->make_response_promise<pb::GroupText>();
  self->request(tracker, self->state.opts.tracker_timeout, leave_atom::value, w)
    .then([rp, reply](caf::ok_atom) mutable { rp.deliver(reply); },
          [rp, reply](caf::error& err) mutable {
            LOG_WARN(who, "withdrawing from the catalog: " << render(err));
            rp.deliver(reply);
          });
  return rp;
}

// Sources from the catalog plus a ticket; membership is checked before the
// catalog is asked and again when the ticket is signed.
caf::result<pb::FileInfo> download(gm_ptr self, const pb::GroupDownload& rq) {
  auto& gs = *self->state.groups;
  auto user = gs.user_of(rq.token());
  gs.require_member(user, rq.group());
  if (!gs.is_shared(rq.group(), rq.name()))
    throw refusal(errc::unknown_file,
                  rq.name() + " is not shared in " + rq.group());
  auto tracker = catalog(self);
  if (!tracker)
    return make_error(errc::no_such_actor, "the tracker is restarting");
  pb::GroupFile f;
  f.set_group(rq.group());
  f.set_name(rq.name());
  auto rp = self->make_response_promise<pb::FileInfo>();
  self->request(tracker, self->state.opts.tracker_timeout, info_atom::value, f)
    .then(
      [self, rp, user, f](pb::FileInfo& info) mutable {
        deliver_guarded(rp, who, "download", [&] {
          auto& st = self->state;
          *info.mutable_ticket() = st.groups->ticket(
            user, f.group(), f.name(), info.manifest().file_sha256(),
            st.opts.unix_time(), st.opts.ticket_ttl_seconds);
          LOG_INFO(who, user << " downloads " << f.group() << "/" << f.name()
                             << " from " << info.sources_size()
                             << " sources");
          return std::move(info);
        });
      },
      [rp](caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

pb::GroupList list_groups(group_store& gs, const pb::ListGroups& rq) {
  pb::GroupList out;
  for (auto& g : gs.list_groups(gs.user_of(rq.token()))) {
    auto& e = *out.add_groups();
    e.set_name(g.name);
    e.set_owner(g.owner);
    e.set_members(static_cast<uint32_t>(g.members));
    e.set_member(g.member);
  }
  return out;
}

pb::NameList names(const std::vector<std::string>& xs) {
  pb::NameList out;
  for (auto& x : xs)
    out.add_names(x);
  return out;
}

// The shares of `user` in `group`.
std::vector<group_share> shares_in(group_store& gs, const std::string& user,
                                   const std::string& group) {
  std::vector<group_share> out;
  for (auto& s : gs.shares_of(user))
    if (s.group == group)
      out.push_back(s);
  return out;
}

} // namespace

group_manager_actor::behavior_type
group_manager(group_manager_actor::stateful_pointer<group_manager_state> self,
              group_manager_options opts) {
  self->state.opts = std::move(opts);
  try {
    if (!self->state.opts.unix_time)
      throw std::invalid_argument("no clock for ticket expiry");
    self->state.groups = open_group_store(self->state.opts.db, self->state.opts.random);
  } catch (std::exception& e) {
    LOG_ERROR(who, e.what());
    self->quit(make_error(errc::io_failure, e.what()));
    return group_manager_actor::behavior_type::make_empty_behavior();
  }
  auto gs = self->state.groups.get(); // lives as long as the behavior
  using text_result = caf::result<pb::GroupText>;
  return {
    [=](create_user_atom, const pb::CreateUser& rq) -> text_result {
      return guarded<pb::GroupText>(who, "create_user", [&] {
        gs->create_user(rq.user(), rq.password());
        return text(rq.user(), "created user " + rq.user());
      });
    },
    [=](login_atom, const pb::Login& rq) -> caf::result<pb::LoginReply> {
      return guarded<pb::LoginReply>(who, "login", [&] {
        pb::LoginReply out;
        out.set_token(gs->login(rq.user(), rq.password()));
        out.set_user(rq.user());
        out.set_text(text(rq.user(), "logged in as " + rq.user()).text());
        return out;
      });
    },
    [=](logout_atom, const pb::Logout& rq) -> text_result {
      return guarded<pb::GroupText>(who, "logout", [&] {
        auto user = gs->user_of(rq.token());
        auto ended = gs->logout(rq.token());
        return after_withdraw(self, ended, text(user, "logged out " + user));
      });
    },
    [=](create_group_atom, const pb::CreateGroup& rq) -> text_result {
      return guarded<pb::GroupText>(who, "create_group", [&] {
        auto user = gs->user_of(rq.token());
        gs->create_group(user, rq.group());
        return text(user, "created group " + rq.group() + ", owned by " + user);
      });
    },
    [=](join_group_atom, const pb::JoinGroup& rq) -> text_result {
      return guarded<pb::GroupText>(who, "join_group", [&] {
        auto user = gs->user_of(rq.token());
        gs->join_group(user, rq.group());
        return text(user, "asked to join " + rq.group());
      });
    },
    [=](leave_group_atom, const pb::LeaveGroup& rq) -> text_result {
      return guarded<pb::GroupText>(who, "leave_group", [&] {
        auto user = gs->user_of(rq.token());
        auto ended = shares_in(*gs, user, rq.group());
        auto what = gs->leave_group(user, rq.group());
        return after_withdraw(self, ended,
                              text(user, "left " + rq.group()
                                           + (what.empty() ? "" : "; " + what)));
      });
    },
    [=](list_requests_atom,
             const pb::ListRequests& rq) -> caf::result<pb::NameList> {
      return guarded<pb::NameList>(who, "list_requests", [&] {
        return names(gs->list_requests(gs->user_of(rq.token()), rq.group()));
      });
    },
    [=](accept_atom, const pb::AcceptRequest& rq) -> text_result {
      return guarded<pb::GroupText>(who, "accept_request", [&] {
        auto user = gs->user_of(rq.token());
        gs->accept_request(user, rq.group(), rq.user());
        return text(user, rq.user() + " is now a member of " + rq.group());
      });
    },
    [=](reject_atom, const pb::RejectRequest& rq) -> text_result {
      return guarded<pb::GroupText>(who, "reject_request", [&] {
        auto user = gs->user_of(rq.token());
        gs->reject_request(user, rq.group(), rq.user());
        return text(user, "rejected " + rq.user() + " for " + rq.group());
      });
    },
    [=](list_groups_atom,
             const pb::ListGroups& rq) -> caf::result<pb::GroupList> {
      return guarded<pb::GroupList>(who, "list_groups",
                                    [&] { return list_groups(*gs, rq); });
    },
    [=](list_files_atom,
             const pb::ListFiles& rq) -> caf::result<pb::NameList> {
      return guarded<pb::NameList>(who, "list_files", [&] {
        return names(gs->files(gs->user_of(rq.token()), rq.group()));
      });
    },
    [=](share_atom, const pb::Share& rq) -> text_result {
      return guarded<pb::GroupText>(who, "share", [&] {
        auto user = gs->user_of(rq.token());
        gs->share(user, rq.group(), rq.name(), rq.peer_id());
        return text(user, "sharing " + rq.name() + " in " + rq.group());
      });
    },
    [=](unshare_atom, const pb::Unshare& rq) -> text_result {
      return guarded<pb::GroupText>(who, "unshare", [&] {
        auto user = gs->user_of(rq.token());
        auto ended = gs->unshare(user, rq.group(), rq.name());
        return after_withdraw(self, ended,
                              text(user, "stopped sharing " + rq.name()
                                           + " in " + rq.group()));
      });
    },
    [=](download_atom, const pb::GroupDownload& rq)
      -> caf::result<pb::FileInfo> {
      return guarded<pb::FileInfo>(who, "download",
                                   [&] { return download(self, rq); });
    },
    [=](ticket_key_atom) -> std::string { return gs->key().public_key; },
  };
}

} // namespace actorrent
