#include "actors/transfer/piece_fetcher.hpp"

#include <random>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/log.hpp"
#include "actors/transfer/piece_writer.hpp"

namespace actorrent {

namespace {
using clock = std::chrono::steady_clock;
constexpr int max_bad_pieces = 3;
constexpr auto reconnect_delay = std::chrono::seconds(3);
constexpr auto connect_timeout = std::chrono::seconds(5);
} // namespace

const char* to_string(download_state x) {
  static const char* names[] = {"fetching_info", "downloading", "verifying",
                                "complete",      "stalled",     "failed"};
  return names[static_cast<int>(x)];
}

const char* to_string(source_state x) {
  static const char* names[] = {"connecting", "active", "lost", "banned"};
  return names[static_cast<int>(x)];
}

void piece_fetcher_state::transition(download_state to, std::string why) {
  if (to == state && why == reason)
    return;
  LOG_INFO("piece_fetcher", opts.name << ": " << to_string(state) << " -> "
                                      << to_string(to)
                                      << (why.empty() ? "" : " (" + why + ")"));
  state = to;
  reason = std::move(why);
}

pb::DownloadStatus piece_fetcher_state::status() const {
  pb::DownloadStatus s;
  s.set_name(opts.name);
  s.set_dest(final_path.empty() ? opts.dest_dir : final_path);
  s.set_state(static_cast<pb::DownloadState>(state));
  s.set_reason(reason);
  s.set_bytes_received(bytes_received);
  s.set_rate_bps(rate_bps);
  if (manifest) {
    s.set_size(manifest->size());
    s.set_pieces_total(static_cast<uint32_t>(manifest->piece_sha256_size()));
  }
  if (picker) {
    s.set_pieces_done(picker->have().count());
    s.set_bytes_done(bytes_done);
    if (state == download_state::stalled || state == download_state::failed)
      for (auto p : picker->unavailable())
        s.add_missing(p);
  }
  uint32_t active = 0;
  for (auto& [id, src] : sources) {
    if (src.state == source_state::active)
      ++active;
    if (src.state == source_state::banned)
      s.add_banned(id + ": " + src.reason);
  }
  s.set_sources(active);
  return s;
}

fetcher_actor::behavior_type
piece_fetcher(fetcher_actor::stateful_pointer<piece_fetcher_state> self,
              fetch_options opts, peer_actor peer,
              std::shared_ptr<library> lib) {
  auto& st = self->state;
  st.opts = std::move(opts);
  st.peer = std::move(peer);
  st.lib = std::move(lib);
  st.rate_time = clock::now();
  auto report = [self] { self->send(self->state.peer, status_atom::value,
                                    self->state.status()); };
  // Ends the download; its writer (linked) ends with it.
  auto stop = [self](caf::error reason = caf::none) {
    if (self->state.writer)
      self->send_exit(self->state.writer, caf::exit_reason::user_shutdown);
    self->quit(std::move(reason));
  };
  auto finished = [self] {
    auto s = self->state.state;
    return s == download_state::complete || s == download_state::failed
           || s == download_state::verifying;
  };
  // Stops the download for good.
  auto fail = [self, report, stop](std::string why) {
    self->state.transition(download_state::failed, std::move(why));
    report();
    stop();
  };
  // A source can no longer be used: its pieces in flight go to the others.
  auto drop = [self](const std::string& id, source_state to, std::string why) {
    auto& st = self->state;
    auto i = st.sources.find(id);
    if (i == st.sources.end() || i->second.state == source_state::banned)
      return;
    auto& src = i->second;
    if (src.handle)
      self->demonitor(src.handle.address());
    src.handle = nullptr;
    ++src.epoch;
    src.state = to;
    src.reason = why;
    src.retry_at = clock::now() + reconnect_delay;
    std::vector<uint32_t> lost;
    if (st.picker)
      lost = st.picker->remove_source(id);
    LOG_WARN("piece_fetcher", st.opts.name << ": source " << id << " "
                                           << to_string(to) << " (" << why
                                           << "), " << lost.size()
                                           << " pieces in flight reassigned");
  };
  // Checks whether the download can still make progress.
  auto check_stall = [self, fail, report] {
    auto& st = self->state;
    if (!st.picker || (st.state != download_state::downloading
                       && st.state != download_state::stalled))
      return;
    for (auto& kvp : st.sources)
      if (kvp.second.state == source_state::connecting)
        return;
    auto missing = st.picker->unavailable();
    bool busy = !st.writing.empty();
    for (auto& kvp : st.sources)
      busy = busy || st.picker->in_flight(kvp.first) > 0;
    auto total_missing = st.picker->have().size() - st.picker->have().count();
    if (missing.empty() || busy || missing.size() < total_missing) {
      if (st.state == download_state::stalled)
        st.transition(download_state::downloading);
      return;
    }
    std::string why = std::to_string(missing.size())
                      + " pieces have no online source: ";
    for (size_t i = 0; i < missing.size() && i < 10; ++i)
      why += (i ? "," : "") + std::to_string(missing[i]);
    if (missing.size() > 10)
      why += ",...";
    if (st.opts.fail_when_stalled)
      fail(why);
    else if (st.state != download_state::stalled) {
      st.transition(download_state::stalled, why);
      report();
    }
  };
  // Fills every active source's window.
  std::shared_ptr<std::function<void()>> schedule
    = std::make_shared<std::function<void()>>();
  auto on_piece_error = [self, drop, schedule](const std::string& id,
                                               uint64_t epoch, uint32_t p,
                                               const caf::error& err) {
    auto& st = self->state;
    auto i = st.sources.find(id);
    if (i == st.sources.end() || i->second.epoch != epoch)
      return; // stale: the source was dropped already
    st.picker->failed(p, id);
    if (err.category() == caf::atom("actorrent")
        && err.code() == static_cast<uint8_t>(errc::bad_piece)) {
      // The source no longer claims the piece; stop asking it for it.
      bitfield b{st.picker->have().size(), i->second.holds};
      b.reset(p);
      i->second.holds = b.bytes();
      st.picker->set_source(id, b);
    } else {
      drop(id, source_state::lost, "piece " + std::to_string(p) + ": "
                                     + render(err));
    }
    (*schedule)();
  };
  auto on_written = [self, schedule, report, fail, drop, stop](
                      const std::string& id, uint32_t p, bool ok) {
    auto& st = self->state;
    st.writing.erase(p);
    if (!ok) {
      st.picker->failed(p, id);
      auto i = st.sources.find(id);
      if (i != st.sources.end() && i->second.state == source_state::active
          && ++i->second.bad_pieces >= max_bad_pieces) {
        drop(id, source_state::banned,
             "sent " + std::to_string(max_bad_pieces)
               + " pieces that failed their SHA-256");
        report();
      } else {
        LOG_WARN("piece_fetcher", st.opts.name << ": piece " << p << " from "
                                               << id << " failed its SHA-256");
      }
      (*schedule)();
      return;
    }
    st.picker->done(p);
    st.bytes_done += piece_length(*st.manifest, p);
    self->send(st.peer, have_atom::value, st.opts.name, p);
    if (!st.picker->complete()) {
      (*schedule)();
      return;
    }
    st.transition(download_state::verifying);
    report();
    self->request(st.writer, caf::infinite, finish_atom::value)
      .then(
        [self, report, stop](const std::string& path) {
          self->state.final_path = path;
          self->state.transition(download_state::complete);
          report();
          stop();
        },
        [fail](const caf::error& err) { fail(render(err)); });
  };
  auto on_piece = [self, schedule, on_written, fail](const std::string& id,
                                               uint32_t p,
                                               std::vector<char>& data) {
    auto& st = self->state;
    st.bytes_received += data.size();
    st.lib->bytes_received += data.size();
    if (st.picker->have(p) || st.writing.count(p) > 0) {
      st.picker->failed(p, id); // endgame duplicate
      (*schedule)();
      return;
    }
    st.writing.insert(p);
    self->request(st.writer, caf::infinite, write_atom::value, p,
                  std::move(data))
      .then([=](bool ok) { on_written(id, p, ok); },
            [=](const caf::error& err) { fail(render(err)); });
  };
  *schedule = [self, on_piece, on_piece_error, check_stall] {
    auto& st = self->state;
    if (!st.picker || st.state == download_state::verifying
        || st.state == download_state::complete
        || st.state == download_state::failed)
      return;
    for (auto& [id_ref, src_ref] : st.sources) {
      if (src_ref.state != source_state::active)
        continue;
      auto id = id_ref;
      auto& src = src_ref;
      auto now = clock::now();
      while (st.picker->in_flight(id) < st.opts.window) {
        auto p = st.picker->pick(id, now);
        if (!p)
          break;
        st.picker->requested(*p, id, now);
        pb::PieceRequest req;
        req.set_name(st.opts.name);
        req.set_index(*p);
        req.set_file_sha256(st.manifest->file_sha256());
        if (st.ticket.signature().size() > 0)
          *req.mutable_ticket() = st.ticket;
        auto epoch = src.epoch;
        auto piece = *p;
        self->request(src.handle, st.opts.request_timeout, piece_atom::value,
                      std::move(req))
          .then(
            [=](const pb::PieceHeader& hdr, std::vector<char>& data) {
              if (hdr.index() != piece) {
                on_piece_error(id, epoch, piece,
                               make_error(errc::bad_message, "wrong piece"));
                return;
              }
              on_piece(id, piece, data);
            },
            [=](const caf::error& err) {
              on_piece_error(id, epoch, piece, err);
            });
      }
    }
    check_stall();
  };
  auto connect = [self, schedule, drop](const std::string& id) {
    auto& src = self->state.sources[id];
    src.state = source_state::connecting;
    auto epoch = ++src.epoch;
    auto mm = self->system().middleman().actor_handle();
    self->request(mm, connect_timeout, caf::connect_atom::value, src.host,
                  src.port)
      .then(
        [=](const caf::node_id&, caf::strong_actor_ptr& ptr,
            const std::set<std::string>& ifs) {
          auto& st = self->state;
          auto& src = st.sources[id];
          if (src.epoch != epoch)
            return;
          if (!ptr || !self->system().assignable<piece_server_actor>(ifs)) {
            drop(id, source_state::lost, "not a piece server");
            return;
          }
          src.handle = caf::actor_cast<piece_server_actor>(std::move(ptr));
          self->monitor(src.handle);
          src.state = source_state::active;
          st.picker->set_source(id, bitfield{st.picker->have().size(),
                                             src.holds});
          LOG_DEBUG("piece_fetcher", st.opts.name << ": source " << id
                                                  << " active");
          (*schedule)();
        },
        [=](const caf::error& err) {
          if (self->state.sources[id].epoch == epoch)
            drop(id, source_state::lost, "cannot connect: " + render(err));
          (*schedule)();
        });
  };
  // Starts writing once the manifest is known (from the tracker or resume).
  auto start = [self, fail](const pb::Manifest& m) -> bool {
    auto& st = self->state;
    std::string why;
    if (!valid_manifest(m, why)) {
      fail(why);
      return false;
    }
    auto n = static_cast<uint32_t>(m.piece_sha256_size());
    bitfield have{n};
    if (st.opts.manifest && st.opts.manifest->file_sha256() == m.file_sha256())
      have = bitfield{n, st.opts.have};
    st.manifest = m;
    std::random_device rd;
    st.picker.emplace(have, (uint64_t{rd()} << 32) | rd());
    for (uint32_t i = 0; i < n; ++i)
      if (have.test(i))
        st.bytes_done += piece_length(m, i);
    writer_options wo;
    wo.manifest = m;
    // A group file is stored under its name within the group.
    std::string group, file_name = m.name();
    split_group_key(m.name(), group, file_name);
    wo.part_path = st.opts.dest_dir + "/." + file_name + ".part";
    wo.final_path = st.opts.dest_dir + "/" + file_name;
    wo.state_db = st.opts.state_db;
    wo.have = have;
    st.lib->put(local_file{m, wo.part_path, have, group});
    st.writer = self->spawn<caf::detached + caf::linked + caf::monitored>(
      piece_writer, std::move(wo), st.lib);
    st.transition(download_state::downloading,
                  have.count() > 0 ? "resuming with "
                                       + std::to_string(have.count())
                                       + " verified pieces"
                                   : "");
    return true;
  };
  auto on_info = [self, start, connect, schedule](pb::FileInfo& info) {
    auto& st = self->state;
    if (!st.manifest) {
      if (!start(info.manifest()))
        return;
    } else if (info.manifest().file_sha256() != st.manifest->file_sha256()) {
      return; // another version of the name is announced; keep ours
    }
    if (info.has_ticket())
      st.ticket = info.ticket();
    auto now = clock::now();
    for (auto& s : info.sources()) {
      if (s.peer_id() == st.opts.self_id)
        continue;
      auto& src = st.sources[s.peer_id()];
      if (src.state == source_state::banned)
        continue;
      src.holds = s.bitfield();
      if (src.port == 0 || src.host != s.host() || src.port != s.port()) {
        src.host = s.host();
        src.port = static_cast<uint16_t>(s.port());
        if (src.state == source_state::active)
          continue;
        src.state = source_state::lost;
        src.retry_at = now;
      }
      if (src.state == source_state::active)
        st.picker->set_source(s.peer_id(), bitfield{st.picker->have().size(),
                                                    src.holds});
      else if (src.state == source_state::lost && now >= src.retry_at)
        connect(s.peer_id());
    }
    (*schedule)();
  };
  self->set_down_handler([self, drop, schedule, fail](caf::down_msg& dm) {
    auto& st = self->state;
    if (st.writer && dm.source == st.writer.address()) {
      if (st.state != download_state::complete)
        fail("writer ended: " + render(dm.reason));
      return;
    }
    for (auto& [id, src] : st.sources)
      if (src.handle && src.handle.address() == dm.source) {
        drop(id, source_state::lost, "connection lost");
        break;
      }
    (*schedule)();
  });
  if (st.opts.manifest && !start(*st.opts.manifest))
    return fetcher_actor::behavior_type::make_empty_behavior();
  self->send(self, refresh_atom::value);
  self->send(self, tick_atom::value);
  return {
    [=](refresh_atom) {
      if (finished())
        return;
      pb::FileQuery q;
      q.set_name(self->state.opts.name);
      self->request(self->state.peer, std::chrono::seconds(5),
                    info_atom::value, q)
        .then([=](pb::FileInfo& info) { on_info(info); },
              [=](const caf::error& err) {
                auto& st = self->state;
                bool unknown = err.category() == caf::atom("actorrent")
                               && err.code()
                                    == static_cast<uint8_t>(errc::unknown_file);
                if (unknown && !st.manifest && st.opts.fail_when_stalled)
                  fail("the tracker does not know " + st.opts.name);
                else
                  LOG_DEBUG("piece_fetcher", st.opts.name << ": no sources: "
                                                          << render(err));
                (*schedule)();
              });
      // Until the manifest is known, ask again soon.
      auto delay = self->state.manifest
                     ? self->state.opts.refresh_interval
                     : std::chrono::milliseconds(20);
      self->delayed_send(self, delay, refresh_atom::value);
    },
    [=](tick_atom) {
      auto& st = self->state;
      auto now = clock::now();
      auto secs = std::chrono::duration<double>(now - st.rate_time).count();
      if (secs > 0)
        st.rate_bps = 0.5 * st.rate_bps
                      + 0.5 * static_cast<double>(st.bytes_received
                                                  - st.rate_mark)
                          / secs;
      st.rate_mark = st.bytes_received;
      st.rate_time = now;
      report();
      (*schedule)(); // endgame: duplicate requests that waited too long
      self->delayed_send(self, std::chrono::milliseconds(250),
                         tick_atom::value);
    },
    [=](status_atom) { return self->state.status(); },
  };
}

} // namespace actorrent
