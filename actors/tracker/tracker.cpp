#include "actors/tracker/tracker.hpp"

#include <optional>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/identity.hpp"
#include "actors/core/log.hpp"
#include "actors/core/manifest.hpp"
#include "actors/store/refusal.hpp"
#include "actors/tracker/guarded.hpp"

namespace actorrent {

namespace {

constexpr auto key_retry = std::chrono::milliseconds(250);
constexpr auto key_timeout = std::chrono::seconds(5);

// An error for a message over the size limits, or none.
caf::error oversized(const char* what, const std::string& why) {
  if (why.empty())
    return caf::none;
  return make_error(errc::bad_message, std::string{what} + ": " + why);
}

// An announce must fit the limits and say where the peer serves its pieces.
caf::error check_announce(const pb::Announce& msg) {
  if (auto err = oversized("announce", check_sizes(msg)))
    return err;
  if (msg.peer_id().empty() || msg.host().empty() || msg.port() == 0
      || msg.port() > 65535)
    return make_error(errc::bad_message,
                      "announce needs peer_id, host and port");
  return caf::none;
}

// The announce without the files over the limits, each named in `rejected`
// with why; none when every file fits (no copy then).
std::optional<pb::Announce> drop_oversized(const pb::Announce& msg,
                                           const limits& l,
                                           std::vector<std::string>& rejected) {
  std::vector<bool> fits;
  for (int i = 0; i < msg.files_size(); ++i) {
    auto* h = i < msg.holdings_size() ? &msg.holdings(i) : nullptr;
    auto why = check_sizes(msg.files(i), h, l);
    fits.push_back(why.empty());
    if (!why.empty())
      rejected.push_back(msg.files(i).name() + ": " + why);
  }
  if (rejected.empty())
    return std::nullopt;
  pb::Announce out = msg;
  out.clear_files();
  out.clear_holdings();
  for (int i = 0; i < msg.files_size(); ++i)
    if (fits[static_cast<size_t>(i)]) {
      *out.add_files() = msg.files(i);
      auto& h = *out.add_holdings();
      if (i < msg.holdings_size())
        h = msg.holdings(i);
      else
        h.set_name(msg.files(i).name());
    }
  return out;
}

} // namespace

bool tracker_state::init(tracker_options o) {
  opts = std::move(o);
  try {
    store = open_catalog_store(opts.db, opts.id);
    store->set_all_offline();
  } catch (std::exception& e) {
    LOG_ERROR("tracker", e.what());
    self_->quit(make_error(errc::io_failure, e.what()));
    return false;
  }
  LOG_INFO("tracker", "started, catalog " << opts.db);
  started = self_->clock().now();
  ask_key();
  if (store->shared())
    alive();
  return true;
}

void tracker_state::alive() {
  self_->delayed_send(self_, std::chrono::milliseconds(opts.heartbeat_ms),
                      tick_atom::value);
  try {
    store->alive(2 * opts.offline_ms);
  } catch (...) {
    current_error("tracker", "recording that this tracker is alive");
  }
}

caf::timespan tracker_state::offline_after() const {
  return std::chrono::milliseconds(opts.offline_ms);
}

// One expire timer per session is on its way at a time; it checks how long
// the peer has been silent when it fires.
void tracker_state::touch(const std::string& peer) {
  auto& s = sessions[peer];
  s.last_seen = self_->clock().now();
  if (!s.expiry_pending) {
    s.expiry_pending = true;
    self_->delayed_send(self_, offline_after(), expire_atom::value, peer);
  }
}

bool tracker_state::proven(const std::string& peer, const std::string& token) {
  auto i = sessions.find(peer);
  if (i != sessions.end())
    return !token.empty() && i->second.token == token;
  if (token.empty() || !store->shared())
    return false;
  try {
    if (!store->adopt_session(peer, token))
      return false;
  } catch (...) {
    current_error("tracker", "taking over the session of " + peer);
    return false;
  }
  LOG_INFO("tracker", "peer " << peer << " continues its session here");
  sessions[peer].token = token;
  touch(peer);
  return true;
}

bool tracker_state::renew(const std::string& peer, const std::string& token) {
  if (!proven(peer, token))
    return false;
  touch(peer);
  return true;
}

// Expired challenges go first; when too many are still pending, the request
// is refused (the peer retries after its backoff).
caf::result<pb::Challenge> tracker_state::challenge() {
  auto now = self_->clock().now();
  if (!challenges.has_room(now, opts.max_challenges))
    return make_error(errc::tracker_unavailable, "too many pending challenges");
  pb::Challenge c;
  std::string nonce(32, '\0');
  opts.random(nonce.data(), nonce.size());
  challenges.add(nonce, now + opts.challenge_ttl);
  c.set_nonce(std::move(nonce));
  return c;
}

caf::error tracker_state::check_identity(const pb::Announce& msg) {
  if (!challenges.take(msg.nonce(), self_->clock().now()))
    return make_error(errc::denied, "announce without a valid challenge");
  if (auto why = check_announce_proof(msg); !why.empty())
    return make_error(errc::denied, why);
  return caf::none;
}

void tracker_state::expire(const std::string& peer) {
  auto i = sessions.find(peer);
  if (i == sessions.end())
    return;
  i->second.expiry_pending = false;
  auto silent = self_->clock().now() - i->second.last_seen;
  if (silent < offline_after()) {
    i->second.expiry_pending = true;
    self_->delayed_send(self_, offline_after() - silent, expire_atom::value,
                        peer);
    return;
  }
  LOG_INFO("tracker", "peer " << peer << " missed its heartbeats: offline");
  sessions.erase(i);
  try {
    store->set_offline(peer);
  } catch (...) {
    current_error("tracker", "marking " + peer + " offline");
  }
}

pb::AnnounceReply tracker_state::reply() const {
  pb::AnnounceReply r;
  r.set_heartbeat_ms(opts.heartbeat_ms);
  r.set_public_key(public_key);
  return r;
}

std::string tracker_state::token_for(const std::string& peer) {
  auto known = sessions.find(peer);
  if (known == sessions.end() || known->second.token.empty())
    return random_token(opts.random);
  return known->second.token;
}

pb::AnnounceReply tracker_state::record_announce(const pb::Announce& msg,
                                                 const std::string& token) {
  std::vector<std::string> rejected;
  auto fitting = drop_oversized(msg, opts.bounds, rejected);
  for (auto& x : store->announce(fitting ? *fitting : msg))
    rejected.push_back(std::move(x));
  // Shared catalog: other trackers can take the session over.
  if (store->shared())
    store->open_session(msg.peer_id(), token);
  auto r = reply();
  r.set_session(token);
  for (auto& x : rejected)
    r.add_rejected(x);
  return r;
}

void tracker_state::start_session(const pb::Announce& msg,
                                  const pb::AnnounceReply& r) {
  bool fresh = sessions.count(msg.peer_id()) == 0;
  touch(msg.peer_id());
  sessions[msg.peer_id()].token = r.session();
  LOG_INFO("tracker", "peer " << msg.peer_id() << " at " << msg.host() << ":"
                              << msg.port()
                              << (fresh ? " joined" : " re-announced")
                              << " with " << msg.files_size() << " files");
  for (auto& x : r.rejected())
    LOG_WARN("tracker", "refused from " << msg.peer_id() << ": " << x);
}

pb::AnnounceReply tracker_state::announce_now(const pb::Announce& msg) {
  auto r = record_announce(msg, token_for(msg.peer_id()));
  start_session(msg, r);
  return r;
}

template <class T, class F>
caf::result<T> tracker_state::write(const std::string& what, F f,
                                    std::function<void(const T&)> after) {
  if (!store->shared())
    return guarded<T>("tracker", what, [&] {
      auto x = f();
      if (after)
        after(x);
      return x;
    });
  auto rp = self_->make_response_promise<T>();
  auto out = std::make_shared<caf::expected<T>>(
    make_error(errc::io_failure, "not written"));
  batch.push_back(
    {[out, f, what]() mutable {
       try {
         *out = f();
       } catch (refusal&) {
         *out = current_error("tracker", what);
       }
     },
     [rp, out, after](const caf::error& failed) mutable {
       if (failed) {
         rp.deliver(failed);
       } else if (*out) {
         if (after)
           after(**out);
         rp.deliver(std::move(**out));
       } else {
         rp.deliver(out->error());
       }
     }});
  if (!batch_flush_sent) {
    batch_flush_sent = true;
    self_->send(self_, flush_atom::value);
  }
  return rp;
}

void tracker_state::commit_batch() {
  batch_flush_sent = false;
  if (batch.empty())
    return;
  auto writes = std::move(batch);
  batch.clear();
  caf::error failed;
  try {
    store->batch([&] {
      for (auto& w : writes)
        w.run();
    });
  } catch (...) {
    failed = current_error("tracker",
                           std::to_string(writes.size()) + " writes");
  }
  for (auto& w : writes)
    w.done(failed);
}

void tracker_state::key_known(std::string key) {
  public_key = std::move(key);
  LOG_INFO("tracker", "ticket key received from the group manager");
  auto answered = std::move(waiting);
  waiting.clear();
  for (auto& [peer, entry] : answered)
    deliver_guarded(entry.second, "tracker", "announce of " + peer,
                    [&] { return announce_now(entry.first); });
}

// At most one request or retry timer is on its way.
void tracker_state::ask_key() {
  if (!public_key.empty() || !opts.groups || asking_key)
    return;
  asking_key = true;
  auto retry = [self = self_](const std::string& why) {
    LOG_DEBUG("tracker", "no ticket key yet (" << why << "), asking again");
    self->delayed_send(self, key_retry, ticket_key_atom::value);
  };
  auto ptr = opts.groups->get();
  if (!ptr) {
    retry("group manager not running");
    return;
  }
  self_
    ->request(caf::actor_cast<group_manager_actor>(ptr), key_timeout,
              ticket_key_atom::value)
    .then(
      [self = self_, retry](std::string& key) {
        self->state.asking_key = false;
        if (key.empty()) {
          self->state.asking_key = true;
          retry("empty key");
          return;
        }
        self->state.key_known(std::move(key));
      },
      [retry](caf::error& err) { retry(render(err)); });
}

void tracker_state::retry_key() {
  asking_key = false;
  release_waiting();
  ask_key();
}

void tracker_state::release_waiting() {
  if (!waiting.empty() && self_->clock().now() - started >= opts.key_wait) {
    LOG_WARN("tracker", "no ticket key from the group manager yet: answering "
                          << waiting.size() << " announces without it");
    auto answered = std::move(waiting);
    waiting.clear();
    for (auto& [peer, entry] : answered)
      deliver_guarded(entry.second, "tracker", "announce of " + peer,
                      [&] { return announce_now(entry.first); });
  }
}

// A newer announce from the same peer replaces a waiting one.
caf::result<pb::AnnounceReply>
tracker_state::announce_later(const pb::Announce& msg) {
  auto rp = self_->make_response_promise<pb::AnnounceReply>();
  auto& entry = waiting[msg.peer_id()];
  if (entry.second.pending())
    entry.second.deliver(make_error(errc::tracker_unavailable,
                                    "superseded by a newer announce"));
  entry = {msg, rp};
  // Answered with the key, or without it once key_wait is over.
  self_->delayed_send(self_, started + opts.key_wait - self_->clock().now(),
                      flush_atom::value);
  ask_key();
  return rp;
}

caf::result<pb::AnnounceReply> tracker_state::announce(const pb::Announce& msg) {
  if (auto err = check_announce(msg))
    return err;
  if (auto err = check_identity(msg))
    return err;
  if (opts.groups && public_key.empty()
      && self_->clock().now() - started < opts.key_wait)
    return announce_later(msg);
  auto token = token_for(msg.peer_id());
  return write<pb::AnnounceReply>(
    "announce", [this, msg, token] { return record_announce(msg, token); },
    [this, msg](const pb::AnnounceReply& r) { start_session(msg, r); });
}

caf::result<pb::AnnounceReply>
tracker_state::heartbeat(const pb::Heartbeat& msg) {
  if (auto err = oversized("heartbeat", check_sizes(msg)))
    return err;
  if (!renew(msg.peer_id(), msg.session()))
    return make_error(errc::unknown_peer, msg.peer_id());
  return reply();
}

caf::result<caf::ok_atom> tracker_state::have(const pb::Have& msg) {
  if (auto err = oversized("have", check_sizes(msg, opts.bounds)))
    return err;
  if (!renew(msg.peer_id(), msg.session()))
    return make_error(errc::unknown_peer, msg.peer_id());
  std::string why;
  if (!valid_name(msg.name(), why))
    return make_error(errc::bad_name, why);
  return write<caf::ok_atom>("have", [this, msg] {
    store->have(msg);
    return caf::ok_atom::value;
  });
}

caf::result<caf::ok_atom> tracker_state::leave(const pb::Leave& msg) {
  if (auto err = oversized("leave", check_sizes(msg)))
    return err;
  if (!proven(msg.peer_id(), msg.session()))
    return make_error(errc::denied, "leave without the peer's session");
  return guarded<caf::ok_atom>("tracker", "leave", [&] {
    store->leave(msg.peer_id(), msg.name());
    if (msg.name().empty()) {
      sessions.erase(msg.peer_id());
      LOG_INFO("tracker", "peer " << msg.peer_id() << " left");
    } else {
      LOG_INFO("tracker", "peer " << msg.peer_id() << " stopped sharing "
                                  << msg.name());
    }
    return caf::ok_atom::value;
  });
}

caf::result<pb::FileList> tracker_state::list() {
  return guarded<pb::FileList>("tracker", "list",
                               [&] { return store->list(); });
}

caf::result<pb::FileInfo>
tracker_state::info_of(const std::string& key, const std::string& what,
                       const std::string& unknown, bool mirrors,
                       uint32_t want) {
  return guarded<pb::FileInfo>("tracker", what,
                               [&]() -> caf::result<pb::FileInfo> {
    // A random point among the peer ids ("p-" and hex): the window of
    // holders from there.
    std::string r(8, '\0');
    opts.random(r.data(), r.size());
    auto from = "p-" + hex(r);
    // The asker's bound when tighter than ours (0: none).
    auto bound = want > 0 && (opts.max_sources == 0 || want < opts.max_sources)
                   ? want
                   : opts.max_sources;
    auto info = store->info(key, bound, from);
    if (!info)
      return make_error(errc::unknown_file, unknown);
    if (mirrors)
      return with_mirrors(std::move(*info));
    return std::move(*info);
  });
}

caf::result<pb::FileInfo> tracker_state::info(const pb::FileQuery& q) {
  if (auto err = oversized("info", check_sizes(q)))
    return err;
  std::string why;
  if (!valid_name(q.name(), why))
    return make_error(errc::bad_name, why);
  if (is_group_key(q.name()))
    return make_error(errc::denied, "files of a group are only shown to"
                                    " its members (download_file)");
  return info_of(q.name(), "info", q.name(), true, q.want());
}

caf::result<pb::FileInfo> tracker_state::with_mirrors(pb::FileInfo info) {
  auto ptr = opts.placement ? opts.placement->get() : nullptr;
  if (!ptr)
    return info;
  // The file's mirrors join its peers as sources; without an answer from
  // placement in time the peers alone are the answer.
  auto rp = self_->make_response_promise<pb::FileInfo>();
  auto sha = info.manifest().file_sha256();
  auto shared = std::make_shared<pb::FileInfo>(std::move(info));
  self_->request(caf::actor_cast<placement_local_actor>(ptr),
                 std::chrono::seconds(2), sources_atom::value, sha)
    .then(
      [rp, shared](pb::FileInfo& mirrors) mutable {
        for (auto& s : *mirrors.mutable_sources())
          *shared->add_sources() = std::move(s);
        rp.deliver(std::move(*shared));
      },
      [rp, shared](const caf::error& err) mutable {
        LOG_WARN("tracker", "no mirror sources: " << render(err));
        rp.deliver(std::move(*shared));
      });
  return rp;
}

caf::result<pb::FileInfo> tracker_state::info(const pb::GroupFile& f) {
  auto key = group_key(f.group(), f.name());
  return info_of(key, "info " + key,
                 f.name() + " is not shared in " + f.group());
}

caf::result<caf::ok_atom> tracker_state::withdraw(const pb::Withdraw& w) {
  return guarded<caf::ok_atom>("tracker", "withdraw", [&] {
    for (auto& h : w.holdings()) {
      store->withdraw(h.peer_id(), group_key(h.group(), h.name()));
      LOG_INFO("tracker", "peer " << h.peer_id() << " no longer serves "
                                  << h.group() << "/" << h.name());
    }
    return caf::ok_atom::value;
  });
}

caf::result<caf::ok_atom> tracker_state::permit(const pb::GroupHolding& h) {
  if (!proven(h.peer_id(), h.session()))
    return make_error(errc::denied, "share for a peer whose tracker session"
                                    " this is not (log in on that peer)");
  return guarded<caf::ok_atom>("tracker", "permit", [&] {
    store->permit(h.peer_id(), group_key(h.group(), h.name()));
    LOG_INFO("tracker", "peer " << h.peer_id() << " may serve " << h.group()
                                << "/" << h.name());
    return caf::ok_atom::value;
  });
}

caf::result<caf::ok_atom>
tracker_state::bad_piece(const pb::BadPieceReport& r) {
  if (auto err = oversized("bad piece report", check_sizes(r)))
    return err;
  if (r.file_sha256().size() != 32 || r.mirror_id().empty())
    return make_error(errc::bad_message,
                      "a bad piece report names the file's SHA-256 and the"
                      " mirror");
  if (!proven(r.peer_id(), r.session()))
    return make_error(errc::unknown_peer, "a report needs the peer's session");
  auto ptr = opts.placement ? opts.placement->get() : nullptr;
  if (!ptr)
    return make_error(errc::no_such_actor, "no placement on this tracker");
  // Placement checks the ids and has the mirror check its part. Asked by
  // this actor (placement takes reports only from its node), answered
  // within 2 s.
  auto fwd = r;
  fwd.clear_session();
  auto rp = self_->make_response_promise<caf::ok_atom>();
  self_->request(caf::actor_cast<placement_local_actor>(ptr),
                 std::chrono::seconds(2), verify_atom::value, std::move(fwd))
    .then([rp](caf::ok_atom x) mutable { rp.deliver(x); },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

tracker_local_actor::behavior_type
tracker(tracker_local_actor::stateful_pointer<tracker_state> self,
        tracker_options opts) {
  if (!self->state.init(std::move(opts)))
    return tracker_local_actor::behavior_type::make_empty_behavior();
  return {
    [=](challenge_atom) { return self->state.challenge(); },
    [=](announce_atom, const pb::Announce& msg) {
      return self->state.announce(msg);
    },
    [=](heartbeat_atom, const pb::Heartbeat& msg) {
      return self->state.heartbeat(msg);
    },
    [=](have_atom, const pb::Have& msg) { return self->state.have(msg); },
    [=](leave_atom, const pb::Leave& msg) { return self->state.leave(msg); },
    [=](list_atom, const pb::FileQuery&) { return self->state.list(); },
    [=](info_atom, const pb::FileQuery& q) { return self->state.info(q); },
    [=](info_atom, const pb::GroupFile& f) { return self->state.info(f); },
    [=](leave_atom, const pb::Withdraw& w) {
      return self->state.withdraw(w);
    },
    [=](share_atom, const pb::GroupHolding& h) {
      return self->state.permit(h);
    },
    [=](corrupt_atom, const pb::BadPieceReport& r) {
      return self->state.bad_piece(r);
    },
    [=](expire_atom, const std::string& peer) { self->state.expire(peer); },
    [=](ticket_key_atom) { self->state.retry_key(); },
    [=](flush_atom) {
      self->state.commit_batch();
      self->state.release_waiting();
    },
    [=](tick_atom) { self->state.alive(); },
  };
}

} // namespace actorrent
