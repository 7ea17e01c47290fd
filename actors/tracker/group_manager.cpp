#include "actors/tracker/group_manager.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/limits.hpp"
#include "actors/core/log.hpp"
#include "actors/core/manifest.hpp"
#include "actors/tracker/guarded.hpp"

namespace actorrent {

namespace {

constexpr const char* who = "group_manager";

// An outcome for humans, logged.
pb::GroupText text(const std::string& user, const std::string& what) {
  LOG_INFO(who, what);
  pb::GroupText out;
  out.set_user(user);
  out.set_text(what);
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

bool group_manager_state::init(group_manager_options o) {
  opts = std::move(o);
  try {
    if (!opts.unix_time)
      throw std::invalid_argument("no clock for ticket expiry");
    groups = open_group_store(opts.db, opts.random);
  } catch (std::exception& e) {
    LOG_ERROR(who, e.what());
    self_->quit(make_error(errc::io_failure, e.what()));
    return false;
  }
  return true;
}

template <class T, class Request, class F>
caf::result<T> group_manager_state::as_user(const char* what,
                                            const Request& rq, F f) {
  if (auto too_large = check_sizes(rq); !too_large.empty())
    return make_error(errc::bad_message, too_large);
  return guarded<T>(who, what, [&] { return f(groups->user_of(rq.token())); });
}

tracker_local_actor group_manager_state::catalog() const {
  auto& slot = opts.tracker;
  return caf::actor_cast<tracker_local_actor>(slot ? slot->get() : nullptr);
}

// Without a tracker (restarting) there is nothing to withdraw from: a
// restarted tracker knows only what peers announce again.
caf::result<pb::GroupText>
group_manager_state::after_withdraw(const std::vector<group_share>& ended,
                                    pb::GroupText reply) {
  auto tracker = catalog();
  if (ended.empty() || !tracker)
    return reply;
  pb::Withdraw w;
  for (auto& s : ended) {
    auto& h = *w.add_holdings();
    h.set_peer_id(s.peer_id);
    h.set_group(s.group);
    h.set_name(s.name);
  }
  auto rp = self_->make_response_promise<pb::GroupText>();
  self_->request(tracker, opts.tracker_timeout, leave_atom::value, w)
    .then([rp, reply](caf::ok_atom) mutable { rp.deliver(reply); },
          [rp, reply](caf::error& err) mutable {
            LOG_WARN(who, "withdrawing from the catalog: " << render(err));
            rp.deliver(reply);
          });
  return rp;
}

// Membership is checked before the catalog is asked and again when the
// ticket is signed.
caf::result<pb::FileInfo>
group_manager_state::download_now(const pb::GroupDownload& rq) {
  auto user = groups->user_of(rq.token());
  groups->require_member(user, rq.group());
  if (!groups->is_shared(rq.group(), rq.name()))
    throw refusal(errc::unknown_file,
                  rq.name() + " is not shared in " + rq.group());
  auto tracker = catalog();
  if (!tracker)
    return make_error(errc::no_such_actor, "the tracker is restarting");
  pb::GroupFile f;
  f.set_group(rq.group());
  f.set_name(rq.name());
  auto rp = self_->make_response_promise<pb::FileInfo>();
  self_->request(tracker, opts.tracker_timeout, info_atom::value, f)
    .then(
      [self = self_, rp, user, f](pb::FileInfo& info) mutable {
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

caf::result<pb::GroupText>
group_manager_state::create_user(const pb::CreateUser& rq) {
  if (auto too_large = check_sizes(rq); !too_large.empty())
    return make_error(errc::bad_message, too_large);
  return guarded<pb::GroupText>(who, "create_user", [&] {
    groups->create_user(rq.user(), rq.password());
    return text(rq.user(), "created user " + rq.user());
  });
}

caf::result<pb::LoginReply> group_manager_state::login(const pb::Login& rq) {
  if (auto too_large = check_sizes(rq); !too_large.empty())
    return make_error(errc::bad_message, too_large);
  return guarded<pb::LoginReply>(who, "login", [&] {
    pb::LoginReply out;
    out.set_token(groups->login(rq.user(), rq.password()));
    out.set_user(rq.user());
    out.set_text(text(rq.user(), "logged in as " + rq.user()).text());
    return out;
  });
}

caf::result<pb::GroupText> group_manager_state::logout(const pb::Logout& rq) {
  return as_user<pb::GroupText>("logout", rq, [&](const auto& user) {
    auto ended = groups->logout(rq.token());
    return after_withdraw(ended, text(user, "logged out " + user));
  });
}

caf::result<pb::GroupText>
group_manager_state::create_group(const pb::CreateGroup& rq) {
  return as_user<pb::GroupText>(
    "create_group", rq, [&](const auto& user) {
      groups->create_group(user, rq.group());
      return text(user, "created group " + rq.group() + ", owned by " + user);
    });
}

caf::result<pb::GroupText>
group_manager_state::join_group(const pb::JoinGroup& rq) {
  return as_user<pb::GroupText>("join_group", rq, [&](const auto& user) {
    groups->join_group(user, rq.group());
    return text(user, "asked to join " + rq.group());
  });
}

caf::result<pb::GroupText>
group_manager_state::leave_group(const pb::LeaveGroup& rq) {
  return as_user<pb::GroupText>(
    "leave_group", rq, [&](const auto& user) {
      auto ended = shares_in(*groups, user, rq.group());
      auto what = groups->leave_group(user, rq.group());
      return after_withdraw(ended, text(user, "left " + rq.group()
                                                + (what.empty() ? ""
                                                                : "; " + what)));
    });
}

caf::result<pb::NameList>
group_manager_state::list_requests(const pb::ListRequests& rq) {
  return as_user<pb::NameList>(
    "list_requests", rq, [&](const auto& user) {
      return names(groups->list_requests(user, rq.group()));
    });
}

caf::result<pb::GroupText>
group_manager_state::accept_request(const pb::AcceptRequest& rq) {
  return as_user<pb::GroupText>(
    "accept_request", rq, [&](const auto& user) {
      groups->accept_request(user, rq.group(), rq.user());
      return text(user, rq.user() + " is now a member of " + rq.group());
    });
}

caf::result<pb::GroupText>
group_manager_state::reject_request(const pb::RejectRequest& rq) {
  return as_user<pb::GroupText>(
    "reject_request", rq, [&](const auto& user) {
      groups->reject_request(user, rq.group(), rq.user());
      return text(user, "rejected " + rq.user() + " for " + rq.group());
    });
}

caf::result<pb::GroupList>
group_manager_state::list_groups(const pb::ListGroups& rq) {
  return as_user<pb::GroupList>(
    "list_groups", rq, [&](const auto& user) {
      pb::GroupList out;
      for (auto& g : groups->list_groups(user)) {
        auto& e = *out.add_groups();
        e.set_name(g.name);
        e.set_owner(g.owner);
        e.set_members(static_cast<uint32_t>(g.members));
        e.set_member(g.member);
      }
      return out;
    });
}

caf::result<pb::NameList>
group_manager_state::list_files(const pb::ListFiles& rq) {
  return as_user<pb::NameList>("list_files", rq, [&](const auto& user) {
    return names(groups->files(user, rq.group()));
  });
}

// The catalog permits the peer to hold the file before the share is
// recorded: a peer announces a group file only after its share succeeded.
caf::result<pb::GroupText> group_manager_state::share(const pb::Share& rq) {
  return as_user<pb::GroupText>(
    "share", rq, [&](const auto& user) -> caf::result<pb::GroupText> {
      std::string why;
      if (!valid_name(rq.name(), why))
        throw refusal(errc::bad_name, why);
      groups->require_member(user, rq.group());
      auto tracker = catalog();
      if (!tracker)
        return make_error(errc::no_such_actor, "the tracker is restarting");
      pb::GroupHolding h;
      h.set_peer_id(rq.peer_id());
      h.set_group(rq.group());
      h.set_name(rq.name());
      h.set_session(rq.peer_session());
      auto rp = self_->make_response_promise<pb::GroupText>();
      self_->request(tracker, opts.tracker_timeout, share_atom::value, h)
        .then(
          [self = self_, rp, user, rq](caf::ok_atom) mutable {
            deliver_guarded(rp, who, "share", [&] {
              self->state.groups->share(user, rq.group(), rq.name(),
                                        rq.peer_id());
              return text(user, "sharing " + rq.name() + " in " + rq.group());
            });
          },
          [rp](caf::error& err) mutable { rp.deliver(err); });
      return rp;
    });
}

caf::result<pb::GroupText> group_manager_state::unshare(const pb::Unshare& rq) {
  return as_user<pb::GroupText>("unshare", rq, [&](const auto& user) {
    auto ended = groups->unshare(user, rq.group(), rq.name());
    return after_withdraw(ended, text(user, "stopped sharing " + rq.name()
                                              + " in " + rq.group()));
  });
}

caf::result<pb::FileInfo>
group_manager_state::download(const pb::GroupDownload& rq) {
  if (auto too_large = check_sizes(rq); !too_large.empty())
    return make_error(errc::bad_message, too_large);
  return guarded<pb::FileInfo>(who, "download",
                               [&] { return download_now(rq); });
}

std::string group_manager_state::ticket_key() const {
  return groups->key().public_key;
}

group_manager_actor::behavior_type
group_manager(group_manager_actor::stateful_pointer<group_manager_state> self,
              group_manager_options opts) {
  if (!self->state.init(std::move(opts)))
    return group_manager_actor::behavior_type::make_empty_behavior();
  return {
    [=](create_user_atom, const pb::CreateUser& rq) {
      return self->state.create_user(rq);
    },
    [=](login_atom, const pb::Login& rq) { return self->state.login(rq); },
    [=](logout_atom, const pb::Logout& rq) { return self->state.logout(rq); },
    [=](create_group_atom, const pb::CreateGroup& rq) {
      return self->state.create_group(rq);
    },
    [=](join_group_atom, const pb::JoinGroup& rq) {
      return self->state.join_group(rq);
    },
    [=](leave_group_atom, const pb::LeaveGroup& rq) {
      return self->state.leave_group(rq);
    },
    [=](list_requests_atom, const pb::ListRequests& rq) {
      return self->state.list_requests(rq);
    },
    [=](accept_atom, const pb::AcceptRequest& rq) {
      return self->state.accept_request(rq);
    },
    [=](reject_atom, const pb::RejectRequest& rq) {
      return self->state.reject_request(rq);
    },
    [=](list_groups_atom, const pb::ListGroups& rq) {
      return self->state.list_groups(rq);
    },
    [=](list_files_atom, const pb::ListFiles& rq) {
      return self->state.list_files(rq);
    },
    [=](share_atom, const pb::Share& rq) { return self->state.share(rq); },
    [=](unshare_atom, const pb::Unshare& rq) {
      return self->state.unshare(rq);
    },
    [=](download_atom, const pb::GroupDownload& rq) {
      return self->state.download(rq);
    },
    [=](ticket_key_atom) { return self->state.ticket_key(); },
  };
}

} // namespace actorrent
