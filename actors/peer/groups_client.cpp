#include "actors/peer/groups_client.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/log.hpp"
#include "actors/peer/peer.hpp"

namespace actorrent {

namespace {

pb::GroupRequest make_request(const char* op, const std::string& group = {},
                              const std::string& name = {}) {
  pb::GroupRequest rq;
  rq.set_op(op);
  rq.set_group(group);
  rq.set_name(name);
  return rq;
}

} // namespace

groups_client::groups_client(peer_self self) : self_(self) {
}

groups_client::reply
groups_client::call(pb::GroupRequest rq,
                    std::function<pb::PeerReply(pb::GroupReply&)> on_ok,
                    std::function<void()> on_fail) {
  auto& st = self_->state;
  if (auto err = st.tracker.unavailable()) {
    if (on_fail)
      on_fail();
    return make_reply(1, render(err));
  }
  if (rq.op() != "create_user" && rq.op() != "login") {
    if (token_.empty()) {
      if (on_fail)
        on_fail();
      return make_reply(1, "not logged in: login USER PASSWORD first");
    }
    rq.set_token(token_);
  }
  auto rp = self_->make_response_promise<pb::PeerReply>();
  self_
    ->request(caf::actor_cast<group_actor>(st.tracker.handle()),
              std::chrono::milliseconds(st.opts.group_timeout_ms),
              group_atom::value, rq)
    .then([rp, on_ok](pb::GroupReply& r) mutable { rp.deliver(on_ok(r)); },
          [rp, on_fail](const caf::error& err) mutable {
            if (on_fail)
              on_fail();
            rp.deliver(make_reply(1, render(err)));
          });
  return rp;
}

groups_client::reply groups_client::call_text(pb::GroupRequest rq) {
  return call(std::move(rq),
              [](pb::GroupReply& r) { return make_reply(0, r.text()); });
}

void groups_client::register_share(const std::string& group,
                                   const std::string& name) {
  auto rq = make_request("share", group, name);
  rq.set_token(token_);
  rq.set_peer_id(self_->state.peer_id);
  self_
    ->request(caf::actor_cast<group_actor>(self_->state.tracker.handle()),
              std::chrono::milliseconds(self_->state.opts.group_timeout_ms),
              group_atom::value, rq)
    .then([](const pb::GroupReply&) {},
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
  auto rq = make_request("create_user");
  rq.set_user(c.user());
  rq.set_password(c.password());
  return call_text(std::move(rq));
}

groups_client::reply groups_client::login(const pb::Credentials& c) {
  if (!token_.empty())
    return make_reply(1, "already logged in as " + user_);
  auto rq = make_request("login");
  rq.set_user(c.user());
  rq.set_password(c.password());
  return call(std::move(rq), [this](pb::GroupReply& r) {
    user_ = r.user();
    token_ = r.token();
    auto out = make_reply(0, r.text());
    reshare(out);
    self_->state.tracker.announce();
    return out;
  });
}

groups_client::reply groups_client::logout() {
  return call(make_request("logout"), [this](pb::GroupReply& r) {
    unshare_local("");
    user_.clear();
    token_.clear();
    self_->state.tracker.announce();
    return make_reply(0, r.text());
  });
}

groups_client::reply groups_client::create_group(const std::string& group) {
  return call_text(make_request("create_group", group));
}

groups_client::reply groups_client::join_group(const std::string& group) {
  return call_text(make_request("join_group", group));
}

groups_client::reply groups_client::leave_group(const std::string& group) {
  return call(make_request("leave_group", group),
              [this, group](pb::GroupReply& r) {
                unshare_local(group);
                self_->state.store->remove_group_share(user_, group, "");
                self_->state.tracker.announce();
                return make_reply(0, r.text());
              });
}

groups_client::reply groups_client::list_requests(const std::string& group) {
  return call(make_request("list_requests", group), [](pb::GroupReply& r) {
    auto out = make_reply(0);
    *out.mutable_items() = r.items();
    return out;
  });
}

groups_client::reply groups_client::list_files(const std::string& group) {
  return call(make_request("list_files", group), [](pb::GroupReply& r) {
    auto out = make_reply(0);
    *out.mutable_items() = r.items();
    return out;
  });
}

groups_client::reply groups_client::decide(const pb::GroupUserArg& rq,
                                           bool accept) {
  auto req = make_request(accept ? "accept_request" : "reject_request",
                          rq.group());
  req.set_user(rq.user());
  return call_text(std::move(req));
}

groups_client::reply groups_client::list_groups() {
  return call(make_request("list_groups"), [](pb::GroupReply& r) {
    auto out = make_reply(0);
    for (auto& item : r.items()) {
      std::istringstream in{item};
      std::string mine;
      uint32_t members = 0;
      auto& g = *out.add_groups();
      in >> *g.mutable_name() >> *g.mutable_owner() >> members >> mine;
      g.set_members(members);
      g.set_member(mine == "member");
    }
    return out;
  });
}

groups_client::reply groups_client::upload_file(const pb::GroupFileArg& rq) {
  auto& st = self_->state;
  auto path = absolute(rq.path());
  auto name = base_name(path);
  auto group = rq.group();
  auto key = group_key(group, name);
  std::string why, sha;
  if (!st.shares.share(path, key, group, why, &sha))
    return make_reply(1, "cannot upload " + rq.path() + ": " + why);
  auto req = make_request("share", group, name);
  req.set_peer_id(st.peer_id);
  return call(
    std::move(req),
    [this, group, name, path, sha](pb::GroupReply&) {
      self_->state.store->add_group_share({user_, group, name, path, sha});
      self_->state.tracker.announce();
      return make_reply(0, "uploaded " + name + " to " + group + " ("
                             + hex(sha).substr(0, 16) + "...)");
    },
    [this, key] { self_->state.lib->remove(key); });
}

groups_client::reply groups_client::download_file(const pb::GroupFileArg& rq) {
  auto& st = self_->state;
  auto group = rq.group();
  auto name = rq.name();
  if (!st.env.io->make_dirs(rq.dest()))
    return make_reply(1, "cannot create directory " + rq.dest());
  auto dest = absolute(rq.dest());
  auto key = group_key(group, name);
  if (st.downloads.active(key))
    return make_reply(0, name + ": already downloading");
  if (st.lib->contains(key))
    return make_reply(0, name + ": already held by this peer");
  return call(make_request("download", group, name),
              [this, group, name, dest, key](pb::GroupReply& r) {
                auto& st = self_->state;
                if (auto err = st.downloads.start(key, dest); !err.empty())
                  return make_reply(1, name + ": " + err);
                // A member who downloads shares at once, piece by piece.
                st.store->add_group_share({user_, group, name,
                                           dest + "/" + name,
                                           r.info().manifest().file_sha256()});
                register_share(group, name);
                return make_reply(0, "downloading " + name + " from " + group
                                       + " to " + dest);
              });
}

groups_client::reply groups_client::stop_share(const pb::GroupFileArg& rq) {
  auto key = group_key(rq.group(), rq.name());
  return call(make_request("unshare", rq.group(), rq.name()),
              [this, rq, key](pb::GroupReply& r) {
                self_->state.lib->remove(key);
                self_->state.store->remove_group_share(user_, rq.group(),
                                                       rq.name());
                self_->state.tracker.announce();
                return make_reply(0, r.text());
              });
}

caf::result<pb::FileInfo> groups_client::info(const std::string& group,
                                              const std::string& name) {
  if (token_.empty())
    return make_error(errc::not_logged_in, "log in to download " + name);
  auto rq = make_request("download", group, name);
  rq.set_token(token_);
  auto rp = self_->make_response_promise<pb::FileInfo>();
  self_
    ->request(caf::actor_cast<group_actor>(self_->state.tracker.handle()),
              std::chrono::milliseconds(self_->state.opts.group_timeout_ms),
              group_atom::value, rq)
    .then([rp](pb::GroupReply& r) mutable {
            rp.deliver(std::move(*r.mutable_info()));
          },
          [rp](const caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

} // namespace actorrent
