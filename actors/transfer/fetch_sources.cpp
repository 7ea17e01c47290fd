// The download's sources and pieces: connecting through the connector,
// source states, filling request windows, verified and bad pieces, stalls.
// Lifecycle: piece_fetcher.cpp.
#include <algorithm>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/limits.hpp"
#include "actors/core/log.hpp"
#include "actors/transfer/connect.hpp"
#include "actors/transfer/piece_fetcher.hpp"
#include "actors/transfer/piece_stream.hpp"
#include "actors/transfer/stream_source.hpp"

namespace actorrent {

namespace {
constexpr int max_bad_pieces = 3;
constexpr auto reconnect_delay = std::chrono::seconds(3);
// How long a source that answered busy gets no requests.
constexpr auto busy_backoff = std::chrono::milliseconds(500);
// Spare sources connected beyond what fills the download window.
constexpr uint32_t spare_sources = 2;

bool adds_pieces(const bitfield& holds, const bitfield& covered) {
  for (uint32_t p = 0; p < covered.size(); ++p)
    if (holds.test(p) && !covered.test(p))
      return true;
  return false;
}
} // namespace

// Enough to fill the download window at the per-source window, two spares,
// at most `max_sources`. A small download needs a few connections, not one
// per holder (each costs a connect and a connection); more follow as the
// window grows or pieces lack a source.
uint32_t piece_fetcher_state::wanted_sources() const {
  auto per = std::max<uint32_t>(opts.window, 1);
  return std::min<uint32_t>(opts.max_sources,
                            (window.limit() + per - 1) / per + spare_sources);
}

void piece_fetcher_state::on_info(pb::FileInfo& info) {
  if (!manifest) {
    if (!start(info.manifest()))
      return;
  } else if (info.manifest().file_sha256() != manifest->file_sha256()) {
    return; // another version of the name is announced; keep ours
  }
  if (info.has_ticket())
    ticket = info.ticket();
  informed = true;
  auto now = self->clock().now();
  // At most `max_sources` connected: those holding the most first.
  uint32_t connected = 0;
  for (auto& kvp : sources)
    if (kvp.second.state == source_state::active
        || kvp.second.state == source_state::connecting)
      ++connected;
  std::vector<const pb::Source*> offered;
  for (auto& s : info.sources())
    if (s.peer_id() != opts.self_id)
      offered.push_back(&s);
  std::stable_sort(offered.begin(), offered.end(), [](auto* a, auto* b) {
    return a->pieces_held() > b->pieces_held();
  });
  // Pieces held here or by a source connected or connecting.
  auto n = picker->have().size();
  bitfield covered = picker->have();
  auto cover = [&](const std::string& holds) {
    bitfield b{n, holds};
    for (uint32_t p = 0; p < n; ++p)
      if (b.test(p))
        covered.set(p);
  };
  for (auto& kvp : sources)
    if (kvp.second.state == source_state::active
        || kvp.second.state == source_state::connecting)
      cover(kvp.second.holds);
  auto wanted = wanted_sources();
  std::set<std::string> named;
  for (auto* sp : offered) {
    auto& s = *sp;
    named.insert(s.peer_id());
    auto [i, added] = sources.try_emplace(s.peer_id());
    auto& id = i->first;
    auto& src = i->second;
    if (added)
      src.window = source_window{opts.window};
    if (src.state == source_state::banned)
      continue;
    src.holds = s.bitfield();
    auto port = static_cast<uint16_t>(s.port());
    if (added || src.host != s.host() || src.port != port
        || src.mirror_id != s.mirror_id()) {
      LOG_DEBUG("piece_fetcher", opts.name << ": source " << id << " at "
                                           << s.host() << ":" << port);
      src.host = s.host();
      src.port = port;
      src.mirror_id = s.mirror_id();
      if (src.state == source_state::active)
        continue; // the next connection goes to the new address
      set_state(id, src, source_state::lost, added ? "new" : "moved");
      src.retry_at = now;
    }
    if (src.state == source_state::active)
      picker->set_source(id, bitfield{picker->have().size(), src.holds});
    else if (src.state == source_state::lost && now >= src.retry_at
             && connected < opts.max_sources
             && (connected < wanted
                 || adds_pieces(bitfield{n, src.holds}, covered))) {
      connect(id);
      cover(src.holds);
      ++connected;
    }
  }
  // Sources neither connected nor named in this answer are forgotten (a
  // lost one once it may be retried): the map stays as small as the
  // answers, however many hold the file.
  for (auto i = sources.begin(); i != sources.end();) {
    auto& src = i->second;
    if (src.state == source_state::lost && now >= src.retry_at
        && named.count(i->first) == 0)
      i = sources.erase(i);
    else
      ++i;
  }
  // Short of sources: none connected, or missing pieces that no source
  // connected or connecting holds.
  bool short_of_sources = connected == 0 || !covered.all();
  next_refresh = now + backoff.after_answer(short_of_sources);
  schedule();
}

void piece_fetcher_state::connect(const std::string& id) {
  auto& src = sources[id];
  set_state(id, src, source_state::connecting);
  auto epoch = ++src.epoch;
  auto self = this->self;
  connect_piece_server(
    self, opts.connector, src.host, src.port, src.mirror_id,
    [self, id, epoch](piece_server_actor h) {
      self->state.on_connected(id, epoch, std::move(h));
    },
    [self, id, epoch](const caf::error& err) {
      self->state.on_connect_error(id, epoch, err);
    });
}

void piece_fetcher_state::connect_more(caf::actor_clock::time_point now) {
  uint32_t connected = 0;
  for (auto& kvp : sources)
    if (kvp.second.state == source_state::active
        || kvp.second.state == source_state::connecting)
      ++connected;
  auto wanted = wanted_sources();
  for (auto& [id, src] : sources) {
    if (connected >= wanted)
      return;
    if (src.state == source_state::lost && now >= src.retry_at) {
      connect(id);
      ++connected;
    }
  }
}

void piece_fetcher_state::on_connected(const std::string& id, uint64_t epoch,
                                       piece_server_actor handle) {
  auto i = sources.find(id);
  if (i == sources.end() || i->second.epoch != epoch)
    return; // stale: dropped or reconnected since
  if (opts.streams && i->second.mirror_id.empty())
    ask_stream(id, epoch, std::move(handle));
  else
    activate(id, i->second, std::move(handle));
}

void piece_fetcher_state::ask_stream(const std::string& id, uint64_t epoch,
                                     piece_server_actor handle) {
  pb::StreamRequest r;
  r.set_name(opts.name);
  r.set_file_sha256(manifest->file_sha256());
  if (!ticket.signature().empty())
    *r.mutable_ticket() = ticket;
  auto self = this->self;
  auto on_answer = [self, id, epoch, handle](const pb::StreamGrant* g,
                                             const caf::error* err) {
    auto& st = self->state;
    auto i = st.sources.find(id);
    if (i == st.sources.end() || i->second.epoch != epoch)
      return;
    auto& src = i->second;
    if (!g || g->token().size() != stream_wire::token_size || g->port() == 0
        || g->port() > 65535) {
      LOG_DEBUG("piece_fetcher", st.opts.name << ": no stream from " << id
                                              << (err ? ": " + render(*err)
                                                      : ""));
      st.activate(id, src, handle);
      return;
    }
    stream_source_options so{src.host,
                             static_cast<uint16_t>(g->port()),
                             g->token(),
                             st.opts.name,
                             st.manifest->piece_size(),
                             self->address()};
    src.streamed = true;
    st.activate(id, src, self->spawn(stream_source, std::move(so)));
  };
  self->request(handle, piece_server_connect_timeout, stream_atom::value,
                std::move(r))
    .then([on_answer](const pb::StreamGrant& g) { on_answer(&g, nullptr); },
          [on_answer](const caf::error& err) { on_answer(nullptr, &err); });
}

void piece_fetcher_state::activate(const std::string& id, fetch_source& src,
                                   piece_server_actor handle) {
  src.handle = std::move(handle);
  self->monitor(src.handle);
  set_state(id, src, source_state::active);
  picker->set_source(id, bitfield{picker->have().size(), src.holds});
  schedule();
}

void piece_fetcher_state::on_connect_error(const std::string& id,
                                           uint64_t epoch,
                                           const caf::error& err) {
  auto i = sources.find(id);
  if (i != sources.end() && i->second.epoch == epoch)
    drop(id, source_state::lost, "cannot connect: " + render(err));
  schedule();
}

void piece_fetcher_state::set_state(const std::string& id, fetch_source& src,
                                    source_state to, std::string why) {
  if (src.state == to && why == src.reason)
    return;
  std::string line = opts.name + ": source " + id + " " + to_string(src.state)
                     + " -> " + to_string(to)
                     + (why.empty() ? "" : " (" + why + ")");
  bool dropped = to == source_state::banned
                 || (to == source_state::lost
                     && src.state != source_state::lost);
  if (dropped)
    LOG_WARN("piece_fetcher", line);
  else
    LOG_DEBUG("piece_fetcher", line);
  if (src.state == source_state::active && to != source_state::active) {
    active.erase(std::find_if(active.begin(), active.end(),
                              [&](auto& a) { return a.second == &src; }));
  } else if (to == source_state::active && src.state != source_state::active) {
    auto& key = sources.find(id)->first;
    active.insert(std::lower_bound(active.begin(), active.end(), key,
                                   [](auto& a, auto& k) { return *a.first < k; }),
                  {&key, &src});
  }
  src.state = to;
  src.reason = std::move(why);
}

void piece_fetcher_state::drop(const std::string& id, source_state to,
                               std::string why) {
  auto i = sources.find(id);
  if (i == sources.end() || i->second.state == source_state::banned)
    return;
  auto& src = i->second;
  std::vector<uint32_t> lost;
  if (picker)
    lost = picker->remove_source(id);
  set_state(id, src, to, std::move(why));
  if (!lost.empty())
    LOG_INFO("piece_fetcher", opts.name << ": " << lost.size()
                                        << " pieces in flight at " << id
                                        << " go to other sources");
  if (src.handle)
    self->demonitor(src.handle.address());
  if (src.streamed)
    self->send_exit(src.handle, caf::exit_reason::user_shutdown);
  src.streamed = false;
  src.handle = nullptr;
  ++src.epoch;
  src.retry_at = self->clock().now() + reconnect_delay;
  want_sources();
}

void piece_fetcher_state::schedule() {
  if (!picker || state == download_state::fetching_info || finished())
    return;
  if (picker->complete()) {
    if (writing.empty())
      finish();
    return;
  }
  // One request per source and round, from a source that moves on each
  // time, until the download window is full or no source takes more. The
  // window counts pieces: the endgame's few duplicates (the last
  // piece_picker::endgame_pieces, at two sources each) come on top, and
  // so do pieces overdue (asked for longer ago than the endgame delay and
  // four of the fastest replies): a source that stopped answering holds up
  // only its own window until it times out, not the download.
  auto now = self->clock().now();
  auto cap = window.limit();
  auto overdue_after = std::max<caf::timespan>(
    picker->endgame_delay,
    window.min_rtt == download_window::duration::max() ? caf::timespan{0}
                                                       : 4 * window.min_rtt);
  // Counted only when the window is full without them (it walks the
  // pieces in flight); requests made in this round are not overdue.
  std::optional<size_t> overdue;
  auto full = [&] {
    auto n = picker->pieces_in_flight();
    if (n < cap || picker->endgame())
      return false;
    if (!overdue)
      overdue = picker->requested_before(now - overdue_after);
    return n >= cap + *overdue;
  };
  if (!full() && picker->can_pick()) {
    std::vector<std::pair<const std::string*, fetch_source*>> ready;
    for (auto& a : active)
      if (a.second->busy_until <= now
          && picker->in_flight(*a.first) < a.second->window.limit())
        ready.push_back(a);
    if (!ready.empty())
      std::rotate(ready.begin(), ready.begin() + (turn++ % ready.size()),
                  ready.end());
    while (!ready.empty() && !full()) {
      size_t kept = 0;
      for (auto& r : ready) {
        if (full())
          break;
        auto& id = *r.first;
        auto& src = *r.second;
        // Small pieces go several to a request (never to a stream: it
        // pipelines its requests itself).
        auto most = src.streamed ? size_t{1} : pieces_per_request();
        std::vector<uint32_t> batch;
        while (batch.size() < most && picker->in_flight(id) < src.window.limit()
               && !full()) {
          auto p = picker->pick(id, now);
          if (!p)
            break;
          picker->requested(*p, id, now);
          batch.push_back(*p);
        }
        if (batch.empty())
          continue;
        request_pieces(id, src, std::move(batch));
        if (picker->in_flight(id) < src.window.limit())
          ready[kept++] = r;
      }
      ready.resize(std::min(kept, ready.size()));
    }
    // Pieces to ask for, room in the window, no source to take them: more
    // of the sources the tracker named.
    if (!full() && picker->can_pick())
      connect_more(now);
  }
  check_stall();
}

size_t piece_fetcher_state::pieces_per_request() const {
  return std::clamp<size_t>(request_bytes / manifest->piece_size(), 1,
                            max_batch_pieces);
}

void piece_fetcher_state::request_pieces(const std::string& id,
                                         fetch_source& src,
                                         std::vector<uint32_t> ps) {
  // Ascending: a file's shorter last piece is the last in the reply.
  std::sort(ps.begin(), ps.end());
  pb::PieceRequest req;
  req.set_name(opts.name);
  req.set_index(ps.front());
  for (size_t k = 1; k < ps.size(); ++k)
    req.add_more(ps[k]);
  req.set_file_sha256(manifest->file_sha256());
  if (!ticket.signature().empty())
    *req.mutable_ticket() = ticket;
  auto epoch = src.epoch;
  auto self = this->self;
  auto sent = self->clock().now();
  self->request(src.handle, src.latency.timeout(opts.request_timeout),
                piece_atom::value, std::move(req))
    .then(
      [self, id, epoch, ps, sent](const pb::PieceHeader& hdr,
                                  piece_bytes& data) {
        auto& st = self->state;
        if (auto i = st.sources.find(id);
            i != st.sources.end() && i->second.epoch == epoch) {
          auto rtt = self->clock().now() - sent;
          i->second.latency.sample(rtt);
          // One reply per piece delivered (at most those asked for).
          auto n = std::min<size_t>(ps.size(), 1 + hdr.more_size());
          for (size_t k = 0; k < n; ++k) {
            i->second.window.on_reply();
            st.window.on_reply(rtt);
          }
        }
        st.on_pieces(id, epoch, ps, hdr, data);
      },
      [self, id, epoch, ps](const caf::error& err) {
        self->state.on_piece_error(id, epoch, ps, err);
      });
}

std::optional<std::vector<uint32_t>>
piece_fetcher_state::delivered(const std::vector<uint32_t>& asked,
                               const pb::PieceHeader& hdr,
                               size_t bytes) const {
  if (hdr.index() != asked.front())
    return std::nullopt;
  std::vector<uint32_t> got{hdr.index()};
  size_t total = piece_length(*manifest, hdr.index());
  auto next = asked.begin() + 1;
  for (auto p : hdr.more()) {
    next = std::find(next, asked.end(), p);
    if (next == asked.end())
      return std::nullopt; // not asked for, or out of order
    ++next;
    got.push_back(p);
    total += piece_length(*manifest, p);
  }
  if (total != bytes)
    return std::nullopt;
  return got;
}

void piece_fetcher_state::on_pieces(const std::string& id, uint64_t epoch,
                                    const std::vector<uint32_t>& asked,
                                    const pb::PieceHeader& hdr,
                                    piece_bytes& data) {
  auto got = delivered(asked, hdr, data.size());
  if (!got) {
    on_piece_error(id, epoch, asked,
                   make_error(errc::bad_message, "wrong pieces"));
    return;
  }
  bytes_received += data.size();
  lib->bytes_received += data.size();
  // Asked for and left out: any source may be asked for them again.
  for (auto p : asked)
    if (std::find(got->begin(), got->end(), p) == got->end())
      picker->failed(p, id);
  // Endgame duplicates (or a download that ended) are not written.
  std::vector<uint32_t> keep;
  for (auto p : *got) {
    if (finished() || picker->have(p) || writing.count(p) > 0)
      picker->failed(p, id);
    else
      keep.push_back(p);
  }
  if (keep.empty()) {
    schedule();
    return;
  }
  if (keep.size() < got->size()) {
    piece_bytes kept(data.size());
    size_t from = 0;
    size_t to = 0;
    auto k = keep.begin();
    for (auto p : *got) {
      auto len = piece_length(*manifest, p);
      if (k != keep.end() && *k == p) {
        std::copy(data.data() + from, data.data() + from + len,
                  kept.data() + to);
        to += len;
        ++k;
      }
      from += len;
    }
    data = piece_bytes(kept.data(), to);
  }
  for (auto p : keep)
    writing.insert(p);
  // The least busy writer: hashing and writing spread over its threads.
  auto w = static_cast<size_t>(
    std::min_element(writer_load.begin(), writer_load.end())
    - writer_load.begin());
  writer_load[w] += static_cast<uint32_t>(keep.size());
  auto self = this->self;
  // The writer is local and linked: if it dies, so does this request.
  self->request(writers[w], caf::infinite, write_atom::value, keep,
                std::move(data))
    .then(
      [self, id, keep, w](const std::vector<uint32_t>& bad) {
        self->state.on_written(id, keep, w, bad);
      },
      [self](const caf::error& err) { self->state.fail(render(err)); });
}

void piece_fetcher_state::on_piece_error(const std::string& id,
                                         uint64_t epoch,
                                         const std::vector<uint32_t>& asked,
                                         const caf::error& err) {
  auto i = sources.find(id);
  if (i == sources.end() || i->second.epoch != epoch)
    return; // stale: the source was dropped already
  for (auto p : asked)
    picker->failed(p, id);
  if (err == caf::sec::request_timeout || is(err, errc::busy)) {
    i->second.window.on_overload();
    window.on_overload();
  }
  if (err == caf::sec::request_timeout)
    i->second.latency.timed_out();
  // An error names the request's first piece.
  auto p = asked.front();
  if (is(err, errc::bad_piece)) {
    // The source no longer claims the piece; stop asking it for it.
    bitfield b{picker->have().size(), i->second.holds};
    b.reset(p);
    i->second.holds = b.bytes();
    picker->set_source(id, b);
  } else if (is(err, errc::busy)) {
    // A paced source that cannot answer in time: its pieces go to the
    // others; it is asked again after a while.
    i->second.busy_until = self->clock().now() + busy_backoff;
  } else {
    drop(id, source_state::lost,
         "piece " + std::to_string(p) + ": " + render(err));
  }
  schedule();
}

void piece_fetcher_state::on_written(const std::string& id,
                                     const std::vector<uint32_t>& pieces,
                                     size_t writer,
                                     const std::vector<uint32_t>& bad) {
  writer_load[writer] -= static_cast<uint32_t>(pieces.size());
  std::vector<uint32_t> verified;
  for (auto p : pieces) {
    writing.erase(p);
    if (std::find(bad.begin(), bad.end(), p) != bad.end()) {
      on_bad_piece(id, p);
      continue;
    }
    LOG_DEBUG("piece_fetcher", opts.name << ": piece " << p
                                         << " verified from " << id);
    picker->done(p);
    bytes_done += piece_length(*manifest, p);
    verified.push_back(p);
  }
  // The peer records the pieces (resume) and tells the tracker.
  if (!verified.empty())
    self->send(peer, have_atom::value, opts.name, std::move(verified));
  schedule();
}

void piece_fetcher_state::on_bad_piece(const std::string& id, uint32_t p) {
  picker->failed(p, id);
  auto i = sources.find(id);
  // Only an active source's pieces count (a banned one's were counted).
  bool counts = i != sources.end() && i->second.state == source_state::active;
  if (counts && !i->second.mirror_id.empty()) {
    // Placement has the mirror check that part (at most 3 reports per
    // mirror and download: it is banned at the third).
    pb::BadPieceReport r;
    r.set_file_sha256(manifest->file_sha256());
    r.set_piece(p);
    r.set_mirror_id(i->second.mirror_id);
    self->send(peer, corrupt_atom::value, std::move(r));
  }
  if (counts && ++i->second.bad_pieces >= max_bad_pieces) {
    drop(id, source_state::banned,
         "sent " + std::to_string(max_bad_pieces)
           + " pieces that failed their SHA-256");
    report();
    return;
  }
  LOG_WARN("piece_fetcher", opts.name << ": piece " << p << " from " << id
                                      << " failed its SHA-256");
}

void piece_fetcher_state::check_stall() {
  // A resumed download knows no sources before the first answer.
  if (!informed || (state != download_state::downloading
                    && state != download_state::stalled))
    return;
  for (auto& kvp : sources)
    if (kvp.second.state == source_state::connecting)
      return;
  // Pieces on their way or being written: progress (checked first: this
  // runs after every reply, the walk over the pieces only when idle).
  bool busy = !writing.empty() || picker->in_flight() > 0;
  auto missing = busy ? std::vector<uint32_t>{} : picker->unavailable();
  auto total_missing = picker->have().size() - picker->have().count();
  if (missing.empty() || busy || missing.size() < total_missing) {
    if (state == download_state::stalled)
      transition(download_state::downloading);
    return;
  }
  std::string why = std::to_string(missing.size())
                    + " pieces have no online source: ";
  for (size_t i = 0; i < missing.size() && i < 10; ++i)
    why += (i ? "," : "") + std::to_string(missing[i]);
  if (missing.size() > 10)
    why += ",...";
  if (opts.fail_when_stalled)
    fail(why);
  else if (state != download_state::stalled) {
    transition(download_state::stalled, why);
    report();
  }
}

} // namespace actorrent
