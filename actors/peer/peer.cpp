#include "actors/peer/peer.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/identity.hpp"
#include "actors/core/log.hpp"

namespace actorrent {

namespace {

constexpr auto tracker_timeout = std::chrono::seconds(5);

} // namespace

pb::PeerReply make_reply(int code, std::string line) {
  pb::PeerReply r;
  r.set_code(code);
  if (!line.empty())
    r.add_lines(std::move(line));
  return r;
}

peer_state::peer_state(peer_self self)
  : tracker(self), shares(self), downloads(self), groups(self), self_(self) {
}

pb::PeerStatus peer_state::status() const {
  pb::PeerStatus s;
  s.set_peer_id(peer_id);
  s.set_host(opts.host);
  s.set_port(opts.port);
  s.set_tracker(tracker.current().str());
  s.set_tracker_switches(tracker.switches());
  s.set_session(tracker.session());
  s.set_files_held(static_cast<uint32_t>(lib->snapshot().size()));
  s.set_active_downloads(static_cast<uint32_t>(downloads.count_active()));
  s.set_bytes_served(lib->bytes_served);
  s.set_bytes_streamed(lib->bytes_streamed);
  s.set_bytes_received(lib->bytes_received);
  for (auto& r : tracker.refused())
    s.add_refused(r);
  s.set_user(groups.user());
  return s;
}

pb::PeerReply peer_state::quit() {
  downloads.flush();
  tracker.leave("");
  if (opts.on_quit)
    opts.on_quit();
  return make_reply(0, "bye");
}

namespace {

// Asks the tracker `(xs...)`; its reply, a `Reply`, goes into the field of a
// PeerReply that `field` points to; an error becomes a reply with code 1.
template <class Reply, class Field, class... Ts>
caf::result<pb::PeerReply> ask_tracker(peer_self self,
                                       const tracker_client& tracker,
                                       Field field, const Ts&... xs) {
  if (auto err = tracker.unavailable())
    return make_reply(1, render(err));
  auto rp = self->make_response_promise<pb::PeerReply>();
  self->request(tracker.handle(), tracker_timeout, xs...)
    .then(
      [rp, field](Reply& x) mutable {
        auto out = make_reply(0);
        *field(out) = std::move(x);
        rp.deliver(std::move(out));
      },
      [rp](const caf::error& err) mutable {
        rp.deliver(make_reply(1, render(err)));
      });
  return rp;
}

} // namespace

caf::result<pb::PeerReply> peer_state::ask_list() {
  return ask_tracker<pb::FileList>(
    self_, tracker, [](pb::PeerReply& r) { return r.mutable_files(); },
    list_atom::value, pb::FileQuery{});
}

caf::result<pb::PeerReply> peer_state::ask_info(const std::string& name) {
  pb::FileQuery q;
  q.set_name(name);
  return ask_tracker<pb::FileInfo>(
    self_, tracker, [](pb::PeerReply& r) { return r.mutable_info(); },
    info_atom::value, q);
}

caf::result<pb::FileInfo> peer_state::file_info(const pb::FileQuery& q) {
  std::string group, name;
  bool group_file = split_group_key(q.name(), group, name);
  if (auto err = tracker.unavailable()) {
    // The question waits for the next attempt at a session (a fetcher
    // started with its peer asks once, not every 20 ms meanwhile): it goes
    // to the tracker once that is up, or fails when the attempt does.
    if (group_file || info_waiting.size() >= max_info_waiting)
      return err;
    auto rp = self_->make_response_promise<pb::FileInfo>();
    info_waiting.emplace_back(rp, q);
    return rp;
  }
  if (group_file)
    return groups.info(group, name);
  return self_->delegate(tracker.handle(), info_atom::value, q);
}

void peer_state::on_session() {
  if (info_waiting.empty())
    return;
  auto err = tracker.unavailable();
  if (err && tracker.session() != pb::SESSION_DISCONNECTED)
    return; // still connecting or announcing
  // Online (answered by the tracker), or the attempt failed.
  auto waiting = std::move(info_waiting);
  info_waiting.clear();
  for (auto& [rp, q] : waiting) {
    if (err)
      rp.deliver(err);
    else
      rp.delegate(tracker.handle(), info_atom::value, q);
  }
}

caf::result<pb::PeerReply> peer_state::command(const pb::PeerRequest& rq) {
  using op = pb::PeerRequest;
  switch (rq.op_case()) {
    case op::kPublish:
      return shares.publish(rq.publish());
    case op::kMirrorPublish:
      return shares.mirror_publish(rq.mirror_publish());
    case op::kList:
      return ask_list();
    case op::kInfo:
      return ask_info(rq.info().name());
    case op::kFetch:
      return downloads.fetch(rq.fetch());
    case op::kDownloads:
    case op::kShowDownloads: {
      auto out = make_reply(0);
      *out.mutable_downloads() = downloads.list();
      return out;
    }
    case op::kStopShare:
      return shares.stop_share(rq.stop_share().name());
    case op::kStatus: {
      auto out = make_reply(0);
      *out.mutable_status() = status();
      return out;
    }
    case op::kQuit:
      return quit();
    case op::kCreateUser:
      return groups.create_user(rq.create_user());
    case op::kLogin:
      return groups.login(rq.login());
    case op::kLogout:
      return groups.logout();
    case op::kCreateGroup:
      return groups.create_group(rq.create_group().group());
    case op::kJoinGroup:
      return groups.join_group(rq.join_group().group());
    case op::kLeaveGroup:
      return groups.leave_group(rq.leave_group().group());
    case op::kListRequests:
      return groups.list_requests(rq.list_requests().group());
    case op::kAcceptRequest:
      return groups.decide(rq.accept_request(), true);
    case op::kRejectRequest:
      return groups.decide(rq.reject_request(), false);
    case op::kListGroups:
      return groups.list_groups();
    case op::kListFiles:
      return groups.list_files(rq.list_files().group());
    case op::kUploadFile:
      return groups.upload_file(rq.upload_file());
    case op::kDownloadFile:
      return groups.download_file(rq.download_file());
    case op::kStopGroupShare:
      return groups.stop_share(rq.stop_group_share());
    default:
      return make_reply(1, "empty or unknown command");
  }
}

void peer_state::start() {
  try {
    store = open_peer_store(opts.state_db);
    key = store->identity(env.random);
    peer_id = peer_id_of(key.public_key);
  } catch (std::exception& e) {
    LOG_ERROR("peer", e.what());
    self_->quit(make_error(errc::io_failure, e.what()));
    return;
  }
  shares.load();
  downloads.load();
  LOG_INFO("peer", "peer " << peer_id << " serving on " << opts.host << ":"
                           << opts.port);
  tracker.start(opts.trackers);
}

void peer_state::on_down(const caf::down_msg& dm) {
  if (!tracker.on_down(dm))
    downloads.on_down(dm);
}

peer_actor::behavior_type peer(peer_self self, peer_options opts,
                               environment env, std::shared_ptr<library> lib) {
  auto& st = self->state;
  st.opts = std::move(opts);
  st.env = std::move(env);
  st.lib = std::move(lib);
  st.start();
  if (!st.store)
    return peer_actor::behavior_type::make_empty_behavior();
  self->set_down_handler([self](caf::down_msg& dm) { self->state.on_down(dm); });
  return {
    [=](command_atom, const pb::PeerRequest& rq) {
      return self->state.command(rq);
    },
    [=](info_atom, const pb::FileQuery& q) {
      return self->state.file_info(q);
    },
    [=](manifest_atom, const pb::Manifest& m) {
      self->state.downloads.on_manifest(m);
    },
    [=](have_atom, const std::string& name,
        const std::vector<uint32_t>& pieces) {
      for (auto p : pieces)
        self->state.downloads.on_have(name, p);
    },
    [=](corrupt_atom, const pb::BadPieceReport& r) {
      self->state.tracker.report(r);
    },
    [=](status_atom, const pb::DownloadStatus& s) {
      self->state.downloads.on_status(s);
    },
    [=](status_atom) { return self->state.downloads.list(); },
    [=](reconnect_atom) { self->state.tracker.reconnect(); },
    [=](heartbeat_atom) { self->state.tracker.heartbeat(); },
    [=](flush_atom) {
      self->state.downloads.flush();
      self->state.tracker.flush();
    },
  };
}

} // namespace actorrent
