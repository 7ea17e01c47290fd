#include "actors/mirror/mirror_server.hpp"
#include "actors/transfer/piece_server.hpp"

#include <regex>
#include <set>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/limits.hpp"
#include "actors/core/log.hpp"
#include "actors/core/manifest.hpp"
#include "actors/node/unexpected.hpp"
#include "actors/transfer/connect.hpp"

namespace actorrent {

namespace {

constexpr size_t max_sources = 64;
constexpr auto register_timeout = std::chrono::seconds(5);
constexpr auto max_backoff = std::chrono::milliseconds(5000);

std::string part_file(const std::string& dir, const std::string& sha,
                      uint32_t part) {
  return dir + "/" + hex(sha) + "." + std::to_string(part);
}

} // namespace

const char* to_string(registration x) {
  switch (x) {
    case registration::unregistered: return "unregistered";
    case registration::registering: return "registering";
    case registration::registered: return "registered";
  }
  return "?";
}

const char* to_string(copy_state x) {
  switch (x) {
    case copy_state::connecting: return "connecting";
    case copy_state::copying: return "copying";
    case copy_state::stored: return "stored";
    case copy_state::failed: return "failed";
  }
  return "?";
}

// -- start ------------------------------------------------------------------------

bool mirror_state::init(mirror_options o, std::string& why) {
  opts = std::move(o);
  if (!opts.io || opts.id.empty() || opts.data_dir.empty()) {
    why = "mirror without id, data directory or file access";
    return false;
  }
  if (!opts.io->make_dirs(opts.data_dir)) {
    why = "cannot create data directory " + opts.data_dir;
    return false;
  }
  if (opts.index_db.empty())
    opts.index_db = opts.data_dir + "/index.db";
  try {
    index = std::make_unique<mirror_index>(opts.index_db);
    auto manifests = index->manifests();
    for (auto& p : index->parts()) {
      auto m = manifests.find(p.file_sha256);
      if (m == manifests.end())
        continue;
      part_layout layout{m->second, p.part_size};
      auto path = part_file(opts.data_dir, p.file_sha256, p.part);
      uint64_t size = 0;
      int64_t mtime = 0;
      if (!opts.io->stat(path, size, mtime)
          || size != layout.bytes(m->second, p.part)) {
        LOG_WARN("mirror", opts.id << ": part " << p.part << " of "
                                   << m->second.name()
                                   << " is missing on disk; forgotten");
        index->drop(p.file_sha256, p.part);
        continue;
      }
      auto& f = files[p.file_sha256];
      f.manifest = m->second;
      f.parts[p.part] = mirror_part{p.part_size, path};
      bytes_stored += size;
    }
  } catch (const std::exception& e) {
    why = std::string{"mirror index: "} + e.what();
    return false;
  }
  remove_leftovers();
  size_t parts = 0;
  for (auto& [sha, f] : files)
    parts += f.parts.size();
  LOG_INFO("mirror", opts.id << ": " << parts << " parts, " << bytes_stored
                             << " bytes in " << opts.data_dir);
  return true;
}

void mirror_state::remove_leftovers() {
  // A copy cut short (*.partial) or a part renamed into place but never
  // indexed (a crash in between) is not held: its file goes.
  static const std::regex part_file_name{"[0-9a-f]{64}\\.[0-9]+(\\.partial)?"};
  std::set<std::string> held;
  for (auto& [sha, f] : files)
    for (auto& [part, p] : f.parts)
      held.insert(p.path);
  std::vector<std::string> names;
  if (!opts.io->list(opts.data_dir, names))
    return;
  for (auto& n : names) {
    auto path = opts.data_dir + "/" + n;
    if (std::regex_match(n, part_file_name) && held.count(path) == 0) {
      LOG_INFO("mirror", opts.id << ": removing leftover " << n);
      opts.io->remove(path);
    }
  }
}

// -- serving ----------------------------------------------------------------------

caf::result<pb::PieceHeader, piece_bytes>
mirror_state::serve(const pb::PieceRequest& req) {
  if (auto too_large = check_sizes(req); !too_large.empty())
    return make_error(errc::bad_message, too_large);
  if (req.file_sha256().size() != 32)
    return make_error(errc::bad_message, "a mirror needs the file's SHA-256");
  auto i = files.find(req.file_sha256());
  if (i == files.end())
    return make_error(errc::unknown_file, "no part of that file here");
  auto& m = i->second.manifest;
  if (req.index() >= static_cast<uint32_t>(m.piece_sha256_size()))
    return make_error(errc::bad_piece, "piece index out of range");
  // Every stored part of a file has the same size: take any.
  part_layout layout{m, i->second.parts.begin()->second.part_size};
  auto& parts = i->second.parts;
  if (parts.count(layout.part_of(req.index())) == 0)
    return make_error(errc::bad_piece, "part not held here");
  // The request's index, then those of `more` whose part is here.
  std::vector<batch_piece> pieces{{req.index(), piece_length(m, req.index())}};
  size_t total = pieces.front().length;
  for (auto p : req.more())
    if (p < static_cast<uint32_t>(m.piece_sha256_size())
        && parts.count(layout.part_of(p)) > 0
        && total + piece_length(m, p) <= piece_bytes::max_size) {
      pieces.push_back({p, piece_length(m, p)});
      total += pieces.back().length;
    }
  pb::PieceHeader hdr;
  hdr.set_name(m.name());
  // Parts are written with O_DIRECT and each piece is served about once per
  // download: read past the page cache into the pooled aligned block.
  auto buf = read_batch(pieces, hdr, [&](size_t k, char* dst) {
    auto part = layout.part_of(pieces[k].index);
    uint64_t offset = uint64_t{pieces[k].index - layout.first(part)}
                      * m.piece_size();
    return opts.io->read_direct(parts.at(part).path, offset, dst,
                                pieces[k].length);
  });
  if (!buf)
    return buf.error();
  bytes_served += buf->size();
  return {std::move(hdr), std::move(*buf)};
}

// -- placement --------------------------------------------------------------------

pb::MirrorHello mirror_state::hello() const {
  pb::MirrorHello h;
  auto& a = *h.mutable_address();
  a.set_mirror_id(opts.id);
  a.set_host(opts.host);
  a.set_port(opts.port);
  h.set_capacity(opts.capacity);
  for (auto& [sha, f] : files)
    for (auto& [part, p] : f.parts) {
      auto& r = *h.add_parts();
      r.set_file_sha256(sha);
      r.set_part(part);
    }
  return h;
}

void mirror_state::set_registration(registration to, const std::string& why) {
  if (reg == to)
    return;
  LOG_INFO("mirror", opts.id << ": " << to_string(reg) << " -> "
                             << to_string(to)
                             << (why.empty() ? "" : " (" + why + ")"));
  reg = to;
}

void mirror_state::register_now() {
  if (reg != registration::unregistered)
    return;
  set_registration(registration::registering);
  auto epoch = ++reg_epoch;
  auto on_error = [this, epoch](const caf::error& err) {
    if (epoch == reg_epoch)
      unregister("cannot register: " + render(err));
  };
  self
    ->request(opts.connector, register_timeout, caf::connect_atom::value,
              tracker().host, tracker().port)
    .then(
      [this, epoch, on_error](const caf::node_id&, caf::strong_actor_ptr& ptr,
                              const std::set<std::string>& ifs) {
        if (epoch != reg_epoch)
          return;
        if (!ptr || !self->system().assignable<placement_actor>(ifs))
          return on_error(make_error(errc::no_such_actor,
                                     "not a tracker with placement"));
        placement = caf::actor_cast<placement_actor>(ptr);
        self->monitor(placement);
        self->request(placement, register_timeout, register_atom::value, hello())
          .then(
            [this, epoch](caf::ok_atom) {
              if (epoch != reg_epoch)
                return;
              backoff = std::chrono::milliseconds(250);
              set_registration(registration::registered);
            },
            on_error);
      },
      on_error);
}

void mirror_state::unregister(const std::string& why) {
  if (reg == registration::unregistered)
    return;
  set_registration(registration::unregistered, why);
  ++reg_epoch;
  if (placement)
    self->demonitor(placement.address());
  placement = nullptr;
  if (opts.trackers.size() > 1) {
    tracker_index = (tracker_index + 1) % opts.trackers.size();
    LOG_INFO("mirror", opts.id << ": next tracker " << tracker().str());
  }
  self->delayed_send(self, backoff, register_atom::value);
  backoff = std::min(backoff * 2, max_backoff);
}

void mirror_state::heartbeat() {
  self->delayed_send(self, opts.heartbeat, heartbeat_atom::value);
  if (reg != registration::registered)
    return;
  pb::MirrorBeat beat;
  beat.set_mirror_id(opts.id);
  beat.set_bytes_stored(bytes_stored);
  auto epoch = reg_epoch;
  // A beat that takes longer than a few beats means the tracker is hung.
  self->request(placement, opts.heartbeat * 4, heartbeat_atom::value, beat)
    .then([](caf::ok_atom) {},
          [this, epoch](const caf::error& err) {
            if (epoch != reg_epoch)
              return;
            if (is(err, errc::unknown_mirror)) {
              // Placement restarted or lost us: register again at once.
              set_registration(registration::unregistered, "unknown to placement");
              ++reg_epoch;
              register_now();
              return;
            }
            unregister("heartbeat: " + render(err));
          });
}

// -- parts ------------------------------------------------------------------------

bool mirror_state::from_placement() const {
  auto s = self->current_sender();
  return s && placement && s->node() == placement.node();
}

bool mirror_state::from_self() const {
  return self->current_sender() == caf::actor_cast<caf::strong_actor_ptr>(self);
}

caf::result<pb::PartStored> mirror_state::copy(const pb::PartCopy& req) {
  if (!from_placement())
    return make_error(errc::denied, "copies are placement's to ask for");
  auto& m = req.manifest();
  auto why = check_sizes(m, nullptr, limits{});
  if (!why.empty())
    return make_error(errc::bad_message, "manifest: " + why);
  if (!valid_manifest(m, why))
    return make_error(errc::bad_message, "manifest: " + why);
  if (req.part_size() == 0 || m.piece_size() == 0
      || req.part_size() % m.piece_size() != 0)
    return make_error(errc::bad_message,
                      "part size must be a multiple of the piece size");
  part_layout layout{m, req.part_size()};
  if (req.part() >= layout.parts())
    return make_error(errc::bad_message, "part out of range");
  if (req.sources_size() == 0
      || static_cast<size_t>(req.sources_size()) > max_sources)
    return make_error(errc::bad_message, "between 1 and 64 sources");
  pb::PartStored out;
  out.set_file_sha256(m.file_sha256());
  out.set_part(req.part());
  out.set_bytes(layout.bytes(m, req.part()));
  if (auto f = files.find(m.file_sha256()); f != files.end()) {
    // Every part of a file here has one manifest and one part size.
    if (f->second.manifest.SerializeAsString() != m.SerializeAsString()
        || f->second.parts.begin()->second.part_size != req.part_size())
      return make_error(errc::conflict, "another manifest or part size of"
                                        " this file is stored here");
    if (f->second.parts.count(req.part()) > 0)
      return out; // already here
  }
  for (auto& [id, job] : copies)
    if (job.req.manifest().file_sha256() == m.file_sha256()
        && job.req.part() == req.part())
      return make_error(errc::conflict, "a copy of that part is running");
  uint64_t reserved = 0;
  for (auto& [cid, job] : copies)
    reserved += job.layout.bytes(job.req.manifest(), job.req.part());
  if (bytes_stored + reserved + out.bytes() > opts.capacity)
    return make_error(errc::io_failure, "mirror " + opts.id + " is full");
  auto id = ++next_copy;
  auto& job = copies[id];
  job.req = req;
  job.layout = layout;
  job.path = part_file(opts.data_dir, m.file_sha256(), req.part())
             + ".partial";
  if (auto err = opts.io->allocate(job.path, out.bytes()); !err.empty()) {
    copies.erase(id);
    return make_error(errc::io_failure, err);
  }
  for (auto p = layout.first(req.part()); p < layout.end(req.part()); ++p)
    job.todo.push_back(p);
  job.rp = self->make_response_promise<pb::PartStored>();
  LOG_DEBUG("mirror", opts.id << ": copying part " << req.part() << " of "
                              << m.name());
  auto rp = job.rp;
  connect(id);
  return rp;
}

void mirror_state::connect(uint64_t id) {
  auto& job = copies.at(id);
  job.state = copy_state::connecting;
  auto epoch = ++job.epoch;
  auto& src = job.req.sources(static_cast<int>(job.source));
  connect_piece_server(
    self, opts.connector, src.host(), static_cast<uint16_t>(src.port()),
    src.mirror_id(),
    [this, id, epoch](piece_server_actor h) {
      auto i = copies.find(id);
      if (i == copies.end() || i->second.epoch != epoch)
        return;
      i->second.handle = std::move(h);
      self->monitor(i->second.handle);
      i->second.state = copy_state::copying;
      fill(id);
    },
    [this, id, epoch](const caf::error& err) {
      auto i = copies.find(id);
      if (i != copies.end() && i->second.epoch == epoch)
        next_source(id, "cannot connect: " + render(err));
    });
}

void mirror_state::fill(uint64_t id) {
  auto& job = copies.at(id);
  auto epoch = job.epoch;
  while (job.in_flight.size() < opts.window && !job.todo.empty()) {
    auto p = job.todo.front();
    job.todo.pop_front();
    job.in_flight.insert(p);
    pb::PieceRequest req;
    req.set_name(job.req.manifest().name());
    req.set_index(p);
    req.set_file_sha256(job.req.manifest().file_sha256());
    self->request(job.handle, opts.request_timeout, piece_atom::value, req)
      .then(
        [this, id, epoch, p](const pb::PieceHeader&, piece_bytes& data) {
          on_piece(id, epoch, p, data);
        },
        [this, id, epoch, p](const caf::error& err) {
          auto i = copies.find(id);
          if (i == copies.end() || i->second.epoch != epoch)
            return;
          next_source(id, "piece " + std::to_string(p) + ": " + render(err));
        });
  }
}

void mirror_state::on_piece(uint64_t id, uint64_t epoch, uint32_t p,
                            piece_bytes& data) {
  auto i = copies.find(id);
  if (i == copies.end() || i->second.epoch != epoch)
    return;
  auto& job = i->second;
  auto& m = job.req.manifest();
  job.in_flight.erase(p);
  if (data.size() != piece_length(m, p)
      || sha256(data.data(), data.size()) != m.piece_sha256(static_cast<int>(p))) {
    job.todo.push_front(p);
    next_source(id, "piece " + std::to_string(p) + " failed its SHA-256");
    return;
  }
  uint64_t offset = uint64_t{p - job.layout.first(job.req.part())}
                    * m.piece_size();
  if (auto err = opts.io->write(job.path, offset, data.data(), data.size());
      !err.empty()) {
    job.rp.deliver(make_error(errc::io_failure, err));
    opts.io->remove(job.path);
    copies.erase(i);
    return;
  }
  ++job.done;
  if (job.done == job.layout.end(job.req.part()) - job.layout.first(job.req.part()))
    finish(id);
  else
    fill(id);
}

void mirror_state::next_source(uint64_t id, std::string why) {
  auto& job = copies.at(id);
  LOG_WARN("mirror", opts.id << ": copy of part " << job.req.part() << " of "
                             << job.req.manifest().name() << ": " << why);
  job.last_error = std::move(why);
  for (auto p : job.in_flight)
    job.todo.push_front(p);
  job.in_flight.clear();
  // Not demonitored: CAF 0.17 removes every monitor on an address at once,
  // and other copies may read from the same source. Down messages of
  // sources no copy uses are ignored.
  job.handle = nullptr;
  ++job.epoch;
  auto n = static_cast<size_t>(job.req.sources_size());
  if (++job.attempts >= 2 * n) {
    job.state = copy_state::failed;
    job.rp.deliver(make_error(errc::io_failure,
                              "no source delivered part "
                                + std::to_string(job.req.part()) + " (last: "
                                + job.last_error + ")"));
    opts.io->remove(job.path);
    copies.erase(id);
    return;
  }
  job.source = (job.source + 1) % n;
  connect(id);
}

void mirror_state::finish(uint64_t id) {
  auto node = copies.extract(id);
  auto& job = node.mapped();
  auto& m = job.req.manifest();
  auto part = job.req.part();
  auto path = part_file(opts.data_dir, m.file_sha256(), part);
  auto bytes = job.layout.bytes(m, part);
  if (auto err = opts.io->rename(job.path, path); !err.empty()) {
    opts.io->remove(job.path);
    job.rp.deliver(make_error(errc::io_failure, err));
    return;
  }
  try {
    index->add(m, part, job.req.part_size());
  } catch (const std::exception& e) {
    opts.io->remove(path);
    job.rp.deliver(make_error(errc::io_failure, e.what()));
    return;
  }
  auto& f = files[m.file_sha256()];
  f.manifest = m;
  f.parts[part] = mirror_part{job.req.part_size(), path};
  bytes_stored += bytes;
  job.state = copy_state::stored;
  LOG_INFO("mirror", opts.id << ": stored part " << part << " of "
                             << m.name() << " (" << bytes << " bytes)");
  pb::PartStored out;
  out.set_file_sha256(m.file_sha256());
  out.set_part(part);
  out.set_bytes(bytes);
  job.rp.deliver(std::move(out));
}

caf::result<caf::ok_atom> mirror_state::drop(const pb::PartRef& ref) {
  if (!from_placement())
    return make_error(errc::denied, "only placement drops parts");
  forget(ref.file_sha256(), ref.part());
  return caf::ok_atom::value;
}

void mirror_state::forget(const std::string& sha, uint32_t part) {
  auto f = files.find(sha);
  if (f == files.end())
    return;
  auto p = f->second.parts.find(part);
  if (p == f->second.parts.end())
    return;
  part_layout layout{f->second.manifest, p->second.part_size};
  bytes_stored -= std::min(bytes_stored, layout.bytes(f->second.manifest, part));
  opts.io->remove(p->second.path);
  try {
    index->drop(sha, part);
  } catch (const std::exception& e) {
    LOG_ERROR("mirror", opts.id << ": index: " << e.what());
  }
  LOG_INFO("mirror", opts.id << ": dropped part " << part << " of "
                             << f->second.manifest.name());
  f->second.parts.erase(p);
  if (f->second.parts.empty())
    files.erase(f);
}

void mirror_state::on_down(const caf::down_msg& dm) {
  if (placement && dm.source == placement.address()) {
    unregister("tracker connection lost");
    return;
  }
  std::vector<uint64_t> hit;
  for (auto& [id, job] : copies)
    if (job.handle && dm.source == job.handle.address())
      hit.push_back(id);
  for (auto id : hit)
    next_source(id, "source went down");
}

void mirror_state::scrub() {
  self->delayed_send(self, opts.scrub_interval, scrub_atom::value);
  if (files.empty())
    return;
  // The next stored piece at or after (scrub_file, scrub_piece).
  auto f = files.lower_bound(scrub_file);
  if (f == files.end()) {
    f = files.begin();
    scrub_piece = 0;
  } else if (f->first != scrub_file) {
    scrub_piece = 0;
  }
  auto& m = f->second.manifest;
  part_layout layout{m, f->second.parts.begin()->second.part_size};
  auto p = scrub_piece < layout.pieces
             ? f->second.parts.lower_bound(layout.part_of(scrub_piece))
             : f->second.parts.end();
  if (p == f->second.parts.end()) {
    // Past this file's last stored part: the next file.
    auto next = std::next(f);
    scrub_file = next == files.end() ? std::string{} : next->first;
    scrub_piece = 0;
    return;
  }
  auto piece = std::max(scrub_piece, layout.first(p->first));
  scrub_file = f->first;
  scrub_piece = piece + 1;
  std::string err;
  if (intact(f->second, p->first, piece, err))
    return;
  LOG_WARN("mirror", opts.id << ": scrub: piece " << piece << " of "
                             << m.name() << " is corrupt"
                             << (err.empty() ? "" : " (" + err + ")")
                             << "; part " << p->first << " dropped");
  pb::PartRef ref;
  ref.set_file_sha256(f->first);
  ref.set_part(p->first);
  ref.set_mirror_id(opts.id);
  forget(ref.file_sha256(), ref.part());
  if (reg == registration::registered)
    self->send(placement, corrupt_atom::value, ref);
}

bool mirror_state::intact(const mirror_file& f, uint32_t part, uint32_t piece,
                          std::string& err) const {
  auto& m = f.manifest;
  auto& stored = f.parts.at(part);
  part_layout layout{m, stored.part_size};
  piece_bytes buf(piece_length(m, piece));
  uint64_t offset = uint64_t{piece - layout.first(part)} * m.piece_size();
  err = opts.io->read_direct(stored.path, offset, buf.data(), buf.size());
  return err.empty()
         && sha256(buf.data(), buf.size())
              == m.piece_sha256(static_cast<int>(piece));
}

caf::result<bool> mirror_state::verify(const pb::PartRef& ref) {
  if (!from_placement())
    return make_error(errc::denied, "checks are placement's to ask for");
  auto f = files.find(ref.file_sha256());
  if (f == files.end() || f->second.parts.count(ref.part()) == 0)
    return make_error(errc::unknown_file, "part not held here");
  auto& m = f->second.manifest;
  part_layout layout{m, f->second.parts.at(ref.part()).part_size};
  for (auto p = layout.first(ref.part()); p < layout.end(ref.part()); ++p) {
    std::string err;
    if (intact(f->second, ref.part(), p, err))
      continue;
    LOG_WARN("mirror", opts.id << ": check asked by placement: piece " << p
                               << " of " << m.name() << " is corrupt"
                               << (err.empty() ? "" : " (" + err + ")")
                               << "; part " << ref.part() << " dropped");
    forget(ref.file_sha256(), ref.part());
    return false;
  }
  LOG_INFO("mirror", opts.id << ": check asked by placement: part "
                             << ref.part() << " of " << m.name()
                             << " is intact");
  return true;
}

mirror_state::~mirror_state() {
  // Whoever asked for a copy need not wait for its timeout.
  for (auto& [id, job] : copies)
    job.rp.deliver(make_error(errc::no_such_actor, "mirror stopped"));
}

// -- behaviour --------------------------------------------------------------------

mirror_actor::behavior_type mirror(mirror_state::pointer self,
                                   mirror_options opts) {
  std::string why;
  if (!self->state.init(std::move(opts), why)) {
    LOG_ERROR("mirror", why);
    self->quit(make_error(errc::io_failure, why));
    return mirror_actor::behavior_type::make_empty_behavior();
  }
  self->set_down_handler(
    [self](caf::down_msg& dm) { self->state.on_down(dm); });
  // Clients hold a mirror's handle itself: a stray message is dropped.
  drop_unexpected(self, "mirror");
  self->send(self, register_atom::value);
  self->send(self, heartbeat_atom::value);
  self->delayed_send(self, self->state.opts.scrub_interval, scrub_atom::value);
  return {
    [self](piece_atom, const pb::PieceRequest& req)
      -> caf::result<pb::PieceHeader, piece_bytes> {
      return self->state.serve(req);
    },
    no_stream,
    [self](copy_atom, const pb::PartCopy& req) -> caf::result<pb::PartStored> {
      return self->state.copy(req);
    },
    [self](drop_atom, const pb::PartRef& ref) -> caf::result<caf::ok_atom> {
      return self->state.drop(ref);
    },
    [self](verify_atom, const pb::PartRef& ref) -> caf::result<bool> {
      return self->state.verify(ref);
    },
    // Timers: only the mirror's own (a stray one would start another chain).
    [self](register_atom) {
      if (self->state.from_self())
        self->state.register_now();
    },
    [self](heartbeat_atom) {
      if (self->state.from_self())
        self->state.heartbeat();
    },
    [self](scrub_atom) {
      if (self->state.from_self())
        self->state.scrub();
    },
  };
}

} // namespace actorrent
