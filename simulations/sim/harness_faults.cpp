// The harness's faults: resolving targets, injecting each kind through the
// node's supervisor (kill, restart), the network seam (hang, slow,
// partition) or the disk seam (corrupt), and following each one until it is
// detected and recovered from.
#include "simulations/sim/harness.hpp"
#include "simulations/sim/harness_ask.hpp"

#include <sstream>
#include <thread>

#include "actors/core/json.hpp"

#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

namespace actorrent::sim {

namespace {

using namespace std::chrono_literals;

} // namespace

std::string harness::resolve(const std::string& target) {
  if (target == "random-mirror" && cfg_.mirrors > 0) {
    rng_state_ = derive_seed(rng_state_, "fault");
    return "mirror-" + std::to_string(rng_state_ % cfg_.mirrors);
  }
  if (target == "random-client") {
    rng_state_ = derive_seed(rng_state_, "fault");
    return "client-" + std::to_string(rng_state_ % cfg_.clients);
  }
  return target;
}

std::string harness::site_of(const std::string& target) const {
  if (auto i = mirror_node_of_.find(target); i != mirror_node_of_.end())
    return i->second;
  return target;
}

supervisor_actor harness::supervisor_of(const std::string& target,
                                        std::string& child) const {
  if (target == "tracker") {
    child = "tracker";
    return tracker_.sup;
  }
  if (auto i = mirror_node_of_.find(target); i != mirror_node_of_.end()) {
    child = target;
    for (auto& m : mirrors_)
      if (m.site == i->second)
        return m.node.sup;
  }
  if (auto i = client_index_.find(target); i != client_index_.end()) {
    child = "peer";
    return clients_[i->second].node.sup;
  }
  return {};
}

void harness::kill_target(const std::string& target, bool hard) {
  if (auto c = client(target); c != nullptr && hard) {
    // A client killed for good: its whole node (a process that died).
    for (auto h : {caf::actor_cast<caf::actor>(c->node.front),
                   caf::actor_cast<caf::actor>(c->node.sup),
                   caf::actor_cast<caf::actor>(c->node.ctl)})
      if (h)
        caf::anon_send_exit(h, caf::exit_reason::kill);
    std::lock_guard<std::mutex> guard{mtx_};
    c->dead = true;
    return;
  }
  to_supervisor("kill", target, kill_atom::value, hard);
}

void harness::restart_target(const std::string& target) {
  to_supervisor("restart", target, restart_atom::value);
}

template <class Atom, class... Ts>
void harness::to_supervisor(const std::string& verb, const std::string& target,
                            Atom atom, Ts... xs) {
  std::string child;
  auto sup = supervisor_of(target, child);
  ask<caf::ok_atom>(
    sup, 2s,
    [this, verb, target](std::optional<caf::ok_atom>, std::string err) {
      if (!err.empty())
        note(verb + " " + target + ": " + err);
    },
    atom, child, xs...);
}

std::string harness::inject(const std::string& text) {
  fault f;
  if (auto err = parse_fault("0s " + text, f); !err.empty())
    return err.substr(0, err.find(':')) == "fault '0s " + text + "'"
             ? "'" + text + "'" + err.substr(err.find(':'))
             : err;
  f.text = text;
  faults_.push_back(f);
  apply(faults_.back());
  return {};
}

void harness::apply(fault& f) {
  if (f.injected)
    return;
  f.injected = true;
  f.injected_at = now();
  for (auto& t : f.targets)
    t = resolve(t);
  for (auto& t : f.side_b)
    t = resolve(t);
  std::string targets;
  for (auto& t : f.targets)
    targets += " " + t;
  note("fault " + f.action + targets
       + (f.side_b.empty() ? "" : " /") + [&] {
           std::string b;
           for (auto& t : f.side_b)
             b += " " + t;
           return b;
         }());
  auto target = f.targets.empty() ? std::string{} : f.targets[0];
  if (!target.empty()) {
    std::string child;
    if (auto i = supervision_.find(target); i != supervision_.end())
      f.restarts_before = i->second.restarts;
  }
  auto& a = f.action;
  if (a == "kill") {
    kill_target(target, false);
  } else if (a == "kill-hard") {
    kill_target(target, true);
  } else if (a == "restart") {
    restart_target(target);
  } else if (a == "crash-loop") {
    for (uint32_t k = 0; k < f.times; ++k)
      at(now() + std::chrono::milliseconds(uint64_t{f.every_ms} * k),
         [this, target] { kill_target(target, false); });
  } else if (a == "hang") {
    net_->hang(site_of(target), true);
  } else if (a == "slow") {
    net_->slow(site_of(target), f.factor);
  } else if (a == "corrupt") {
    f.served_before = net_->bytes_served(site_of(target));
    disk_->set_corrupt(site_of(target), true);
  } else if (a == "partition") {
    std::vector<std::string> xs, ys;
    for (auto& t : f.targets)
      xs.push_back(site_of(t));
    for (auto& t : f.side_b)
      ys.push_back(site_of(t));
    net_->partition(xs, ys);
  } else if (a == "heal") {
    net_->heal();
    for (auto& g : faults_)
      if ((g.action == "hang" || g.action == "partition")
          && g.recovered_at < caf::timespan{0} && &g != &f)
        g.outcome = "healed at " + std::to_string(ms_of(now())) + " ms";
  }
}

void harness::track_faults() {
  at(now() + 100ms, [this] { track_faults(); });
  auto t = now();
  for (auto& f : faults_) {
    if (!f.injected || f.recovered_at >= caf::timespan{0} || f.targets.empty())
      continue;
    auto& target = f.targets[0];
    auto& a = f.action;
    bool mirror = mirror_node_of_.count(target) > 0;
    if (a == "kill" || a == "restart" || a == "crash-loop"
        || (a == "kill-hard" && client(target) == nullptr)) {
      poll_supervisor(target);
      auto i = supervision_.find(target);
      if (i == supervision_.end())
        continue;
      auto& s = i->second;
      bool changed = s.restarts > f.restarts_before || s.state != "running";
      if (changed && f.detected_at < caf::timespan{0} && !mirror)
        f.detected_at = t;
      if (s.state == "failed" && f.outcome.empty())
        f.outcome = "supervisor gave up after " + std::to_string(s.restarts)
                    + " restarts";
      if (s.state == "stopped" && a == "kill-hard" && f.outcome.empty())
        f.outcome = "stopped for good";
      if ((a == "kill" || a == "restart") && s.state == "running"
          && s.restarts > f.restarts_before) {
        if (f.detected_at < caf::timespan{0})
          f.detected_at = t;
        f.recovered_at = t;
        f.outcome = "running again (restart " + std::to_string(s.restarts) + ")";
        // A client whose state is in memory forgot its download: like its
        // user, the harness asks for the file again (it starts over).
        if (auto c = client_index_.find(target);
            c != client_index_.end() && cfg_.state_db == "memory"
            && clients_[c->second].finished < caf::timespan{0}
            && !clients_[c->second].wants.empty()) {
          note(target + " restarted without its state: fetch again");
          fetch(c->second);
        }
      }
    }
    // A mirror gone for good: placement declares it dead (detect), then
    // every part is back on R live mirrors (recover).
    if (mirror && (a == "kill-hard" || a == "crash-loop")) {
      auto d = mirror_dead_at_.find(target);
      if (d != mirror_dead_at_.end() && d->second >= f.injected_at) {
        f.detected_at = d->second;
        if (auto full = full_after(d->second); full >= caf::timespan{0}) {
          f.recovered_at = full;
          f.outcome += std::string{f.outcome.empty() ? "" : "; "}
                       + "every part on R live mirrors again";
        }
      }
    }
    // Hang and partition: detected when the first connection across the cut
    // ends (as CAF's heartbeats end it); recovered when healed (a mirror:
    // once placement has it alive again).
    if (a == "hang" || a == "partition") {
      // A connection of this fault's sites (a hang: to or from the hung
      // site; a partition: across its two sides).
      auto in = [this](const std::vector<std::string>& xs, const std::string& s) {
        for (auto& x : xs)
          if (site_of(x) == s)
            return true;
        return false;
      };
      auto ours = [&](const network::cut_exit& x) {
        if (a == "hang")
          return in(f.targets, x.from) || in(f.targets, x.to);
        return (in(f.targets, x.from) && in(f.side_b, x.to))
               || (in(f.side_b, x.from) && in(f.targets, x.to));
      };
      if (f.detected_at < caf::timespan{0})
        for (auto& x : net_->cut_exits())
          if (x.when - t0_ >= f.injected_at && ours(x)) {
            f.detected_at = x.when - t0_;
            break;
          }
      bool healed = !f.outcome.empty();  // set by heal
      if (healed) {
        bool back = true;
        for (auto& xs : {f.targets, f.side_b})
          for (auto& x : xs)
            if (mirror_node_of_.count(x) > 0 && mirror_health_[x] != "alive")
              back = false;
        if (back)
          f.recovered_at = t;
      }
    }
    // Corrupt: detected once nobody asks it for pieces any more (every
    // fetcher banned it after 3 bad pieces); judged at the end.
    if (a == "corrupt") {
      auto last = net_->last_piece_asked(site_of(target)) - t0_;
      if (last >= f.injected_at && t - last > 2s)
        f.detected_at = last;
      else
        f.detected_at = caf::timespan{-1};
      f.outcome = human_bytes(static_cast<double>(
                    net_->bytes_served(site_of(target)) - f.served_before))
                  + " asked from it while corrupt";
    }
  }
}

std::string harness::status() const {
  std::ostringstream out;
  std::lock_guard<std::mutex> guard{mtx_};
  size_t started = 0, done = 0, dead = 0;
  uint64_t got = 0, wanted = 0;
  for (auto& c : clients_) {
    started += c.started;
    dead += c.dead;
    done += c.finished >= caf::timespan{0};
    got += c.pieces_got;
    wanted += c.pieces_wanted;
  }
  out << "time " << ms_of(now()) << " ms, events " << events_ << "\n"
      << "clients: " << clients_.size() << " (" << started << " started, "
      << done << " complete, " << dead << " gone), pieces " << got << "/"
      << wanted << "\n";
  size_t alive = 0;
  for (auto& [id, h] : mirror_health_)
    alive += h == "alive";
  if (!mirrors_.empty())
    out << "mirrors: " << alive << " alive of " << cfg_.mirrors
        << (under_replicated_ ? ", parts short of replicas" : ", every part on R")
        << "\n";
  for (auto& [id, h] : mirror_health_)
    if (h != "alive")
      out << "  " << id << " " << h << "\n";
  for (auto& c : clients_)
    if (net_->hung(c.name))
      out << "  " << c.name << " hung\n";
  for (auto& m : mirrors_)
    if (net_->hung(m.site))
      out << "  " << m.site << " hung\n";
  if (net_->hung("tracker"))
    out << "  tracker hung\n";
  for (auto& f : faults_)
    if (f.injected)
      out << "fault at " << ms_of(f.injected_at) << " ms: " << f.action << " "
          << (f.targets.empty() ? "" : f.targets[0])
          << (f.outcome.empty() ? "" : " (" + f.outcome + ")") << "\n";
  return out.str();
}

std::string harness::actors(const std::string& node) {
  std::string child;
  auto sup = supervisor_of(node.empty() ? "tracker" : node, child);
  if (!sup)
    return "no node " + node + "\n";
  auto out = std::make_shared<std::string>();
  auto answered = std::make_shared<bool>(false);
  ask<pb::ActorList>(
    sup, 2s,
    [out, answered](std::optional<pb::ActorList> xs, std::string err) {
      *answered = true;
      if (!xs) {
        *out = "error: " + err + "\n";
        return;
      }
      for (auto& a : xs->actors())
        *out += a.name() + " " + a.state() + " restarts "
                + std::to_string(a.restarts())
                + (a.last_exit().empty() ? "" : " last exit " + a.last_exit())
                + "\n";
    },
    list_atom::value);
  // Until answered: the events that need, without moving time when the
  // answer needs none (bounded by the ask's timeout).
  for (int i = 0; i < 1000 && !*answered; ++i) {
    if (deterministic()) {
      drain();
      run_posted();
      if (!*answered && !sched_->has_job())
        sched_->advance_time(10ms);
    } else {
      std::this_thread::sleep_for(10ms);
      run_posted();
    }
  }
  return *out;
}

} // namespace actorrent::sim
