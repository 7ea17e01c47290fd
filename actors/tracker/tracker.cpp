#include "actors/tracker/tracker.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/log.hpp"
#include "actors/core/manifest.hpp"
#include "actors/tracker/guarded.hpp"

namespace actorrent {

namespace {

using tracker_ptr = tracker_local_actor::stateful_pointer<tracker_state>;

constexpr auto key_retry = std::chrono::milliseconds(250);
constexpr auto key_timeout = std::chrono::seconds(5);

caf::timespan offline_after(tracker_ptr self) {
  return std::chrono::milliseconds(self->state.opts.offline_ms);
}

// Starts or renews a peer's session. One expire timer per session is on its
// way at a time; it checks how long the peer has been silent when it fires.
void touch(tracker_ptr self, const std::string& peer) {
  auto& s = self->state.sessions[peer];
  s.last_seen = self->clock().now();
  if (!s.expiry_pending) {
    s.expiry_pending = true;
    self->delayed_send(self, offline_after(self), expire_atom::value, peer);
  }
}

// Renews a live session; false when the tracker has none for `peer`.
bool renew(tracker_ptr self, const std::string& peer) {
  if (self->state.sessions.count(peer) == 0)
    return false;
  touch(self, peer);
  return true;
}

// The expire timer: marks the peer offline once it has been silent for
// offline_ms, or waits for the rest of that time.
void expire(tracker_ptr self, const std::string& peer) {
  auto& sessions = self->state.sessions;
  auto i = sessions.find(peer);
  if (i == sessions.end())
    return;
  i->second.expiry_pending = false;
  auto silent = self->clock().now() - i->second.last_seen;
  if (silent < offline_after(self)) {
    i->second.expiry_pending = true;
    self->delayed_send(self, offline_after(self) - silent, expire_atom::value,
                       peer);
    return;
  }
  LOG_INFO("tracker", "peer " << peer << " missed its heartbeats: offline");
  sessions.erase(i);
  try {
    self->state.store->set_online(peer, false);
  } catch (...) {
    current_error("tracker", "marking " + peer + " offline");
  }
}

pb::AnnounceReply reply_of(tracker_state& st) {
  pb::AnnounceReply r;
  r.set_heartbeat_ms(st.opts.heartbeat_ms);
  r.set_public_key(st.public_key);
  return r;
}

// Records an announce (throws on a database failure).
pb::AnnounceReply announce_now(tracker_ptr self, const pb::Announce& msg) {
  auto& st = self->state;
  auto rejected = st.store->announce(msg);
  bool fresh = st.sessions.count(msg.peer_id()) == 0;
  touch(self, msg.peer_id());
  LOG_INFO("tracker", "peer " << msg.peer_id() << " at " << msg.host() << ":"
                              << msg.port()
                              << (fresh ? " joined" : " re-announced")
                              << " with " << msg.files_size() << " files");
  auto r = reply_of(st);
  for (auto& x : rejected) {
    LOG_WARN("tracker", "refused from " << msg.peer_id() << ": " << x);
    r.add_rejected(x);
  }
  return r;
}

// The ticket key is known: answers the announces that waited for it.
void key_known(tracker_ptr self, std::string key) {
  auto& st = self->state;
  st.public_key = std::move(key);
  LOG_INFO("tracker", "ticket key received from the group manager");
  auto waiting = std::move(st.waiting);
  st.waiting.clear();
  for (auto& [peer, entry] : waiting)
    deliver_guarded(entry.second, "tracker", "announce of " + peer,
                    [&] { return announce_now(self, entry.first); });
}

// Asks the group manager for the ticket key; on failure asks again later.
// At most one request or retry timer is on its way.
void ask_key(tracker_ptr self) {
  auto& st = self->state;
  if (!st.public_key.empty() || !st.opts.groups || st.asking_key)
    return;
  st.asking_key = true;
  auto retry = [self](const std::string& why) {
    LOG_DEBUG("tracker", "no ticket key yet (" << why << "), asking again");
    self->delayed_send(self, key_retry, ticket_key_atom::value);
  };
  auto ptr = st.opts.groups->get();
  if (!ptr) {
    retry("group manager not running");
    return;
  }
  self
    ->request(caf::actor_cast<group_manager_actor>(ptr), key_timeout,
              ticket_key_atom::value)
    .then(
      [self, retry](std::string& key) {
        self->state.asking_key = false;
        if (key.empty()) {
          self->state.asking_key = true;
          retry("empty key");
          return;
        }
        key_known(self, std::move(key));
      },
      [retry](caf::error& err) { retry(render(err)); });
}

// An announce before the ticket key is known waits for it (a newer one from
// the same peer replaces it).
caf::result<pb::AnnounceReply> announce_later(tracker_ptr self,
                                              const pb::Announce& msg) {
  auto rp = self->make_response_promise<pb::AnnounceReply>();
  auto& entry = self->state.waiting[msg.peer_id()];
  if (entry.second.pending())
    entry.second.deliver(make_error(errc::tracker_unavailable,
                                    "superseded by a newer announce"));
  entry = {msg, rp};
  ask_key(self);
  return rp;
}

// An announce must say where the peer serves its pieces.
caf::error check_announce(const pb::Announce& msg) {
  if (msg.peer_id().empty() || msg.host().empty() || msg.port() == 0
      || msg.port() > 65535)
    return make_error(errc::bad_message,
                      "announce needs peer_id, host and port");
  return caf::none;
}

} // namespace

tracker_local_actor::behavior_type
tracker(tracker_local_actor::stateful_pointer<tracker_state> self,
        tracker_options opts) {
  auto& st = self->state;
  st.opts = std::move(opts);
  try {
    st.store = open_catalog_store(st.opts.db);
    st.store->set_all_offline();
  } catch (std::exception& e) {
    LOG_ERROR("tracker", e.what());
    self->quit(make_error(errc::io_failure, e.what()));
    return tracker_local_actor::behavior_type::make_empty_behavior();
  }
  LOG_INFO("tracker", "started, catalog " << st.opts.db);
  ask_key(self);
  auto store = [self] { return self->state.store.get(); };
  return {
    [=](announce_atom, const pb::Announce& msg)
      -> caf::result<pb::AnnounceReply> {
      if (auto err = check_announce(msg))
        return err;
      if (self->state.opts.groups && self->state.public_key.empty())
        return announce_later(self, msg);
      return guarded<pb::AnnounceReply>("tracker", "announce",
                                        [&] { return announce_now(self, msg); });
    },
    [=](heartbeat_atom, const pb::Heartbeat& msg)
      -> caf::result<pb::AnnounceReply> {
      if (!renew(self, msg.peer_id()))
        return make_error(errc::unknown_peer, msg.peer_id());
      return reply_of(self->state);
    },
    [=](have_atom, const pb::Have& msg) -> caf::result<caf::ok_atom> {
      if (!renew(self, msg.peer_id()))
        return make_error(errc::unknown_peer, msg.peer_id());
      std::string why;
      if (!valid_name(msg.name(), why))
        return make_error(errc::bad_name, why);
      return guarded<caf::ok_atom>("tracker", "have", [&] {
        store()->have(msg);
        return caf::ok_atom::value;
      });
    },
    [=](leave_atom, const pb::Leave& msg) -> caf::result<caf::ok_atom> {
      return guarded<caf::ok_atom>("tracker", "leave", [&] {
        store()->leave(msg.peer_id(), msg.name());
        if (msg.name().empty()) {
          self->state.sessions.erase(msg.peer_id());
          LOG_INFO("tracker", "peer " << msg.peer_id() << " left");
        } else {
          LOG_INFO("tracker", "peer " << msg.peer_id() << " stopped sharing "
                                      << msg.name());
        }
        return caf::ok_atom::value;
      });
    },
    [=](list_atom, const pb::FileQuery&) -> caf::result<pb::FileList> {
      return guarded<pb::FileList>("tracker", "list",
                                   [&] { return store()->list(); });
    },
    [=](info_atom, const pb::FileQuery& q) -> caf::result<pb::FileInfo> {
      std::string why;
      if (!valid_name(q.name(), why))
        return make_error(errc::bad_name, why);
      if (is_group_key(q.name()))
        return make_error(errc::denied, "files of a group are only shown to"
                                        " its members (download_file)");
      return guarded<pb::FileInfo>("tracker", "info",
                                   [&]() -> caf::result<pb::FileInfo> {
        auto info = store()->info(q.name());
        if (!info)
          return make_error(errc::unknown_file, q.name());
        return std::move(*info);
      });
    },
    [=](info_atom, const pb::GroupFile& f) -> caf::result<pb::FileInfo> {
      auto key = group_key(f.group(), f.name());
      return guarded<pb::FileInfo>("tracker", "info " + key,
                                   [&]() -> caf::result<pb::FileInfo> {
        auto info = store()->info(key);
        if (!info)
          return make_error(errc::unknown_file,
                            f.name() + " is not shared in " + f.group());
        return std::move(*info);
      });
    },
    [=](leave_atom, const pb::Withdraw& w) -> caf::result<caf::ok_atom> {
      return guarded<caf::ok_atom>("tracker", "withdraw", [&] {
        for (auto& h : w.holdings()) {
          store()->leave(h.peer_id(), group_key(h.group(), h.name()));
          LOG_INFO("tracker", "peer " << h.peer_id() << " no longer serves "
                                      << h.group() << "/" << h.name());
        }
        return caf::ok_atom::value;
      });
    },
    [=](expire_atom, const std::string& peer) { expire(self, peer); },
    [=](ticket_key_atom) {
      self->state.asking_key = false;
      ask_key(self);
    },
  };
}

} // namespace actorrent
