#include "actors/tracker/tracker.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/core/log.hpp"
#include "actors/core/manifest.hpp"

namespace actorrent {

namespace {

using clock = std::chrono::steady_clock;

// Runs a store call; a database failure becomes an io_failure reply instead
// of ending the actor.
template <class T, class F>
caf::result<T> guarded(F f) {
  try {
    return f();
  } catch (std::exception& e) {
    LOG_ERROR("tracker", "database: " << e.what());
    return make_error(errc::io_failure, e.what());
  }
}

} // namespace

tracker_actor::behavior_type
tracker(tracker_actor::stateful_pointer<tracker_state> self,
        tracker_options opts) {
  auto& st = self->state;
  st.opts = opts;
  try {
    st.store = std::make_unique<tracker_store>(opts.db);
    st.store->set_all_offline();
  } catch (std::exception& e) {
    LOG_ERROR("tracker", e.what());
    self->quit(make_error(errc::io_failure, e.what()));
    return tracker_actor::behavior_type::make_empty_behavior();
  }
  LOG_INFO("tracker", "started, catalog " << opts.db);
  auto reply = [self] {
    pb::AnnounceReply r;
    r.set_heartbeat_ms(self->state.opts.heartbeat_ms);
    r.set_public_key(self->state.opts.public_key);
    return r;
  };
  // Marks silent peers offline.
  auto sweep = [self] {
    auto now = clock::now();
    auto limit = std::chrono::milliseconds(self->state.opts.offline_ms);
    auto& sessions = self->state.sessions;
    for (auto i = sessions.begin(); i != sessions.end();) {
      if (now - i->second > limit) {
        LOG_INFO("tracker", "peer " << i->first << " missed its heartbeats:"
                                    << " offline");
        try {
          self->state.store->set_online(i->first, false);
        } catch (std::exception& e) {
          LOG_ERROR("tracker", "database: " << e.what());
        }
        i = sessions.erase(i);
      } else {
        ++i;
      }
    }
  };
  self->send(self, tick_atom::value);
  auto touch = [self](const std::string& peer) -> bool {
    auto i = self->state.sessions.find(peer);
    if (i == self->state.sessions.end())
      return false;
    i->second = clock::now();
    return true;
  };
  return {
    [=](announce_atom, const pb::Announce& msg)
      -> caf::result<pb::AnnounceReply> {
      std::string why;
      if (msg.peer_id().empty() || msg.host().empty() || msg.port() == 0
          || msg.port() > 65535)
        return make_error(errc::bad_message,
                          "announce needs peer_id, host and port");
      return guarded<pb::AnnounceReply>([&]() -> pb::AnnounceReply {
        auto rejected = self->state.store->announce(msg);
        bool fresh = self->state.sessions.count(msg.peer_id()) == 0;
        self->state.sessions[msg.peer_id()] = clock::now();
        LOG_INFO("tracker", "peer " << msg.peer_id() << " at " << msg.host()
                                    << ":" << msg.port()
                                    << (fresh ? " joined" : " re-announced")
                                    << " with " << msg.files_size()
                                    << " files");
        auto r = reply();
        for (auto& x : rejected) {
          LOG_WARN("tracker", "refused from " << msg.peer_id() << ": " << x);
          r.add_rejected(x);
        }
        return r;
      });
    },
    [=](heartbeat_atom, const pb::Heartbeat& msg)
      -> caf::result<pb::AnnounceReply> {
      if (!touch(msg.peer_id()))
        return make_error(errc::unknown_peer, msg.peer_id());
      return reply();
    },
    [=](have_atom, const pb::Have& msg) -> caf::result<caf::ok_atom> {
      if (!touch(msg.peer_id()))
        return make_error(errc::unknown_peer, msg.peer_id());
      std::string why;
      if (!valid_name(msg.name(), why))
        return make_error(errc::bad_name, why);
      return guarded<caf::ok_atom>([&]() -> caf::result<caf::ok_atom> {
        if (!self->state.store->have(msg, why))
          return make_error(errc::bad_piece, why);
        return caf::ok_atom::value;
      });
    },
    [=](leave_atom, const pb::Leave& msg) -> caf::result<caf::ok_atom> {
      return guarded<caf::ok_atom>([&] {
        self->state.store->leave(msg.peer_id(), msg.name());
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
      return guarded<pb::FileList>([&] { return self->state.store->list(); });
    },
    [=](info_atom, const pb::FileQuery& q) -> caf::result<pb::FileInfo> {
      std::string why;
      if (!valid_name(q.name(), why))
        return make_error(errc::bad_name, why);
      if (is_group_key(q.name()))
        return make_error(errc::denied, "files of a group are only shown to"
                                        " its members (download_file)");
      return guarded<pb::FileInfo>([&]() -> caf::result<pb::FileInfo> {
        auto info = self->state.store->info(q.name());
        if (!info)
          return make_error(errc::unknown_file, q.name());
        return std::move(*info);
      });
    },
    [=](tick_atom) {
      sweep();
      self->delayed_send(self, std::chrono::milliseconds(250),
                         tick_atom::value);
    },
  };
}

} // namespace actorrent
