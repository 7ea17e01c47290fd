#include "actors/placement/placement.hpp"

#include <algorithm>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/limits.hpp"
#include "actors/core/log.hpp"
#include "actors/core/manifest.hpp"
#include "actors/placement/rendezvous.hpp"

namespace actorrent {

namespace {

constexpr size_t max_mirror_id = 64;
constexpr size_t max_listed_parts = 100;
constexpr size_t max_parts_per_mirror = size_t{1} << 20;
constexpr size_t max_mirrors = 10000;
constexpr uint64_t max_capacity = uint64_t{1} << 50;  // 1 PiB: bounds weights
// A target that failed a copy is tried again after this many dead_after.
constexpr int failed_retry_after = 4;
// A part reported bad on a mirror is checked there at most once in this
// time, and at most this many checks run at once: reports cannot keep
// mirrors hashing.
constexpr auto check_again_after = std::chrono::seconds(60);
constexpr uint32_t max_checks_running = 8;
// Checks one peer's reports may start in that time (a download reports at
// most 3 pieces per mirror).
constexpr uint32_t max_checks_per_reporter = 16;
const std::string waiting_for_slot = "waiting for a mirror with a free copy"
                                     " slot";

// A copy may take 30 s plus the time to move its bytes at 4 MB/s.
caf::timespan copy_timeout(uint64_t bytes) {
  return std::chrono::seconds(30)
         + std::chrono::milliseconds(bytes / 4000);
}

int64_t ms_between(caf::actor_clock::time_point a,
                   caf::actor_clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

} // namespace

const char* to_string(mirror_health x) {
  switch (x) {
    case mirror_health::joining: return "joining";
    case mirror_health::alive: return "alive";
    case mirror_health::suspect: return "suspect";
    case mirror_health::dead: return "dead";
    case mirror_health::elsewhere: return "elsewhere";
  }
  return "?";
}

// -- start ------------------------------------------------------------------------

bool placement_state::init(placement_options o, std::string& why) {
  opts = std::move(o);
  if (opts.replicas == 0)
    opts.replicas = 1;
  try {
    store = open_placement_store(opts.db);
    auto rec = store->load();
    auto now = self->clock().now();
    for (auto& m : rec.mirrors) {
      auto& x = mirrors[m.address.mirror_id()];
      x.address = m.address;
      x.capacity = m.capacity;
      x.last_seen = now; // joining: dead_after to register again
    }
    learn_files(rec);
    LOG_INFO("placement", mirrors.size() << " mirrors and " << files.size()
                                         << " files known; replicas "
                                         << opts.replicas);
  } catch (const std::exception& e) {
    why = std::string{"placement store: "} + e.what();
    return false;
  }
  return true;
}

void placement_state::learn_files(const placement_record& rec) {
  std::set<std::string> learned;
  for (auto& f : rec.files) {
    auto& sha = f.manifest.file_sha256();
    if (files.count(sha) > 0)
      continue;
    auto& x = files[sha];
    x.manifest = f.manifest;
    x.layout = part_layout{f.manifest, f.part_size};
    x.parts.resize(x.layout.parts());
    learned.insert(sha);
  }
  for (auto& r : rec.replicas) {
    auto f = files.find(r.file_sha256);
    if (learned.count(r.file_sha256) > 0 && r.part < f->second.parts.size())
      f->second.parts[r.part].holders.insert(r.mirror_id);
  }
}

void placement_state::learn_unknown_files(const pb::MirrorHello& h) {
  for (auto& r : h.parts())
    if (files.count(r.file_sha256()) == 0) {
      learn_files(store->load());
      return;
    }
}

placement_state::~placement_state() {
  for (auto& [id, job] : publishes)
    job.rp.deliver(make_error(errc::no_such_actor, "placement stopped"));
}

// -- mirrors ----------------------------------------------------------------------

void placement_state::set_health(placed_mirror& m, mirror_health to,
                                 const std::string& why) {
  if (m.health == to)
    return;
  auto line = "mirror " + m.address.mirror_id() + ": " + to_string(m.health)
              + " -> " + to_string(to) + (why.empty() ? "" : " (" + why + ")");
  if (to == mirror_health::dead || to == mirror_health::suspect)
    LOG_WARN("placement", line);
  else
    LOG_INFO("placement", line);
  m.health = to;
  if (to == mirror_health::dead || to == mirror_health::suspect) {
    // Copies to it will not finish: their parts go elsewhere.
    std::vector<uint64_t> lost;
    for (auto& [id, c] : copies)
      if (c.to == m.address.mirror_id())
        lost.push_back(id);
    for (auto id : lost)
      on_copy_failed(id, "mirror " + std::string{to_string(to)});
  }
}

bool placement_state::counts(const std::string& id) const {
  auto i = mirrors.find(id);
  return i != mirrors.end() && i->second.health != mirror_health::dead;
}

bool placement_state::usable(const std::string& id) const {
  auto i = mirrors.find(id);
  return i != mirrors.end() && i->second.health == mirror_health::alive
         && i->second.handle;
}

caf::result<caf::ok_atom>
placement_state::register_mirror(const pb::MirrorHello& h) {
  auto sender = self->current_sender();
  auto& a = h.address();
  std::string why;
  if (!sender)
    return make_error(errc::bad_message, "anonymous registration");
  if (static_cast<size_t>(h.parts_size()) > max_parts_per_mirror)
    return make_error(errc::bad_message, "too many parts in one registration");
  if (a.mirror_id().size() > max_mirror_id || !valid_name(a.mirror_id(), why))
    return make_error(errc::bad_message, "mirror id: " + why);
  if (a.host().empty() || a.host().size() > 255 || a.port() == 0
      || a.port() > 65535)
    return make_error(errc::bad_message, "mirror address");
  auto& id = a.mirror_id();
  auto handle = caf::actor_cast<mirror_actor>(sender);
  if (auto i = mirrors.find(id);
      i != mirrors.end() && i->second.handle && i->second.handle != handle
      && i->second.health == mirror_health::alive
      && i->second.handle.node() != sender->node())
    return make_error(errc::conflict, "mirror id " + id + " is in use");
  if (mirrors.count(id) == 0 && mirrors.size() >= max_mirrors)
    return make_error(errc::bad_message, "too many mirrors");
  auto& m = mirrors[id];
  if (m.handle && m.handle != handle)
    self->demonitor(m.handle.address());
  m.address = a;
  m.capacity = std::min<uint64_t>(h.capacity(), max_capacity);
  m.handle = handle;
  self->monitor(m.handle);
  m.last_seen = self->clock().now();
  // Files published through another tracker on the same database, or
  // before this placement started, are read again: the parts of a file
  // that is unknown after that are not placed anywhere.
  try {
    learn_unknown_files(h);
  } catch (const std::exception& e) {
    return make_error(errc::io_failure, e.what());
  }
  // What it holds now replaces what was recorded of it.
  std::vector<pb::PartRef> held;
  std::set<std::pair<std::string, uint32_t>> reported;
  for (auto& r : h.parts()) {
    auto f = files.find(r.file_sha256());
    if (f == files.end() || r.part() >= f->second.parts.size())
      continue; // not placed here: ignored (and never handed out)
    reported.emplace(r.file_sha256(), r.part());
    held.push_back(r);
  }
  uint64_t bytes = 0;
  for (auto& [sha, f] : files)
    for (uint32_t p = 0; p < f.parts.size(); ++p) {
      auto& part = f.parts[p];
      part.failed.erase(id);
      if (reported.count({sha, p}) > 0) {
        part.holders.insert(id);
        bytes += f.layout.bytes(f.manifest, p);
      } else {
        part.holders.erase(id);
      }
    }
  m.bytes_stored = bytes;
  try {
    store->put_mirror(a, m.capacity);
    store->set_replicas(id, held);
  } catch (const std::exception& e) {
    return make_error(errc::io_failure, e.what());
  }
  set_health(m, mirror_health::alive,
             "registered with " + std::to_string(held.size()) + " parts");
  return caf::ok_atom::value;
}

caf::result<caf::ok_atom> placement_state::heartbeat(const pb::MirrorBeat& b) {
  auto i = mirrors.find(b.mirror_id());
  auto sender = self->current_sender();
  if (i == mirrors.end() || !i->second.handle
      || i->second.health == mirror_health::joining
      || i->second.health == mirror_health::dead
      || caf::actor_cast<caf::actor_addr>(sender) != i->second.handle.address())
    return make_error(errc::unknown_mirror, "register again");
  auto& m = i->second;
  m.last_seen = self->clock().now();
  m.bytes_stored = b.bytes_stored();
  set_health(m, mirror_health::alive, "heartbeat");
  return caf::ok_atom::value;
}

void placement_state::on_down(const caf::down_msg& dm) {
  for (auto& [id, m] : mirrors)
    if (m.handle && m.handle.address() == dm.source) {
      m.handle = nullptr;
      if (m.health != mirror_health::dead)
        set_health(m, mirror_health::suspect, "connection lost");
    }
}

void placement_state::corrupt(const pb::PartRef& ref) {
  auto m = mirrors.find(ref.mirror_id());
  auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
  if (m == mirrors.end() || !m->second.handle
      || sender != m->second.handle.address())
    return; // only a mirror speaks for its own parts
  auto f = files.find(ref.file_sha256());
  if (f == files.end() || ref.part() >= f->second.parts.size())
    return;
  lose_replica(ref.file_sha256(), ref.part(), ref.mirror_id(),
               "found corrupt by its scrub");
}

void placement_state::lose_replica(const std::string& sha, uint32_t part,
                                   const std::string& mirror,
                                   const std::string& why) {
  auto& f = files.at(sha);
  LOG_WARN("placement", "mirror " << mirror << " lost part " << part << " of "
                                  << f.manifest.name() << ": " << why);
  f.parts[part].holders.erase(mirror);
  try {
    store->drop_replica(sha, part, mirror);
  } catch (const std::exception& e) {
    LOG_ERROR("placement", e.what());
  }
  replicate(sha, part, 0, nullptr);
}

caf::result<caf::ok_atom>
placement_state::verify(const pb::BadPieceReport& r) {
  auto sender = self->current_sender();
  if (!sender || sender->node() != self->node())
    return make_error(errc::denied, "reports come through the tracker");
  auto f = files.find(r.file_sha256());
  if (f == files.end())
    return make_error(errc::unknown_file, "that file is not on the mirrors");
  auto& file = f->second;
  if (r.piece() >= file.layout.pieces)
    return make_error(errc::bad_piece, "piece out of range");
  auto m = mirrors.find(r.mirror_id());
  if (m == mirrors.end())
    return make_error(errc::unknown_mirror, "no such mirror");
  auto part = file.layout.part_of(r.piece());
  if (file.parts[part].holders.count(r.mirror_id()) == 0)
    return make_error(errc::bad_piece, "that mirror does not hold that part");
  auto now = self->clock().now();
  check_key key{r.mirror_id(), r.file_sha256(), part};
  if (auto c = checked.find(key);
      !usable(r.mirror_id())
      || (c != checked.end() && now - c->second < check_again_after))
    return caf::ok_atom::value; // being checked, checked lately, or offline
  if (checks_running >= max_checks_running)
    return make_error(errc::busy, "too many part checks running");
  auto& by = checks_by_reporter[r.peer_id()];
  if (by.second == caf::actor_clock::time_point{}
      || now - by.second >= check_again_after)
    by = {0, now};
  if (by.first >= max_checks_per_reporter)
    return make_error(errc::busy, "too many checks asked by this peer lately");
  ++by.first;
  checked[key] = now;
  ++checks_running;
  LOG_INFO("placement", "a downloader reports piece "
                          << r.piece() << " of " << file.manifest.name()
                          << " from " << r.mirror_id() << " bad: asking it"
                          << " to check part " << part);
  pb::PartRef ref;
  ref.set_file_sha256(r.file_sha256());
  ref.set_part(part);
  ref.set_mirror_id(r.mirror_id());
  self->request(m->second.handle,
                copy_timeout(file.layout.bytes(file.manifest, part)),
                verify_atom::value, ref)
    .then(
      [this, key](bool ok) {
        --checks_running;
        auto& [mirror, sha, part] = key;
        if (!ok && files.count(sha) > 0)
          lose_replica(sha, part, mirror, "found corrupt when asked to check");
      },
      [this, key](const caf::error& err) {
        --checks_running;
        LOG_WARN("placement", "check of part " << std::get<2>(key) << " on "
                                               << std::get<0>(key) << ": "
                                               << render(err));
      });
  return caf::ok_atom::value;
}

// -- parts ------------------------------------------------------------------------

std::vector<std::string> placement_state::order(const std::string& sha,
                                                uint32_t part) const {
  std::vector<weighted_mirror> ms;
  ms.reserve(mirrors.size());
  for (auto& [id, m] : mirrors)
    ms.push_back({id, static_cast<double>(std::max<uint64_t>(m.capacity, 1))});
  return rendezvous_order(part_key(sha, part), ms);
}

bool placement_state::failed_recently(const placed_part& p,
                                      const std::string& id) const {
  auto i = p.failed.find(id);
  return i != p.failed.end()
         && self->clock().now() - i->second
              < failed_retry_after * opts.dead_after;
}

size_t placement_state::usable_holders(const placed_part& p) const {
  return static_cast<size_t>(std::count_if(
    p.holders.begin(), p.holders.end(),
    [this](const std::string& id) { return usable(id); }));
}

std::string placement_state::node_of(const std::string& id) const {
  auto i = mirrors.find(id);
  if (i == mirrors.end())
    return id;
  return i->second.address.host() + ":"
         + std::to_string(i->second.address.port());
}

bool placement_state::copy_slots_left() const {
  return std::any_of(mirrors.begin(), mirrors.end(), [this](auto& kv) {
    return usable(kv.first)
           && kv.second.copies_in < opts.max_copies_per_mirror;
  });
}

size_t placement_state::live_holders(const placed_part& p) const {
  return static_cast<size_t>(std::count_if(
    p.holders.begin(), p.holders.end(),
    [this](const std::string& id) { return counts(id); }));
}

size_t placement_state::replicate(const std::string& sha, uint32_t part,
                                  uint64_t publish,
                                  const pb::MirrorAddress* extra_source) {
  auto& f = files.at(sha);
  auto& p = f.parts[part];
  size_t have = live_holders(p) + p.copying.size();
  if (have >= opts.replicas)
    return 0;
  pb::PartCopy req;
  *req.mutable_manifest() = f.manifest;
  req.set_part(part);
  req.set_part_size(static_cast<uint32_t>(f.layout.part_size(f.manifest)));
  if (extra_source)
    *req.add_sources() = *extra_source;
  for (auto& h : p.holders)
    if (usable(h))
      *req.add_sources() = mirrors.at(h).address;
  if (req.sources_size() == 0) {
    p.problem = "no live replica to copy from";
    return 0;
  }
  auto bytes = f.layout.bytes(f.manifest, part);
  // Replicas go to distinct mirror nodes (processes or machines) first:
  // one node's death then costs each part at most one replica. Only when
  // there are fewer nodes than replicas do two share a node.
  std::set<std::string> nodes;
  for (auto& h : p.holders)
    if (counts(h))
      nodes.insert(node_of(h));
  for (auto& c : p.copying)
    nodes.insert(node_of(c));
  auto ranked = order(sha, part);
  // Nodes without a replica yet that have a mirror which may take one: while
  // there are any, no second replica goes to a node.
  std::set<std::string> fresh;
  for (auto& id : ranked)
    if (usable(id) && p.holders.count(id) == 0 && !failed_recently(p, id)
        && nodes.count(node_of(id)) == 0)
      fresh.insert(node_of(id));
  std::vector<std::string> candidates;
  for (int pass = 0; pass < 2; ++pass)
    for (auto& id : ranked) {
      bool fresh_node = nodes.count(node_of(id)) == 0;
      if ((pass == 0) == fresh_node)
        candidates.push_back(id);
    }
  size_t started = 0;
  for (auto& id : candidates) {
    if (have >= opts.replicas)
      break;
    auto& m = mirrors.at(id);
    if (!usable(id) || p.holders.count(id) > 0 || p.copying.count(id) > 0
        || failed_recently(p, id)
        || m.bytes_stored + m.bytes_incoming + bytes > m.capacity
        || (publish == 0 && m.copies_in >= opts.max_copies_per_mirror)
        || (nodes.count(node_of(id)) > 0 && !fresh.empty()))
      continue;
    nodes.insert(node_of(id));
    fresh.erase(node_of(id));
    auto cid = ++next_id;
    copies[cid] = part_copy_record{sha, part, id, bytes, self->clock().now(),
                                   publish};
    p.copying.insert(id);
    ++m.copies_in;
    m.bytes_incoming += bytes;
    if (publish != 0)
      ++publishes.at(publish).pending;
    LOG_DEBUG("placement", "copy part " << part << " of "
                                        << f.manifest.name() << " to " << id);
    self->request(m.handle, copy_timeout(bytes), copy_atom::value, req)
      .then([this, cid](const pb::PartStored& s) { on_copied(cid, s); },
            [this, cid](const caf::error& err) {
              on_copy_failed(cid, render(err));
            });
    ++have;
    ++started;
  }
  if (started > 0 && p.problem == waiting_for_slot)
    p.problem.clear();
  if (have < opts.replicas && started == 0 && p.copying.empty())
    p.problem = "only " + std::to_string(have)
                + " mirrors can take it (alive, not full, not failed)"
                + (p.last_failure.empty() ? "" : "; last: " + p.last_failure);
  return started;
}

void placement_state::end_copy(uint64_t id) {
  auto i = copies.find(id);
  if (i == copies.end())
    return;
  auto& c = i->second;
  if (auto f = files.find(c.file_sha256); f != files.end())
    f->second.parts[c.part].copying.erase(c.to);
  if (auto m = mirrors.find(c.to); m != mirrors.end()) {
    if (m->second.copies_in > 0)
      --m->second.copies_in;
    m->second.bytes_incoming -= std::min(m->second.bytes_incoming, c.bytes);
  }
  if (c.publish != 0)
    if (auto j = publishes.find(c.publish); j != publishes.end())
      --j->second.pending;
  copies.erase(i);
}

void placement_state::on_copied(uint64_t id, const pb::PartStored& s) {
  auto i = copies.find(id);
  if (i == copies.end())
    return; // already given up on
  auto c = i->second;
  auto& f = files.at(c.file_sha256);
  auto& p = f.parts[c.part];
  p.holders.insert(c.to);
  p.failed.clear();
  p.problem.clear();
  p.last_failure.clear();
  try {
    store->add_replica(c.file_sha256, c.part, c.to);
  } catch (const std::exception& e) {
    LOG_ERROR("placement", e.what());
  }
  if (auto m = mirrors.find(c.to); m != mirrors.end())
    m->second.bytes_stored += s.bytes();
  ++copies_made;
  if (c.publish == 0)
    repaired_bytes += s.bytes();
  LOG_INFO("placement", "part " << c.part << " of " << f.manifest.name()
                                << " stored on " << c.to << " ("
                                << live_holders(p) << " replicas)");
  end_copy(id);
  if (c.publish != 0)
    settle(c.publish);
}

void placement_state::on_copy_failed(uint64_t id, const std::string& why) {
  auto i = copies.find(id);
  if (i == copies.end())
    return;
  auto c = i->second;
  auto& f = files.at(c.file_sha256);
  auto& p = f.parts[c.part];
  p.failed[c.to] = self->clock().now();
  p.problem = "copy to " + c.to + " failed: " + why;
  p.last_failure = p.problem;
  LOG_WARN("placement", "part " << c.part << " of " << f.manifest.name()
                                << ": " << p.problem);
  end_copy(id);
  if (c.publish == 0)
    return; // the next check tries the next mirror
  if (auto j = publishes.find(c.publish); j != publishes.end()) {
    auto source = j->second.source;
    replicate(c.file_sha256, c.part, c.publish, &source);
    settle(c.publish);
  }
}

void placement_state::trim(const std::string& sha, uint32_t part) {
  auto& f = files.at(sha);
  auto& p = f.parts[part];
  // Keep one replica per node first (in rendezvous order), then the next
  // ones in that order; drop the rest.
  // Only mirrors that are alive now count: a suspect one may never return.
  std::vector<std::string> live;
  for (auto& id : order(sha, part))
    if (p.holders.count(id) > 0 && usable(id))
      live.push_back(id);
  std::set<std::string> keep;
  std::set<std::string> nodes;
  for (auto& id : live)
    if (keep.size() < opts.replicas && nodes.insert(node_of(id)).second)
      keep.insert(id);
  for (auto& id : live)
    if (keep.size() < opts.replicas)
      keep.insert(id);
  for (auto& id : live) {
    if (keep.count(id) > 0)
      continue;
    LOG_INFO("placement", "trimming part " << part << " of "
                                           << f.manifest.name() << " from "
                                           << id);
    pb::PartRef ref;
    ref.set_file_sha256(sha);
    ref.set_part(part);
    ref.set_mirror_id(id);
    self->request(mirrors.at(id).handle, std::chrono::seconds(10),
                  drop_atom::value, ref)
      .then([](caf::ok_atom) {},
            [id](const caf::error& err) {
              LOG_WARN("placement", "trim on " << id << ": " << render(err));
            });
    p.holders.erase(id);
    try {
      store->drop_replica(sha, part, id);
    } catch (const std::exception& e) {
      LOG_ERROR("placement", e.what());
    }
  }
}

bool placement_state::publishing(const std::string& sha) const {
  return std::any_of(publishes.begin(), publishes.end(),
                     [&](auto& kv) { return kv.second.file_sha256 == sha; });
}

void placement_state::check() {
  auto now = self->clock().now();
  self->delayed_send(self, std::max(opts.dead_after / 4,
                                    std::chrono::milliseconds(50)),
                     check_atom::value);
  for (auto c = checked.begin(); c != checked.end();)
    c = now - c->second >= check_again_after ? checked.erase(c) : std::next(c);
  for (auto c = checks_by_reporter.begin(); c != checks_by_reporter.end();)
    c = now - c->second.second >= check_again_after
          ? checks_by_reporter.erase(c)
          : std::next(c);
  if (store->shared())
    share_liveness();
  for (auto& [id, m] : mirrors)
    if (m.health != mirror_health::dead && now - m.last_seen > opts.dead_after)
      set_health(m, mirror_health::dead,
                 "silent for " + std::to_string(ms_between(m.last_seen, now))
                   + " ms");
  bool short_of_replicas = false;
  // A healthy part costs O(replicas); a short one is only looked at (its
  // rendezvous order computed) while some mirror can take a repair copy.
  bool slots = copy_slots_left();
  for (auto& [sha, f] : files)
    for (uint32_t part = 0; part < f.parts.size(); ++part) {
      auto& p = f.parts[part];
      auto live = live_holders(p);
      if (live < opts.replicas) {
        // A part still being published is not a repair.
        short_of_replicas = short_of_replicas || !publishing(sha);
        if (live + p.copying.size() >= opts.replicas)
          continue;
        if (!slots) {
          if (p.copying.empty() && p.problem.empty())
            p.problem = waiting_for_slot;
          continue;
        }
        if (replicate(sha, part, 0, nullptr) > 0)
          slots = copy_slots_left();
      } else if (usable_holders(p) > opts.replicas && p.copying.empty()) {
        trim(sha, part);
      }
    }
  if (short_of_replicas && !repairing) {
    repairing = true;
    repair_since = now;
    repaired_bytes = 0;
  } else if (!short_of_replicas && repairing) {
    repairing = false;
    LOG_INFO("placement", "every part has " << opts.replicas
                                            << " live replicas again ("
                                            << repaired_bytes << " bytes in "
                                            << ms_between(repair_since, now)
                                            << " ms)");
  }
}

void placement_state::share_liveness() {
  auto now = self->clock().now();
  try {
    std::vector<std::string> here;
    for (auto& [id, m] : mirrors)
      if (usable(id))
        here.push_back(id);
    store->seen(here, opts.id);
    std::vector<placement_store::seen_elsewhere> fresh;
    for (auto& x : store->seen_by_others(opts.id))
      if (x.silent_ms < opts.dead_after.count() && !usable(x.mirror_id)
          && (mirrors.count(x.mirror_id) > 0 || mirrors.size() < max_mirrors))
        fresh.push_back(std::move(x));
    if (fresh.empty())
      return;
    // Their addresses, parts and files as the other placements recorded
    // them (read again at every check while some mirror is elsewhere).
    auto rec = store->load();
    learn_files(rec);
    std::set<std::string> ids;
    for (auto& x : fresh)
      ids.insert(x.mirror_id);
    for (auto& r : rec.mirrors)
      if (ids.count(r.address.mirror_id()) > 0) {
        auto& m = mirrors[r.address.mirror_id()];
        m.address = r.address;
        m.capacity = r.capacity;
      }
    for (auto& [sha, f] : files)
      for (auto& p : f.parts)
        for (auto& id : ids)
          p.holders.erase(id);
    for (auto& r : rec.replicas) {
      auto f = files.find(r.file_sha256);
      if (ids.count(r.mirror_id) > 0 && f != files.end()
          && r.part < f->second.parts.size())
        f->second.parts[r.part].holders.insert(r.mirror_id);
    }
    for (auto& x : fresh) {
      auto m = mirrors.find(x.mirror_id);
      if (m == mirrors.end())
        continue;  // no address recorded yet
      m->second.last_seen = now - std::chrono::milliseconds(
                                    std::max<int64_t>(x.silent_ms, 0));
      set_health(m->second, mirror_health::elsewhere,
                 "alive at tracker " + x.tracker);
    }
  } catch (const std::exception& e) {
    LOG_WARN("placement", "sharing mirror liveness: " << e.what());
  }
}

// -- publishing -------------------------------------------------------------------

caf::result<pb::PlaceReply> placement_state::place(const pb::PlaceFile& req) {
  auto& m = req.manifest();
  // Sizes first (the tracker's default bounds), then consistency.
  auto why = check_sizes(m, nullptr, limits{});
  if (!why.empty())
    return make_error(errc::bad_message, "manifest: " + why);
  if (!valid_manifest(m, why))
    return make_error(errc::bad_message, "manifest: " + why);
  auto& src = req.source();
  if (src.host().empty() || src.host().size() > 255 || src.port() == 0
      || src.port() > 65535 || src.mirror_id().size() > max_mirror_id)
    return make_error(errc::bad_message, "source address");
  if (std::none_of(mirrors.begin(), mirrors.end(),
                   [this](auto& kv) { return usable(kv.first); }))
    return make_error(errc::no_mirrors, "no mirror is alive");
  auto& sha = m.file_sha256();
  auto f = files.find(sha);
  if (f == files.end()) {
    try {
      store->put_file(m, opts.part_size);
    } catch (const std::exception& e) {
      return make_error(errc::io_failure, e.what());
    }
    f = files.emplace(sha, placed_file{}).first;
    f->second.manifest = m;
    f->second.layout = part_layout{m, opts.part_size};
    f->second.parts.resize(f->second.layout.parts());
  }
  if (f->second.manifest.SerializeAsString() != m.SerializeAsString())
    return make_error(errc::conflict, "another manifest with this SHA-256 is"
                                      " on the mirrors");
  auto id = ++next_id;
  auto& job = publishes[id];
  job.file_sha256 = sha;
  job.source = src;
  job.rp = self->make_response_promise<pb::PlaceReply>();
  auto rp = job.rp;
  LOG_INFO("placement", "publishing " << m.name() << ": "
                                      << f->second.parts.size() << " parts × "
                                      << opts.replicas << " replicas");
  for (uint32_t part = 0; part < f->second.parts.size(); ++part) {
    f->second.parts[part].failed.clear();
    replicate(sha, part, id, &src);
  }
  settle(id);
  return rp;
}

void placement_state::settle(uint64_t publish) {
  auto j = publishes.find(publish);
  if (j == publishes.end() || j->second.pending > 0)
    return;
  j->second.rp.deliver(place_reply(j->second.file_sha256));
  publishes.erase(j);
}

pb::PartPlacement placement_state::describe(const std::string& sha,
                                            const placed_file& f,
                                            uint32_t part) const {
  pb::PartPlacement x;
  x.set_name(f.manifest.name());
  x.set_part(part);
  x.set_file_sha256(sha);
  auto& p = f.parts[part];
  for (auto& h : p.holders)
    if (counts(h))
      x.add_holders(h);
  x.set_problem(p.problem);
  return x;
}

pb::PlaceReply placement_state::place_reply(const std::string& sha) const {
  pb::PlaceReply out;
  auto& f = files.at(sha);
  out.set_name(f.manifest.name());
  out.set_replicas(opts.replicas);
  auto alive = std::count_if(mirrors.begin(), mirrors.end(),
                             [this](auto& kv) { return usable(kv.first); });
  for (uint32_t part = 0; part < f.parts.size(); ++part) {
    auto& x = *out.add_parts();
    x = describe(sha, f, part);
    if (static_cast<uint32_t>(x.holders_size()) >= opts.replicas)
      x.clear_problem();
    else if (x.problem().empty())
      x.set_problem(static_cast<uint32_t>(alive) < opts.replicas
                      ? "only " + std::to_string(alive) + " mirrors are alive"
                      : "no other live mirror could take it");
  }
  return out;
}

// -- queries ----------------------------------------------------------------------

pb::FileInfo placement_state::sources(const std::string& sha) const {
  pb::FileInfo out;
  auto f = files.find(sha);
  if (f == files.end())
    return out;
  auto& layout = f->second.layout;
  std::map<std::string, bitfield> held;
  for (uint32_t part = 0; part < f->second.parts.size(); ++part)
    for (auto& h : f->second.parts[part].holders) {
      auto m = mirrors.find(h);
      if (!usable(h)
          && (m == mirrors.end() || m->second.health != mirror_health::elsewhere))
        continue;
      auto i = held.try_emplace(h, bitfield{layout.pieces}).first;
      for (auto p = layout.first(part); p < layout.end(part); ++p)
        i->second.set(p);
    }
  for (auto& [id, bits] : held) {
    auto& m = mirrors.at(id);
    auto& s = *out.add_sources();
    s.set_peer_id("mirror:" + id);
    s.set_host(m.address.host());
    s.set_port(m.address.port());
    s.set_mirror_id(id);
    s.set_bitfield(bits.bytes());
    s.set_pieces_held(bits.count());
  }
  return out;
}

pb::PlacementStatus placement_state::status() const {
  pb::PlacementStatus out;
  auto now = self->clock().now();
  out.set_replicas(opts.replicas);
  std::map<std::string, uint32_t> parts_of;
  uint64_t to_copy = 0;
  uint32_t part_count = 0;
  for (auto& [sha, f] : files)
    for (uint32_t part = 0; part < f.parts.size(); ++part) {
      ++part_count;
      auto& p = f.parts[part];
      for (auto& h : p.holders)
        ++parts_of[h];
      auto live = live_holders(p);
      if (live >= opts.replicas)
        continue;
      to_copy += (opts.replicas - live) * f.layout.bytes(f.manifest, part);
      if (static_cast<size_t>(out.under_replicated_size()) >= max_listed_parts)
        continue;
      *out.add_under_replicated() = describe(sha, f, part);
    }
  for (auto& [id, m] : mirrors) {
    auto& x = *out.add_mirrors();
    x.set_mirror_id(id);
    x.set_host(m.address.host());
    x.set_port(m.address.port());
    x.set_state(to_string(m.health));
    x.set_parts(parts_of[id]);
    x.set_bytes(m.bytes_stored);
    x.set_capacity(m.capacity);
    x.set_silent_ms(ms_between(m.last_seen, now));
  }
  for (auto& [id, c] : copies) {
    auto& x = *out.add_copies();
    x.set_name(files.at(c.file_sha256).manifest.name());
    x.set_part(c.part);
    x.set_to(c.to);
    x.set_bytes(c.bytes);
    x.set_elapsed_ms(ms_between(c.started, now));
  }
  out.set_bytes_to_copy(to_copy);
  if (repairing) {
    auto secs = std::chrono::duration<double>(now - repair_since).count();
    out.set_copy_rate_bps(secs > 0 ? static_cast<double>(repaired_bytes) / secs
                                   : 0);
  }
  out.set_files(static_cast<uint32_t>(files.size()));
  out.set_parts(part_count);
  out.set_copies_made(copies_made);
  return out;
}

// -- behaviour --------------------------------------------------------------------

placement_local_actor::behavior_type
placement(placement_state::pointer self, placement_options opts) {
  std::string why;
  if (!self->state.init(std::move(opts), why)) {
    LOG_ERROR("placement", why);
    self->quit(make_error(errc::io_failure, why));
    return placement_local_actor::behavior_type::make_empty_behavior();
  }
  self->set_down_handler(
    [self](caf::down_msg& dm) { self->state.on_down(dm); });
  self->send(self, check_atom::value);
  return {
    [self](register_atom, const pb::MirrorHello& h)
      -> caf::result<caf::ok_atom> {
      return self->state.register_mirror(h);
    },
    [self](heartbeat_atom, const pb::MirrorBeat& b)
      -> caf::result<caf::ok_atom> { return self->state.heartbeat(b); },
    [self](place_atom, const pb::PlaceFile& f) -> caf::result<pb::PlaceReply> {
      return self->state.place(f);
    },
    [self](placement_atom) { return self->state.status(); },
    [self](corrupt_atom, const pb::PartRef& ref) { self->state.corrupt(ref); },
    [self](verify_atom, const pb::BadPieceReport& r) {
      return self->state.verify(r);
    },
    [self](sources_atom, const std::string& sha) {
      return self->state.sources(sha);
    },
    [self](check_atom) { self->state.check(); },
  };
}

} // namespace actorrent
