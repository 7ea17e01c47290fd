#include "actors/peer/groups_client.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/log.hpp"
#include "actors/peer/peer.hpp"
#include "actors/tracker/group_client.hpp"

namespace actorrent {

groups_client::groups_client(peer_self self) : self_(self) {
}

template <class Request, class OnOk>
groups_client::reply groups_client::call(const Request& rq, OnOk on_ok,
                                         std::function<void()> on_fail) {
  using op = group_op<Request>;
  return call_then(
    rq,
    [on_ok](typename op::reply& r,
            caf::typed_response_promise<pb::PeerReply>& rp) mutable {
      rp.deliver(on_ok(r));
    },
    std::move(on_fail));
}

template <class Request, class OnOk>
groups_client::reply groups_client::call_then(const Request& rq, OnOk on_ok,
                                              std::function<void()> on_fail) {
  using op = group_op<Request>;
  auto& st = self_->state;
  if (auto err = st.tracker.unavailable()) {
    if (on_fail)
      on_fail();
    return make_reply(1, render(err));
  }
  auto rp = self_->make_response_promise<pb::PeerReply>();
  self_
    ->request(caf::actor_cast<group_actor>(st.tracker.handle()),
              std::chrono::milliseconds(st.opts.group_timeout_ms),
              typename op::atom{}, rq)
    .then(
      [rp, on_ok](typename op::reply& r) mutable { on_ok(r, rp); },
      [rp, on_fail](const caf::error& err) mutable {
        if (on_fail)
          on_fail();
        rp.deliver(make_reply(1, render(err)));
      });
  return rp;
}

template <class Request>
groups_client::reply groups_client::call_text(const Request& rq) {
  return call(rq, [](pb::GroupText& r) { return make_reply(0, r.text()); });
}

template <class Request>
bool groups_client::with_session(Request& rq, reply& refusal) {
  if (token_.empty()) {
    refusal = make_reply(1, "not logged in: login USER PASSWORD first");
    return false;
  }
  rq.set_token(token_);
  return true;
}

// The commands that need a session, a request of type R filled by `fill`,
// answered with what the group manager did.
#define ACTORRENT_SESSION(R, fill)                                             \
  pb::R rq;                                                                    \
  reply refusal = make_reply(1);                                               \
  if (!with_session(rq, refusal))                                              \
    return refusal;                                                            \
  fill

void groups_client::register_share(const std::string& group,
                                   const std::string& name) {
  pb::Share rq;
  rq.set_token(token_);
  rq.set_group(group);
  rq.set_name(name);
  rq.set_peer_id(self_->state.peer_id);
  rq.set_peer_session(self_->state.tracker.session_token());
  self_
    ->request(caf::actor_cast<group_actor>(self_->state.tracker.handle()),
              std::chrono::milliseconds(self_->state.opts.group_timeout_ms),
              share_atom::value, rq)
    .then([this](const pb::GroupText&) { self_->state.tracker.announce(); },
          [name](const caf::error& err) {
            LOG_WARN("peer", "share " << name << ": " << render(err));
          });
}

void groups_client::unshare_local(const std::string& group) {
  auto& st = self_->state;
  for (auto& g : st.store->group_shares(user_))
    if (group.empty() || g.group == group)
      st.lib->remove(group_key(g.group, g.name));
}

void groups_client::reshare(pb::PeerReply& out) {
  auto& st = self_->state;
  for (auto& g : st.store->group_shares(user_)) {
    std::string why, sha;
    auto key = group_key(g.group, g.name);
    auto what = g.group + "/" + g.name;
    if (!st.shares.share(g.path, key, g.group, why, &sha)) {
      out.add_lines("not shared, missing: " + what + " (" + why + ")");
    } else if (sha != g.file_sha256) {
      st.lib->remove(key);
      out.add_lines("not shared, changed on disk: " + what + " (" + g.path
                    + ")");
    } else {
      register_share(g.group, g.name);
      out.add_lines("sharing again: " + what);
    }
  }
}

groups_client::reply groups_client::create_user(const pb::Credentials& c) {
  pb::CreateUser rq;
  rq.set_user(c.user());
  rq.set_password(c.password());
  return call_text(rq);
}

groups_client::reply groups_client::login(const pb::Credentials& c) {
  if (!token_.empty())
    return make_reply(1, "already logged in as " + user_);
  pb::Login rq;
  rq.set_user(c.user());
  rq.set_password(c.password());
  return call(rq, [this](pb::LoginReply& r) {
    user_ = r.user();
    token_ = r.token();
    auto out = make_reply(0, r.text());
    reshare(out);
    self_->state.tracker.announce();
    return out;
  });
}

groups_client::reply groups_client::logout() {
  ACTORRENT_SESSION(Logout, );
  return call(rq, [this](pb::GroupText& r) {
    unshare_local("");
    user_.clear();
    token_.clear();
    self_->state.tracker.announce();
    return make_reply(0, r.text());
  });
}

groups_client::reply groups_client::create_group(const std::string& group) {
  ACTORRENT_SESSION(CreateGroup, rq.set_group(group));
  return call_text(rq);
}

groups_client::reply groups_client::join_group(const std::string& group) {
  ACTORRENT_SESSION(JoinGroup, rq.set_group(group));
  return call_text(rq);
}

groups_client::reply groups_client::leave_group(const std::string& group) {
  ACTORRENT_SESSION(LeaveGroup, rq.set_group(group));
  return call(rq, [this, group](pb::GroupText& r) {
    unshare_local(group);
    self_->state.store->remove_group_share(user_, group, "");
    self_->state.tracker.announce();
    return make_reply(0, r.text());
  });
}

namespace {

pb::PeerReply names_reply(pb::NameList& r) {
  auto out = make_reply(0);
  *out.mutable_items() = std::move(*r.mutable_names());
  return out;
}

} // namespace

groups_client::reply groups_client::list_requests(const std::string& group) {
  ACTORRENT_SESSION(ListRequests, rq.set_group(group));
  return call(rq, names_reply);
}

groups_client::reply groups_client::list_files(const std::string& group) {
  ACTORRENT_SESSION(ListFiles, rq.set_group(group));
  return call(rq, names_reply);
}

groups_client::reply groups_client::decide(const pb::GroupUserArg& arg,
                                           bool accept) {
  if (accept) {
    ACTORRENT_SESSION(AcceptRequest, rq.set_group(arg.group());
                      rq.set_user(arg.user()));
    return call_text(rq);
  }
  ACTORRENT_SESSION(RejectRequest, rq.set_group(arg.group());
                    rq.set_user(arg.user()));
  return call_text(rq);
}

groups_client::reply groups_client::list_groups() {
  ACTORRENT_SESSION(ListGroups, );
  return call(rq, [](pb::GroupList& r) {
    auto out = make_reply(0);
    *out.mutable_groups() = std::move(*r.mutable_groups());
    return out;
  });
}

groups_client::reply groups_client::upload_file(const pb::GroupFileArg& arg) {
  auto& st = self_->state;
  auto path = absolute(arg.path());
  auto name = base_name(path);
  auto group = arg.group();
  auto key = group_key(group, name);
  ACTORRENT_SESSION(Share, rq.set_group(group); rq.set_name(name);
                    rq.set_peer_id(st.peer_id);
                    rq.set_peer_session(st.tracker.session_token()));
  std::string why, sha;
  if (!st.shares.share(path, key, group, why, &sha))
    return make_reply(1, "cannot upload " + arg.path() + ": " + why);
  // Uploaded once the tracker took the file in: its refusal (say, another
  // member shares a different file of that name) is the command's failure.
  return call_then(
    rq,
    [this, group, name, path, sha, key](pb::GroupText&, auto& rp) {
      self_->state.tracker.announce(
        [this, group, name, path, sha, key,
         rp](const caf::expected<pb::AnnounceReply>& r) mutable {
          auto why = !r ? render(r.error()) : std::string{};
          if (r)
            for (auto& x : r->rejected())
              if (x.compare(0, key.size() + 1, key + ":") == 0)
                why = x;
          if (!why.empty()) {
            self_->state.lib->remove(key);
            rp.deliver(make_reply(1, "upload of " + name + " to " + group
                                       + " refused by the tracker: " + why));
            return;
          }
          self_->state.store->add_group_share({user_, group, name, path, sha});
          rp.deliver(make_reply(0, "uploaded " + name + " to " + group + " ("
                                     + hex(sha).substr(0, 16) + "...)"));
        });
    },
    [this, key] { self_->state.lib->remove(key); });
}

groups_client::reply
groups_client::download_file(const pb::GroupFileArg& arg) {
  auto& st = self_->state;
  auto group = arg.group();
  auto name = arg.name();
  ACTORRENT_SESSION(GroupDownload, rq.set_group(group); rq.set_name(name));
  if (!st.env.io->make_dirs(arg.dest()))
    return make_reply(1, "cannot create directory " + arg.dest());
  auto dest = absolute(arg.dest());
  auto key = group_key(group, name);
  if (st.downloads.active(key))
    return make_reply(0, name + ": already downloading");
  if (st.lib->contains(key))
    return make_reply(0, name + ": already held by this peer");
  return call(rq, [this, group, name, dest, key](pb::FileInfo& info) {
    auto& st = self_->state;
    // Asked twice before the first answer came: one download only.
    if (st.downloads.active(key) || st.lib->contains(key))
      return make_reply(0, name + ": already downloading");
    if (auto err = st.downloads.start(key, dest); !err.empty())
      return make_reply(1, name + ": " + err);
    // A member who downloads shares at once, piece by piece.
    st.store->add_group_share({user_, group, name, dest + "/" + name,
                               info.manifest().file_sha256()});
    register_share(group, name);
    return make_reply(0, "downloading " + name + " from " + group + " to "
                           + dest);
  });
}

groups_client::reply groups_client::stop_share(const pb::GroupFileArg& arg) {
  auto key = group_key(arg.group(), arg.name());
  ACTORRENT_SESSION(Unshare, rq.set_group(arg.group()); rq.set_name(arg.name()));
  return call(rq, [this, arg, key](pb::GroupText& r) {
    self_->state.lib->remove(key);
    self_->state.store->remove_group_share(user_, arg.group(), arg.name());
    self_->state.tracker.announce();
    return make_reply(0, r.text());
  });
}

caf::result<pb::FileInfo> groups_client::info(const std::string& group,
                                              const std::string& name) {
  if (token_.empty())
    return make_error(errc::not_logged_in, "log in to download " + name);
  pb::GroupDownload rq;
  rq.set_token(token_);
  rq.set_group(group);
  rq.set_name(name);
  auto rp = self_->make_response_promise<pb::FileInfo>();
  self_
    ->request(caf::actor_cast<group_actor>(self_->state.tracker.handle()),
              std::chrono::milliseconds(self_->state.opts.group_timeout_ms),
              download_atom::value, rq)
    .then([rp](pb::FileInfo& r) mutable { rp.deliver(std::move(r)); },
          [rp](const caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

} // namespace actorrent
