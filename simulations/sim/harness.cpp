#include "simulations/sim/harness.hpp"

#include <charconv>

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

#include "actors/core/log.hpp"
#include "nodes/commands.hpp"
#include "simulations/sim/harness_ask.hpp"

namespace actorrent::sim {

namespace {

using namespace std::chrono_literals;

std::string file_name(uint32_t i) {
  return "file-" + std::to_string(i);
}

caf::timespan ms(uint64_t n) {
  return std::chrono::milliseconds(n);
}

} // namespace

uint64_t peak_rss_kib() {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0)
      return std::stoull(line.substr(6));
  return 0;
}

bool outcome::passed() const {
  return std::all_of(invariants.begin(), invariants.end(),
                     [](const invariant& x) { return x.pass; });
}

harness::harness(scenario_config& cfg) : cfg_(cfg) {
  if (cfg_.mode == "deterministic") {
    cfg_.set("scheduler.policy", caf::atom("testing"));
  } else {
    cfg_.set("scheduler.policy", caf::atom("sharing"));
    cfg_.set("scheduler.max-threads", 2);
  }
  sys_ = std::make_unique<caf::actor_system>(cfg_);
  if (cfg_.mode == "deterministic")
    sched_ = &dynamic_cast<caf::scheduler::test_coordinator&>(sys_->scheduler());
  t0_ = sys_->clock().now();
  rng_state_ = derive_seed(cfg_.seed, "harness");
}

harness::~harness() {
  if (net_)
    net_->shutdown();
  auto stop = [](const auto&... hs) {
    (caf::anon_send_exit(hs, caf::exit_reason::user_shutdown), ...);
  };
  stop(tracker_.front, tracker_.sup, tracker_.ctl);
  for (auto& m : mirrors_)
    stop(m.node.front, m.node.sup, m.node.ctl);
  for (auto& c : clients_)
    stop(c.node.front, c.node.sup, c.node.ctl);
  if (sched_) {
    // Ends every actor: the pending timers are dropped with them.
    for (int i = 0; i < 100 && sched_->has_job(); ++i)
      sched_->run();
  }
  clients_.clear();
  mirrors_.clear();
  sys_.reset();
  remove_scratch();
}

void harness::remove_scratch() {
  if (!tmp_.empty() && !std::getenv("ACTORRENT_KEEP_SIM_DIRS"))
    std::system(("rm -rf '" + tmp_ + "'").c_str());
  tmp_.clear();
}

caf::timespan harness::now() const {
  return sys_->clock().now() - t0_;
}

environment harness::env_of(const std::string& site) {
  environment env;
  env.io = disk_->io_of(site);
  env.dir = net_->directory_of(site);
  env.blocking = blocking_mode::scheduled;
  env.seed = derive_seed(cfg_.seed, site);
  env.random = seeded_random(derive_seed(cfg_.seed, "random " + site));
  auto sys = sys_.get();
  env.unix_time = [sys] {
    return int64_t{1700000000}
           + std::chrono::duration_cast<std::chrono::seconds>(
               sys->clock().now().time_since_epoch())
               .count();
  };
  return env;
}

std::string harness::setup() {
  char buf[] = "/tmp/actorrent-sim-XXXXXX";
  if (::mkdtemp(buf) == nullptr)
    return "cannot make a temporary directory under /tmp";
  tmp_ = buf;
  setup_disk_and_network();
  // The order of the sites is the order of the seeded draws: keep it.
  if (auto err = setup_tracker(); !err.empty())
    return err;
  if (auto err = setup_mirrors(); !err.empty())
    return err;
  setup_clients();
  if (auto err = schedule_arrivals_and_faults(); !err.empty())
    return err;
  // Observation.
  if (!mirrors_.empty()) {
    for (uint32_t f = 0; f < cfg_.files && cfg_.seeding == "mirrors"; ++f)
      for (uint64_t p = 0; p * cfg_.part_size < cfg_.file_size; ++p)
        part_names_.push_back(file_name(f) + "#" + std::to_string(p));
    at(500ms, [this] { poll_placement(); });
  }
  at(100ms, [this] { check_conditions(); });
  at(100ms, [this] { track_faults(); });
  note("setup " + std::to_string(clients_.size()) + " clients, "
       + std::to_string(cfg_.mirrors) + " mirrors, seed "
       + std::to_string(cfg_.seed));
  return {};
}

uint64_t harness::next_random() {
  rng_state_ = derive_seed(rng_state_, "next");
  return rng_state_;
}

link_params harness::link_for(bool server) {
  link_params p;
  p.up_bps = static_cast<double>(server ? cfg_.server_up : cfg_.client_up);
  p.down_bps = static_cast<double>(server ? cfg_.server_down : cfg_.client_down);
  int64_t lat = cfg_.latency_ms;
  if (cfg_.latency_spread_ms > 0)
    lat += static_cast<int64_t>(next_random() % (2 * cfg_.latency_spread_ms + 1))
           - cfg_.latency_spread_ms;
  p.latency = std::chrono::milliseconds(std::max<int64_t>(lat, 0));
  return p;
}

void harness::setup_disk_and_network() {
  for (uint32_t i = 0; i < cfg_.files; ++i) {
    file_sizes_[file_name(i)] = cfg_.file_size;
    piece_sizes_[file_name(i)] = cfg_.piece_size;
  }
  disk_ = std::make_shared<sim_disk>(cfg_.seed, file_sizes_);
  disk_observer obs;
  obs.written = [this](const std::string& site, const std::string& file,
                       uint64_t offset, size_t len, bool ok) {
    on_written(site, file, offset, len, ok);
  };
  obs.completed = [this](const std::string& site, const std::string& file) {
    on_completed(site, file);
  };
  disk_->set_observer(obs);
  net_ = std::make_shared<network>(*sys_, ms(cfg_.connection_timeout_ms));
  auto sizes = file_sizes_;
  auto pieces = piece_sizes_;
  net_->set_reply_size([sizes, pieces](const caf::message& msg) -> size_t {
    if (!msg.match_elements<piece_atom, pb::PieceRequest>())
      return 0;
    auto& rq = msg.get_as<pb::PieceRequest>(1);
    auto s = sizes.find(rq.name());
    if (s == sizes.end())
      return 0;
    auto ps = uint64_t{pieces.at(rq.name())};
    auto length = [&](uint32_t i) {
      auto begin = uint64_t{i} * ps;
      return begin >= s->second ? 0 : std::min(ps, s->second - begin);
    };
    // Every piece asked for (a batch's are served together).
    auto n = length(rq.index());
    for (auto i : rq.more())
      n += length(i);
    return n;
  });
}

std::string harness::setup_tracker() {
  // The tracker node, with placement.
  net_->add_site("tracker", "tracker", link_for(true));
  tracker_options topts;
  topts.db = tmp_ + "/tracker.db";
  topts.heartbeat_ms = cfg_.heartbeat_ms;
  topts.offline_ms = cfg_.offline_ms;
  placement_options popts;
  popts.replicas = cfg_.replicas;
  popts.part_size = cfg_.part_size;
  popts.dead_after = std::chrono::milliseconds(cfg_.dead_after_ms);
  popts.max_copies_per_mirror = cfg_.max_copies_per_mirror;
  return start_tracker(*sys_, env_of("tracker"), topts, "tracker", 6881, 0,
                       tracker_, popts);
}

std::string harness::setup_mirrors() {
  auto per = cfg_.mirrors_per_node;
  for (uint32_t first = 0; first < cfg_.mirrors; first += per) {
    mirror_site m;
    m.site = per == 1 ? "mirror-" + std::to_string(first)
                      : "mnode-" + std::to_string(first / per);
    for (uint32_t k = first; k < std::min(cfg_.mirrors, first + per); ++k) {
      m.ids.push_back("mirror-" + std::to_string(k));
      mirror_node_of_[m.ids.back()] = m.site;
    }
    mirrors_.push_back(std::move(m));
  }
  for (auto& m : mirrors_) {
    net_->add_site(m.site, "mirror", link_for(true));
    mirror_node_options mo;
    mo.ids = m.ids;
    mo.host = m.site;
    mo.data_dir = "/" + m.site + "/data";
    mo.index_dir = tmp_ + "/" + m.site;
    if (!make_dirs(mo.index_dir))
      return "cannot make " + mo.index_dir;
    mo.trackers = {{"tracker", 6881}};
    mo.capacity = cfg_.mirror_capacity;
    mo.heartbeat = std::chrono::milliseconds(cfg_.mirror_heartbeat_ms);
    mo.scrub_interval = std::chrono::milliseconds(cfg_.scrub_interval_ms);
    if (auto err = start_mirrors(*sys_, env_of(m.site), mo, 7000, 0, m.node);
        !err.empty())
      return err;
  }
  return {};
}

void harness::setup_clients() {
  // Who holds what, who wants what.
  clients_.resize(cfg_.clients);
  for (uint32_t i = 0; i < cfg_.clients; ++i) {
    auto& c = clients_[i];
    c.name = "client-" + std::to_string(i);
    client_index_[c.name] = i;
    // The mirrors' publisher is an origin server: a server's link.
    net_->add_site(c.name, "client",
                   link_for(cfg_.seeding == "mirrors" && i == 0));
    if (cfg_.seeding == "unique" && i < cfg_.files)
      c.holds.insert(file_name(i));
    if ((cfg_.seeding == "one-seeder" || cfg_.seeding == "mirrors") && i == 0)
      for (uint32_t f = 0; f < cfg_.files; ++f)
        c.holds.insert(file_name(f));
    c.leaves = cfg_.seeding == "mirrors" && i == 0;
    if (!c.leaves)
      for (uint32_t f = 0; f < cfg_.files; ++f)
        if (c.holds.count(file_name(f)) == 0) {
          c.wants.push_back(file_name(f));
          auto n = (cfg_.file_size + cfg_.piece_size - 1) / cfg_.piece_size;
          c.pieces[file_name(f)].assign(n, false);
          c.pieces_wanted += n;
        }
  }
}

std::string harness::schedule_arrivals_and_faults() {
  // Arrivals: the holders at once; the others all at once or Poisson (after
  // the mirrors hold the files, when they are the source).
  double t = 0;
  std::vector<size_t> later;
  for (size_t i = 0; i < clients_.size(); ++i) {
    if (!clients_[i].holds.empty()) {
      at(caf::timespan{0}, [this, i] { start_client(i); });
      continue;
    }
    if (cfg_.arrival == "poisson") {
      auto u = static_cast<double>(next_random() >> 11) * 0x1.0p-53;
      t += -std::log(1 - u) / cfg_.rate;
    }
    clients_[i].arrive = std::chrono::duration_cast<caf::timespan>(
      std::chrono::duration<double>(t));
    later.push_back(i);
  }
  auto arrive = [this, later](caf::timespan base) {
    for (auto i : later) {
      clients_[i].arrive += base;
      at(clients_[i].arrive, [this, i] { start_client(i); });
    }
    for (size_t k = 0; k < faults_.size(); ++k)
      if (faults_[k].after_arrivals)
        at(base + faults_[k].at, [this, k] { apply(faults_[k]); });
  };
  for (auto& text : cfg_.faults) {
    fault f;
    if (auto err = parse_fault(text, f); !err.empty())
      return err;
    faults_.push_back(f);
  }
  if (cfg_.seeding == "mirrors") {
    at(caf::timespan{0}, [this] { publish_to_mirrors(); });
    // Started once the publish is acknowledged (publish_to_mirrors).
    actions_.emplace(caf::timespan::max(), [this, arrive] { arrive(now()); });
  } else {
    arrive(caf::timespan{0});
  }
  for (size_t k = 0; k < faults_.size(); ++k)
    if (faults_[k].after_arrivals)
      continue;
    else if (faults_[k].when_client.empty())
      at(faults_[k].at, [this, k] { apply(faults_[k]); });
    else if (client_index_.count(faults_[k].when_client) == 0)
      return "fault '" + faults_[k].text + "': no " + faults_[k].when_client;
  return {};
}

// -- time and events -----------------------------------------------------------

void harness::at(caf::timespan when, action f) {
  actions_.emplace(when, std::move(f));
}

void harness::run_due() {
  while (!actions_.empty() && actions_.begin()->first <= now()) {
    auto f = std::move(actions_.begin()->second);
    actions_.erase(actions_.begin());
    f();
  }
}

void harness::post(action f) {
  std::lock_guard<std::mutex> guard{posted_mtx_};
  posted_.push_back(std::move(f));
}

void harness::run_posted() {
  for (;;) {
    std::deque<action> xs;
    {
      std::lock_guard<std::mutex> guard{posted_mtx_};
      xs.swap(posted_);
    }
    if (xs.empty())
      return;
    for (auto& f : xs)
      f();
  }
}

size_t harness::drain() {
  size_t n = 0;
  while (sched_->has_job()) {
    step();
    ++n;
  }
  events_ += n;
  return n;
}

void harness::step() {
  record();
  if (cfg_.profile != "true") {
    sched_->run_once();
    return;
  }
  auto kind = next_kind();
  auto t0 = std::chrono::steady_clock::now();
  sched_->run_once();
  auto& x = profile_[kind];
  x.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now()
                                             - t0).count();
  ++x.events;
}

std::string harness::next_kind() {
  auto& dest = sched_->next_job<caf::local_actor>();
  std::string kind = dest.name();
  auto elem = dest.peek_at_next_mailbox_element();
  if (elem == nullptr)
    return kind;
  auto& msg = elem->content();
  if (msg.size() > 0 && msg.match_element<caf::atom_value>(0))
    return kind + " " + caf::to_string(msg.get_as<caf::atom_value>(0));
  if (msg.match_elements<caf::error>())
    return kind + " error";
  if (msg.match_elements<caf::down_msg>())
    return kind + " down";
  if (msg.match_elements<caf::exit_msg>())
    return kind + " exit";
  // Otherwise the first element's type: a response's value, a protobuf
  // message (registered under its own name).
  auto type = msg.size() > 0 ? sys_->types().portable_name(msg.type(0))
                             : std::string{"(empty)"};
  return kind + (elem->mid.is_response() ? " response " : " ") + type;
}

void harness::record() {
  auto& dest = sched_->next_job<caf::local_actor>();
  auto elem = dest.peek_at_next_mailbox_element();
  // One line per event, appended without streams (this runs for every
  // message): time, receiver id and name, message id, size and atom.
  auto& b = trace_buf_;
  auto num = [&b](uint64_t x) {
    char tmp[24];
    auto r = std::to_chars(tmp, tmp + sizeof(tmp), x);
    b.append(tmp, r.ptr);
    b += ' ';
  };
  num(static_cast<uint64_t>(ms_of(now())));
  num(dest.id());
  b += dest.name();
  if (elem != nullptr) {
    auto& msg = elem->content();
    b += ' ';
    num(elem->mid.integer_value());
    num(msg.size());
    if (cfg_.trace == "full") {
      static const std::regex node_id{"[0-9A-F]{40}#[0-9]+"};
      b += std::regex_replace(caf::to_string(msg), node_id, "N");
    } else if (msg.size() > 0 && msg.match_element<caf::atom_value>(0)) {
      b += caf::to_string(msg.get_as<caf::atom_value>(0));
    }
  }
  b += '\n';
  if (b.size() >= 1 << 16)
    flush_trace();
}

void harness::flush_trace() {
  trace_.update(trace_buf_.data(), trace_buf_.size());
  trace_buf_.clear();
}

void harness::note(const std::string& line) {
  auto text = std::to_string(ms_of(now())) + " " + line;
  log_.push_back(text);
  trace_buf_ += text;
  trace_buf_ += '\n';
}

void harness::run(caf::timespan until) {
  auto limit = std::min(until, caf::timespan{ms(cfg_.duration_ms)});
  for (;;) {
    run_posted();
    run_due();
    if (deterministic()) {
      drain();
      run_posted();
      if (sched_->has_job())
        continue;
    }
    if (finished() || now() >= limit)
      return;
    auto next = limit;
    if (!actions_.empty())
      next = std::min(next, actions_.begin()->first);
    if (deterministic()) {
      {
        std::lock_guard<std::mutex> guard{posted_mtx_};
        if (!posted_.empty())
          continue;
      }
      auto& timers = sched_->clock().schedule();
      if (!timers.empty())
        next = std::min(next, caf::timespan{timers.begin()->first - t0_});
      sched_->advance_time(std::max(next - now(), caf::timespan{0}));
    } else {
      auto wait = std::clamp(next - now(), caf::timespan{0},
                             caf::timespan{10ms});
      std::this_thread::sleep_for(wait);
    }
  }
}

void harness::step(size_t n) {
  if (!deterministic()) {
    run(now() + ms(n));
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    run_posted();
    run_due();
    if (!sched_->has_job()) {
      auto& timers = sched_->clock().schedule();
      auto next = caf::timespan{ms(cfg_.duration_ms)};
      if (!actions_.empty())
        next = std::min(next, actions_.begin()->first);
      if (!timers.empty())
        next = std::min(next, caf::timespan{timers.begin()->first - t0_});
      sched_->advance_time(std::max(next - now(), caf::timespan{0}));
      continue;
    }
    step();
    ++events_;
  }
  run_posted();
}

bool harness::finished() const {
  std::lock_guard<std::mutex> guard{mtx_};
  if (cfg_.seeding == "mirrors" && !published_)
    return false;
  // Clients only ever become done (finished, or dead for good): the scan
  // goes on from the first one that was not.
  for (; waiting_from_ < clients_.size(); ++waiting_from_) {
    auto& c = clients_[waiting_from_];
    if (!c.dead && !c.leaves && !c.wants.empty() && c.finished < caf::timespan{0})
      return false;
  }
  for (auto& f : faults_) {
    if (!f.injected)
      return false;
    // What a fault set off is followed for 30 s at most (a target that is
    // gone or never came may never recover).
    if (now() - f.injected_at >= 30s)
      continue;
    // A mirror taken away: until placement repaired its parts.
    if (!f.targets.empty() && mirror_node_of_.count(f.targets[0]) > 0
        && (f.action == "kill-hard" || f.action == "crash-loop")
        && f.recovered_at < caf::timespan{0})
      return false;
    // Restarted actors running again, healed cuts back, a crash loop's end.
    if ((f.action == "kill" || f.action == "restart" || f.action == "hang"
         || f.action == "partition")
        && f.recovered_at < caf::timespan{0})
      return false;
    if (f.action == "crash-loop" && f.outcome.empty())
      return false;
  }
  // A mirror died: wait for the repair (or the end of the run).
  for (auto& [id, when] : mirror_dead_at_)
    if (full_after(when) < caf::timespan{0})
      return false;
  return true;
}

caf::timespan harness::full_after(caf::timespan when) const {
  for (auto& [t, short_then] : polls_)
    if (t >= when && !short_then)
      return t;
  return caf::timespan{-1};
}

// -- clients -----------------------------------------------------------------------

void harness::start_client(size_t i) {
  auto& c = clients_[i];
  if (c.started || c.dead)
    return;
  c.started = true;
  for (auto& f : c.holds)
    disk_->add_file("/" + c.name + "/share/" + f, f);
  peer_options opts;
  opts.trackers = {{"tracker", 6881}};
  opts.host = c.name;
  opts.share_dir = c.holds.empty() ? std::string{} : "/" + c.name + "/share";
  opts.download_dir = "/" + c.name + "/downloads";
  opts.state_db = cfg_.state_db == "memory" ? std::string{":memory:"}
                                            : tmp_ + "/" + c.name + ".db";
  opts.piece_size = cfg_.piece_size;
  opts.window = cfg_.window;
  opts.request_timeout_ms = cfg_.request_timeout_ms;
  if (auto err = start_peer(*sys_, env_of(c.name), opts, 7000, 0,
                            cfg_.upload_limit, c.node);
      !err.empty()) {
    note(c.name + " cannot start: " + err);
    c.dead = true;
    return;
  }
  if (!c.wants.empty())
    fetch(i);
}

void harness::fetch(size_t i) {
  auto& c = clients_[i];
  std::vector<std::string> args{"fetch"};
  args.insert(args.end(), c.wants.begin(), c.wants.end());
  args.push_back("--to");
  args.push_back("/" + c.name + "/downloads");
  auto cmd = parse_command(args);
  ask<pb::PeerReply>(
    c.node.ctl, 10s,
    [this, i](std::optional<pb::PeerReply> r, std::string err) {
      if (r && r->code() == 0)
        return;
      // The agent may be restarting: again in a moment.
      at(now() + 500ms, [this, i] {
        if (!clients_[i].dead)
          fetch(i);
      });
    },
    command_atom::value, cmd.request, std::string{});
}

void harness::publish_to_mirrors() {
  auto& c = clients_[0];
  std::vector<std::string> args{"mirror_publish"};
  for (auto& f : c.holds)
    args.push_back("/" + c.name + "/share/" + f);
  auto cmd = parse_command(args);
  ask<pb::PeerReply>(
    c.node.ctl, 600s,
    [this](std::optional<pb::PeerReply> r, std::string err) {
      if (!r || r->code() != 0) {
        // Not online yet, or parts fell short: again.
        at(now() + 500ms, [this] { publish_to_mirrors(); });
        return;
      }
      note("published to the mirrors; client-0 leaves");
      {
        std::lock_guard<std::mutex> guard{mtx_};
        published_ = true;
      }
      auto& c = clients_[0];
      for (auto h : {caf::actor_cast<caf::actor>(c.node.front),
                     caf::actor_cast<caf::actor>(c.node.sup),
                     caf::actor_cast<caf::actor>(c.node.ctl)})
        caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
      c.dead = true;
      // The arrivals waiting for the publish.
      auto i = actions_.find(caf::timespan::max());
      if (i != actions_.end()) {
        auto f = std::move(i->second);
        actions_.erase(i);
        f();
      }
    },
    command_atom::value, cmd.request, std::string{});
}

client_info* harness::client(const std::string& name) {
  auto i = client_index_.find(name);
  return i == client_index_.end() ? nullptr : &clients_[i->second];
}

void harness::on_written(const std::string& site, const std::string& file,
                         uint64_t offset, size_t len, bool ok) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto c = client(site);
  if (!ok || c == nullptr)
    return;
  auto& bits = c->pieces[file];
  auto idx = offset / cfg_.piece_size;
  if (idx < bits.size() && !bits[idx]) {
    bits[idx] = true;
    ++c->pieces_got;
    bytes_per_tenth_[ms_of(now()) / 100] += len;
  }
}

void harness::on_completed(const std::string& site, const std::string& file) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto c = client(site);
  if (c == nullptr)
    return;
  c->done[file] = now();
  if (c->done.size() >= c->wants.size() && c->finished < caf::timespan{0})
    c->finished = now();
}

// -- observation ---------------------------------------------------------------

void harness::poll_placement() {
  ask<pb::PlacementStatus>(
    tracker_.ctl, 2s,
    [this](std::optional<pb::PlacementStatus> s, std::string) {
      at(now() + 250ms, [this] { poll_placement(); });
      if (!s)
        return;
      auto t = now();
      for (auto& m : s->mirrors()) {
        auto& h = mirror_health_[m.mirror_id()];
        if (m.state() == "dead" && h != "dead") {
          mirror_dead_at_[m.mirror_id()] = t;
          note(m.mirror_id() + " declared dead");
        }
        h = m.state();
      }
      bool short_now = s->under_replicated_size() > 0;
      polls_.emplace_back(t, short_now);
      under_replicated_ = short_now;
      if (!part_names_.empty() && s->parts() > 0) {
        replica_sample r;
        r.at = t;
        r.replicas.assign(part_names_.size(), s->replicas());
        for (auto& p : s->under_replicated()) {
          auto key = p.name() + "#" + std::to_string(p.part());
          auto i = std::find(part_names_.begin(), part_names_.end(), key);
          if (i != part_names_.end())
            r.replicas[i - part_names_.begin()] = p.holders_size();
        }
        replicas_.push_back(std::move(r));
      }
    },
    placement_atom::value, std::string{});
}

void harness::poll_supervisor(const std::string& target) {
  std::string child;
  auto sup = supervisor_of(target, child);
  ask<pb::ActorList>(
    sup, 2s,
    [this, target, child](std::optional<pb::ActorList> xs, std::string) {
      if (!xs)
        return;
      for (auto& a : xs->actors())
        if (a.name() == child)
          supervision_[target] = supervised{a.state(), a.restarts()};
    },
    list_atom::value);
}

void harness::check_conditions() {
  at(now() + 100ms, [this] { check_conditions(); });
  for (auto& f : faults_) {
    if (f.injected || f.when_client.empty())
      continue;
    auto c = client(f.when_client);
    bool due;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      due = c->pieces_wanted > 0
            && static_cast<double>(c->pieces_got) * 100
                 >= f.when_percent * static_cast<double>(c->pieces_wanted);
    }
    if (due)
      apply(f);
  }
}

std::string harness::sample_timeline() const {
  std::ostringstream out;
  for (auto& c : clients_)
    out << c.name << " " << ms_of(c.arrive) << " " << ms_of(c.finished) << "\n";
  return out.str();
}

const std::map<std::string, uint64_t> harness::bytes_by_kind() const {
  return net_->bytes_by_kind();
}

} // namespace actorrent::sim
