#include "actors/peer/tracker_client.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/identity.hpp"
#include "actors/core/log.hpp"
#include "actors/peer/peer.hpp"

namespace actorrent {

namespace {

constexpr auto tracker_timeout = std::chrono::seconds(5);
constexpr auto min_backoff = std::chrono::milliseconds(250);
constexpr auto max_backoff = std::chrono::seconds(5);
constexpr auto flush_interval = std::chrono::milliseconds(100);

} // namespace

const char* to_string(tracker_event x) {
  switch (x) {
    case tracker_event::connect_failed:
      return "connect_failed";
    case tracker_event::not_a_tracker:
      return "not_a_tracker";
    case tracker_event::connection_lost:
      return "connection_lost";
    case tracker_event::request_timed_out:
      return "request_timed_out";
    case tracker_event::heartbeat_missed:
      return "heartbeat_missed";
    default:
      return "announce_failed";
  }
}

const char* to_string(pb::SessionState x) {
  switch (x) {
    case pb::SESSION_CONNECTING:
      return "connecting";
    case pb::SESSION_ANNOUNCING:
      return "announcing";
    case pb::SESSION_ONLINE:
      return "online";
    default:
      return "disconnected";
  }
}

tracker_client::tracker_client(peer_self self)
  : self_(self), backoff_(min_backoff) {
}

void tracker_client::start(std::vector<endpoint> trackers) {
  trackers_ = std::move(trackers);
  self_->send(self_, reconnect_atom::value);
  self_->send(self_, heartbeat_atom::value);
}

const endpoint& tracker_client::current() const {
  static const endpoint none;
  return trackers_.empty() ? none : trackers_[index_];
}

caf::error tracker_client::unavailable() const {
  // A re-announce on a live session (after a login or a new share) does
  // not hold up commands: the session stays valid meanwhile.
  if (online()
      || (session_ == pb::SESSION_ANNOUNCING && handle_
          && announced_epoch_ == epoch_))
    return caf::none;
  return make_error(errc::tracker_unavailable,
                    "no connection to the tracker at " + current().str() + " ("
                      + to_string(session_) + ")");
}

void tracker_client::transition(pb::SessionState to, const std::string& why) {
  if (to == session_)
    return;
  LOG_INFO("peer", "tracker session " << to_string(session_) << " -> "
                                      << to_string(to)
                                      << (why.empty() ? "" : " (" + why + ")"));
  session_ = to;
  self_->state.on_session();
}

void tracker_client::lose(tracker_event event, const std::string& detail) {
  if (session_ == pb::SESSION_DISCONNECTED)
    return;
  if (handle_)
    self_->demonitor(handle_.address());
  handle_ = nullptr;
  ++epoch_; // replies still on their way belong to the lost session
  transition(pb::SESSION_DISCONNECTED,
             std::string{to_string(event)} + " at " + current().str()
               + (detail.empty() ? "" : ": " + detail));
  if (trackers_.size() > 1) {
    index_ = (index_ + 1) % trackers_.size();
    ++switches_;
    LOG_INFO("peer", "switching to tracker " << current().str() << " in "
                       << std::chrono::duration_cast<std::chrono::milliseconds>(
                            backoff_)
                            .count()
                       << " ms (switch " << switches_ << ")");
  }
  self_->delayed_send(self_, backoff_, reconnect_atom::value);
  backoff_ = std::min<caf::timespan>(backoff_ * 2, max_backoff);
}

void tracker_client::reconnect() {
  if (session_ != pb::SESSION_DISCONNECTED || trackers_.empty())
    return;
  transition(pb::SESSION_CONNECTING);
  auto target = current();
  auto epoch = epoch_;
  self_
    ->request(self_->state.env.dir->connector(), tracker_timeout,
              caf::connect_atom::value, target.host, target.port)
    .then(
      [this, target, epoch](const caf::node_id&, caf::strong_actor_ptr& ptr,
                            const std::set<std::string>& ifs) {
        if (epoch != epoch_)
          return;
        if (!ptr || !self_->system().assignable<tracker_actor>(ifs)) {
          lose(tracker_event::not_a_tracker);
          return;
        }
        handle_ = caf::actor_cast<tracker_actor>(std::move(ptr));
        self_->monitor(handle_);
        announce();
      },
      [this, target, epoch](const caf::error& err) {
        if (epoch != epoch_)
          return;
        LOG_WARN("peer", "tracker " << target.str() << " not reachable: "
                                    << render(err) << "; retrying in "
                                    << std::chrono::duration_cast<
                                         std::chrono::milliseconds>(backoff_)
                                         .count()
                                    << " ms");
        lose(tracker_event::connect_failed, render(err));
      });
}

void tracker_client::announce(announced done) {
  if (!handle_) {
    if (done)
      done(unavailable());
    return;
  }
  transition(pb::SESSION_ANNOUNCING);
  pending_haves_.clear();
  // Only the answer to the latest announce of this session counts (an
  // earlier one may be answered late, or refused as superseded).
  auto epoch = epoch_;
  auto seq = ++announces_;
  auto fail = [this, epoch, seq, done](const caf::error& err) {
    if (epoch == epoch_ && seq == announces_)
      lose(err == caf::sec::request_timeout ? tracker_event::request_timed_out
                                            : tracker_event::announce_failed,
           "challenge: " + render(err));
    if (done)
      done(err);
  };
  self_->request(handle_, tracker_timeout, challenge_atom::value)
    .then(
      [this, epoch, seq, done](const pb::Challenge& c) {
        send_announce(c.nonce(), epoch, seq, done);
      },
      fail);
}

void tracker_client::send_announce(const std::string& nonce, uint64_t epoch,
                                   uint64_t seq, announced done) {
  if (epoch != epoch_ || !handle_) {
    if (done)
      done(unavailable());
    return;
  }
  auto& st = self_->state;
  pb::Announce msg;
  msg.set_host(st.opts.host);
  msg.set_port(st.opts.port);
  for (auto& f : st.lib->snapshot()) {
    *msg.add_files() = f.manifest;
    auto& h = *msg.add_holdings();
    h.set_name(f.manifest->name());
    h.set_bitfield(f.have.bytes());
  }
  sign_announce(st.key, nonce, msg);
  auto latest = [this, epoch, seq] {
    return epoch == epoch_ && seq == announces_;
  };
  self_->request(handle_, tracker_timeout, announce_atom::value, msg)
    .then(
      [this, latest, done](const pb::AnnounceReply& r) {
        if (latest())
          on_announced(r);
        if (done)
          done(r);
      },
      [this, latest, done](const caf::error& err) {
        if (latest())
          lose(err == caf::sec::request_timeout
                 ? tracker_event::request_timed_out
                 : tracker_event::announce_failed,
               render(err));
        if (done)
          done(err);
      });
}

void tracker_client::on_announced(const pb::AnnounceReply& r) {
  heartbeat_ms_ = std::max<uint32_t>(100, r.heartbeat_ms());
  // A tracker without its key yet answers without one: keep what we know.
  if (!r.public_key().empty())
    self_->state.lib->set_tracker_key(r.public_key());
  token_ = r.session();
  announced_epoch_ = epoch_;
  refused_.assign(r.rejected().begin(), r.rejected().end());
  for (auto& x : refused_)
    LOG_WARN("peer", "tracker refused " << x);
  backoff_ = min_backoff;
  transition(pb::SESSION_ONLINE);
}

void tracker_client::on_error(const char* what, uint64_t epoch,
                              const caf::error& err) {
  if (!online() || epoch != epoch_)
    return;
  if (is(err, errc::unknown_peer)) {
    LOG_INFO("peer", "tracker lost our session: announcing");
    announce();
  } else if (err == caf::sec::request_timeout) {
    lose(std::string{what} == "heartbeat" ? tracker_event::heartbeat_missed
                                          : tracker_event::request_timed_out,
         what);
  } else {
    LOG_WARN("peer", what << ": " << render(err));
  }
}

bool tracker_client::on_down(const caf::down_msg& dm) {
  if (!handle_ || dm.source != handle_.address())
    return false;
  LOG_WARN("peer", "connection to tracker " << current().str() << " lost");
  lose(tracker_event::connection_lost);
  return true;
}

void tracker_client::heartbeat() {
  self_->delayed_send(self_, std::chrono::milliseconds(heartbeat_ms_),
                      heartbeat_atom::value);
  if (!online())
    return;
  pb::Heartbeat hb;
  hb.set_peer_id(self_->state.peer_id);
  hb.set_session(token_);
  auto epoch = epoch_;
  // A reply missing for two heartbeat intervals ends the session.
  auto missed_after = std::max<caf::timespan>(
    std::chrono::seconds(1), 2 * std::chrono::milliseconds(heartbeat_ms_));
  self_->request(handle_, missed_after, heartbeat_atom::value, hb)
    .then(
      [this](const pb::AnnounceReply& r) {
        // A tracker that answered the announce before it had its ticket
        // key hands it out with a later heartbeat.
        if (!r.public_key().empty())
          self_->state.lib->set_tracker_key(r.public_key());
      },
          [this, epoch](const caf::error& err) {
            on_error("heartbeat", epoch, err);
          });
}

void tracker_client::have(const std::string& name, uint32_t piece) {
  pending_haves_[name].push_back(piece);
  arm_flush();
}

void tracker_client::arm_flush() {
  // Armed only while something waits: an idle peer has no flush timer.
  if (flush_armed_)
    return;
  flush_armed_ = true;
  self_->delayed_send(self_, flush_interval, flush_atom::value);
}

void tracker_client::flush() {
  flush_armed_ = false;
  if (pending_haves_.empty())
    return;
  if (!online()) {
    arm_flush(); // sent once the session is back
    return;
  }
  for (auto& [name, pieces] : pending_haves_) {
    pb::Have msg;
    msg.set_peer_id(self_->state.peer_id);
    msg.set_session(token_);
    msg.set_name(name);
    for (auto p : pieces)
      msg.add_pieces(p);
    self_->request(handle_, tracker_timeout, have_atom::value, msg)
      .then([](caf::ok_atom) {},
            [this, epoch = epoch_](const caf::error& err) {
              on_error("have", epoch, err);
            });
  }
  pending_haves_.clear();
}

void tracker_client::report(pb::BadPieceReport r) {
  if (!online()) {
    LOG_INFO("peer", "no tracker session: mirror " << r.mirror_id()
                       << "'s bad piece " << r.piece() << " not reported");
    return;
  }
  LOG_INFO("peer", "reporting bad piece " << r.piece() << " from mirror "
                                          << r.mirror_id());
  r.set_peer_id(self_->state.peer_id);
  r.set_session(token_);
  self_->request(handle_, tracker_timeout, corrupt_atom::value, r)
    .then([](caf::ok_atom) {},
          [this, epoch = epoch_](const caf::error& err) {
            on_error("bad piece report", epoch, err);
          });
}

void tracker_client::leave(const std::string& name) {
  if (!handle_)
    return;
  pb::Leave msg;
  msg.set_peer_id(self_->state.peer_id);
  msg.set_session(token_);
  msg.set_name(name);
  self_->request(handle_, tracker_timeout, leave_atom::value, msg)
    .then([](caf::ok_atom) {}, [](const caf::error&) {});
}

} // namespace actorrent
