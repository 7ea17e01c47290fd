// The download's lifecycle: options, manifest and writer, refresh and tick
// timers, completion and failure. Sources and pieces: fetch_sources.cpp.
#include "actors/transfer/piece_fetcher.hpp"

#include <algorithm>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/log.hpp"
#include "actors/transfer/piece_writer.hpp"

namespace actorrent {

namespace {
constexpr auto info_timeout = std::chrono::seconds(5);
constexpr auto tick_interval = std::chrono::milliseconds(250);

uint32_t writer_count(const fetch_options& opts) {
  if (opts.writers > 0)
    return opts.writers;
  if (opts.blocking != blocking_mode::detached)
    return 2;
  return std::clamp(2 * std::thread::hardware_concurrency(), 2u, 8u);
}

// Until the manifest is known, the peer is asked again this soon after a
// question failed.
constexpr auto first_info_retry = std::chrono::milliseconds(20);
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

pb::DownloadState to_proto(download_state x) {
  switch (x) {
    case download_state::fetching_info:
      return pb::FETCHING_INFO;
    case download_state::downloading:
      return pb::DOWNLOADING;
    case download_state::verifying:
      return pb::VERIFYING;
    case download_state::complete:
      return pb::COMPLETE;
    case download_state::stalled:
      return pb::STALLED;
    default:
      return pb::FAILED;
  }
}

pb::SourceState to_proto(source_state x) {
  switch (x) {
    case source_state::connecting:
      return pb::SOURCE_CONNECTING;
    case source_state::active:
      return pb::SOURCE_ACTIVE;
    case source_state::lost:
      return pb::SOURCE_LOST;
    default:
      return pb::SOURCE_BANNED;
  }
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
  s.set_state(to_proto(state));
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
  uint32_t busy = 0;
  auto now = self->clock().now();
  for (auto& [id, src] : sources) {
    if (src.state == source_state::active)
      ++active;
    if (src.state == source_state::active && src.busy_until > now)
      ++busy;
    if (src.state == source_state::banned)
      s.add_banned(id + ": " + src.reason);
    auto& detail = *s.add_source_states();
    detail.set_peer_id(id);
    detail.set_state(to_proto(src.state));
    detail.set_reason(src.reason);
  }
  s.set_sources(active);
  if (state == download_state::downloading && active > 0 && busy == active)
    s.set_reason("stalled: sources busy");
  return s;
}

piece_fetcher_state::~piece_fetcher_state() {
  if (self == nullptr)
    return;
  for (auto& kvp : sources)
    if (kvp.second.handle)
      self->demonitor(kvp.second.handle.address());
}

bool piece_fetcher_state::init(pointer me, fetch_options o, peer_actor p,
                               std::shared_ptr<library> l) {
  self = me;
  opts = std::move(o);
  peer = std::move(p);
  lib = std::move(l);
  rate_time = self->clock().now();
  window = download_window{opts.window, opts.max_in_flight};
  backoff = refresh_backoff{opts.refresh_interval,
                            std::max(opts.refresh_interval, opts.refresh_max)};
  if (!opts.io || !opts.connector || !lib) {
    fail("no file access, connector or library given");
    return false;
  }
  if (opts.manifest && !start(*opts.manifest))
    return false;
  self->send(self, refresh_atom::value);
  self->send(self, tick_atom::value);
  return true;
}

bool piece_fetcher_state::start(const pb::Manifest& m) {
  std::string why;
  if (!valid_manifest(m, why)) {
    fail(why);
    return false;
  }
  auto n = static_cast<uint32_t>(m.piece_sha256_size());
  bitfield have{n};
  if (opts.manifest && opts.manifest->file_sha256() == m.file_sha256())
    have = bitfield{n, opts.have};
  manifest = std::make_shared<const pb::Manifest>(m);
  picker.emplace(have, opts.seed);
  for (uint32_t i = 0; i < n; ++i)
    if (have.test(i))
      bytes_done += piece_length(m, i);
  // The peer records the manifest: after a restart it resumes from it.
  self->send(peer, manifest_atom::value, m);
  // A group file is stored under its name within the group.
  std::string group, file_name = m.name();
  split_group_key(m.name(), group, file_name);
  writer_options wo{manifest, part_path(opts.dest_dir, file_name),
                    opts.dest_dir + "/" + file_name, have, opts.io,
                    std::make_shared<written_set>(have)};
  lib->put(local_file{m, wo.part_path, have, group});
  for (uint32_t i = 0; i < writer_count(opts); ++i)
    writers.push_back(spawn_blocking<caf::linked>(self, opts.blocking,
                                                  piece_writer, wo, lib));
  writer_load.assign(writers.size(), 0);
  transition(download_state::downloading,
             have.count() > 0
               ? "resuming with " + std::to_string(have.count())
                   + " verified pieces"
               : "");
  return true;
}

void piece_fetcher_state::refresh() {
  if (finished())
    return;
  auto self = this->self;
  // One question at a time; until the manifest is known, a failed one is
  // asked again soon (on_info_error), later ones when the tick finds them
  // due.
  if (asking || (manifest && self->clock().now() < next_refresh))
    return;
  pb::FileQuery q;
  q.set_name(opts.name);
  // Twice the sources it connects and a few: failover without asking
  // again, and less for the tracker to find and for this fetcher to merge.
  q.set_want(2 * wanted_sources() + 4);
  asking = true;
  last_refresh = self->clock().now();
  next_refresh = last_refresh + backoff.max; // until the answer
  self->request(peer, info_timeout, info_atom::value, q)
    .then(
      [self](pb::FileInfo& info) {
        self->state.asking = false;
        self->state.on_info(info);
      },
      [self](const caf::error& err) {
        self->state.asking = false;
        self->state.on_info_error(err);
      });
}

void piece_fetcher_state::want_sources() {
  backoff.reset();
  if (!manifest || finished())
    return;
  next_refresh = std::min(next_refresh, last_refresh + opts.refresh_interval);
  refresh(); // now, if the last question is that long ago
}

void piece_fetcher_state::on_info_error(const caf::error& err) {
  next_refresh = self->clock().now() + backoff.after_answer(true);
  if (is(err, errc::unknown_file) && !manifest && opts.fail_when_stalled) {
    fail("the tracker does not know " + opts.name);
    return;
  }
  if (!manifest)
    self->delayed_send(self, first_info_retry, refresh_atom::value);
  LOG_DEBUG("piece_fetcher", opts.name << ": no sources: " << render(err));
  schedule();
}

void piece_fetcher_state::tick() {
  auto now = self->clock().now();
  auto secs = std::chrono::duration<double>(now - rate_time).count();
  if (secs > 0)
    rate_bps = 0.5 * rate_bps
               + 0.5 * static_cast<double>(bytes_received - rate_mark) / secs;
  rate_mark = bytes_received;
  rate_time = now;
  if (manifest)
    refresh(); // when due
  report();
  schedule(); // endgame: duplicate requests that waited too long
  self->delayed_send(self, tick_interval, tick_atom::value);
}

void piece_fetcher_state::finish() {
  transition(download_state::verifying);
  report();
  auto self = this->self;
  // The writer is local and linked: if it dies, so does this request.
  self->request(writers.front(), caf::infinite, finish_atom::value)
    .then([self](const std::string& path) { self->state.complete(path); },
          [self](const caf::error& err) { self->state.fail(render(err)); });
}

void piece_fetcher_state::complete(const std::string& path) {
  final_path = path;
  transition(download_state::complete);
  report();
  stop();
}

void piece_fetcher_state::fail(std::string why) {
  transition(download_state::failed, std::move(why));
  report();
  stop();
}

void piece_fetcher_state::stop() {
  // A writer ignores the normal exit of its link partner.
  for (auto& w : writers)
    self->send_exit(w, caf::exit_reason::user_shutdown);
  for (auto& kvp : sources)
    if (kvp.second.streamed)
      self->send_exit(kvp.second.handle, caf::exit_reason::user_shutdown);
  self->quit();
}

void piece_fetcher_state::report() {
  self->send(peer, status_atom::value, status());
}

bool piece_fetcher_state::finished() const {
  return state == download_state::complete || state == download_state::failed
         || state == download_state::verifying;
}

void piece_fetcher_state::on_down(const caf::down_msg& dm) {
  for (auto& [id, src] : sources)
    if (src.handle && src.handle.address() == dm.source) {
      drop(id, source_state::lost, "connection lost");
      break;
    }
  schedule();
}

void piece_fetcher_state::on_exit(const caf::exit_msg& em) {
  for (auto& w : writers)
    if (em.source == w.address()) {
      if (em.reason)
        fail("writer ended: " + render(em.reason));
      return;
    }
  if (em.reason) {
    for (auto& w : writers)
      self->send_exit(w, em.reason);
    self->quit(em.reason);
  }
}

fetcher_actor::behavior_type
piece_fetcher(piece_fetcher_state::pointer self, fetch_options opts,
              peer_actor peer, std::shared_ptr<library> lib) {
  self->set_down_handler(
    [self](caf::down_msg& dm) { self->state.on_down(dm); });
  self->set_exit_handler(
    [self](caf::exit_msg& em) { self->state.on_exit(em); });
  if (!self->state.init(self, std::move(opts), std::move(peer),
                        std::move(lib)))
    return fetcher_actor::behavior_type::make_empty_behavior();
  return {
    [self](refresh_atom) { self->state.refresh(); },
    [self](tick_atom) { self->state.tick(); },
    [self](status_atom) { return self->state.status(); },
  };
}

} // namespace actorrent
