// The end of a run: what the clients that did not complete say, the
// invariants, the figures.
#include "simulations/sim/harness.hpp"
#include "simulations/sim/harness_ask.hpp"

#include <algorithm>
#include <chrono>
#include <set>
#include <sstream>
#include <thread>

#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

namespace actorrent::sim {

namespace {

using namespace std::chrono_literals;

} // namespace

void harness::collect_end() {
  // Each client that did not complete: its downloads as its agent sees them.
  auto pending = std::make_shared<size_t>(0);
  for (auto& c : clients_) {
    if (!c.started || c.dead || c.leaves || c.wants.empty()
        || c.finished >= caf::timespan{0})
      continue;
    auto ptr = c.node.peer_slot ? c.node.peer_slot->get() : nullptr;
    if (!ptr) {
      c.incomplete = "its peer agent is not running";
      continue;
    }
    ++*pending;
    auto name = c.name;
    ask<pb::DownloadList>(
      caf::actor_cast<peer_actor>(ptr), 2s,
      [this, name, pending](std::optional<pb::DownloadList> xs, std::string err) {
        --*pending;
        auto c = client(name);
        if (!xs) {
          c->incomplete = "no answer: " + err;
          return;
        }
        std::ostringstream out;
        for (auto& w : c->wants) {
          bool listed = false;
          for (auto& d : xs->downloads())
            listed = listed || d.name() == w;
          if (!listed && c->done.count(w) == 0)
            out << w << ": not among its downloads [violation]; ";
        }
        for (auto& d : xs->downloads()) {
          if (d.state() == pb::COMPLETE)
            continue;
          // Which pieces it lacks, by what it wrote.
          auto& bits = c->pieces[d.name()];
          std::vector<uint32_t> lacking;
          for (uint32_t p = 0; p < bits.size(); ++p)
            if (!bits[p])
              lacking.push_back(p);
          std::vector<uint32_t> missing(d.missing().begin(), d.missing().end());
          std::sort(missing.begin(), missing.end());
          // A source that is alive and holds the piece: a client (its
          // written pieces, or a file it started with) or the mirrors.
          std::vector<uint32_t> available;
          for (auto p : lacking) {
            bool has = false;
            for (auto& o : clients_) {
              if (!o.started || o.dead || &o == c)
                continue;
              auto it = o.pieces.find(d.name());
              if (o.holds.count(d.name()) > 0
                  || (it != o.pieces.end() && p < it->second.size()
                      && it->second[p]))
                has = true;
            }
            if (!part_names_.empty() && !replicas_.empty()) {
              auto part = uint64_t{p} * cfg_.piece_size / cfg_.part_size;
              auto key = d.name() + "#" + std::to_string(part);
              auto i = std::find(part_names_.begin(), part_names_.end(), key);
              if (i != part_names_.end()
                  && replicas_.back().replicas[i - part_names_.begin()] > 0)
                has = true;
            }
            if (has)
              available.push_back(p);
          }
          bool stalled = d.state() == pb::STALLED || d.state() == pb::FAILED;
          out << d.name() << ": " << pb::DownloadState_Name(d.state()) << ", "
              << lacking.size() << " pieces missing";
          if (!d.reason().empty())
            out << " (" << d.reason() << ")";
          if (!stalled)
            out << "; NOT reported as stalled";
          else if (missing != lacking)
            out << "; reports " << missing.size()
                << " pieces without a source, lacks " << lacking.size();
          if (!available.empty())
            out << "; " << available.size()
                << " of them have a live source (e.g. piece " << available[0]
                << ")";
          bool exact = stalled && missing == lacking && available.empty();
          out << (exact ? "" : " [violation]") << "; ";
        }
        c->incomplete = out.str();
        if (c->incomplete.empty())
          c->incomplete = "every download complete (renamed after the end)";
      },
      status_atom::value);
  }
  // The catalog: every file announced must still be listed (acknowledged
  // announces survive tracker kills and restarts).
  auto cat = std::make_shared<bool>(false);
  ask<pb::FileList>(
    caf::actor_cast<tracker_actor>(tracker_.front), 2s,
    [this, cat](std::optional<pb::FileList> xs, std::string err) {
      *cat = true;
      catalog_checked_ = xs.has_value();
      if (!xs) {
        note("catalog: no answer: " + err);
        return;
      }
      for (auto& f : xs->files())
        catalog_.insert(f.name());
    },
    list_atom::value, pb::FileQuery{});
  auto deadline = now() + 5s;
  while ((*pending > 0 || !*cat) && now() < deadline) {
    auto before = now();
    run_posted();
    if (deterministic()) {
      drain();
      run_posted();
      if (*pending == 0 && *cat)
        break;
      sched_->advance_time(10ms);
    } else {
      std::this_thread::sleep_for(10ms);
    }
    (void) before;
  }
}

outcome harness::finish() {
  auto wall0 = std::chrono::steady_clock::now();
  collect_end();
  outcome out;
  out.virtual_end = now();
  out.events = events_;
  // 1. Every client completes, or reports exactly the pieces no live
  //    source has.
  invariant complete{"every client completes or reports exactly which pieces"
                     " no live source has"};
  size_t ok = 0, reported = 0, gone = 0, late = 0;
  for (auto& c : clients_) {
    if (c.leaves || c.wants.empty())
      continue;  // the publisher that left, seeders
    if (c.dead) {
      ++gone;
      continue;
    }
    if (!c.started) {
      ++late;
      continue;
    }
    if (c.finished >= caf::timespan{0}) {
      ++ok;
      continue;
    }
    if (c.incomplete.find("[violation]") == std::string::npos
        && c.incomplete.find("STALLED") != std::string::npos) {
      ++reported;
      continue;
    }
    complete.pass = false;
    if (complete.detail.size() < 2000)
      complete.detail += c.name + ": " + c.incomplete + "\n";
  }
  complete.detail = std::to_string(ok) + " complete, " + std::to_string(reported)
                    + " stalled with exactly the pieces no live source has, "
                    + std::to_string(gone) + " killed for good, "
                    + std::to_string(late) + " not arrived\n" + complete.detail;
  if (late > 0)
    complete.pass = false;
  out.invariants.push_back(complete);
  // 2. No corrupt piece written.
  invariant clean{"no corrupt piece ever written"};
  clean.pass = disk_->corrupt_writes() == 0;
  clean.detail = std::to_string(disk_->corrupt_writes())
                 + " writes that differ from the generated bytes";
  out.invariants.push_back(clean);
  // 3. Re-replication within the bound after a mirror died.
  if (!mirrors_.empty()) {
    invariant repair{"every part back on R live mirrors within "
                     + std::to_string(cfg_.repair_bound_ms)
                     + " ms after a mirror dies"};
    if (mirror_dead_at_.empty())
      repair.detail = "no mirror died";
    for (auto& [id, when] : mirror_dead_at_) {
      // From the fault that took it, when there was one.
      auto from = when;
      for (auto& f : faults_) {
        bool hit = std::count(f.targets.begin(), f.targets.end(), id) > 0
                   || std::count(f.side_b.begin(), f.side_b.end(), id) > 0;
        if (f.injected && hit && f.injected_at <= when)
          from = f.injected_at;
      }
      std::ostringstream line;
      line << id << ": gone at " << ms_of(from) << " ms, declared dead at "
           << ms_of(when) << " ms";
      if (auto full = full_after(when); full >= caf::timespan{0}) {
        auto took = full - from;
        line << ", every part on R at " << ms_of(full) << " ms (" << ms_of(took)
             << " ms after it went)";
        if (took > std::chrono::milliseconds(cfg_.repair_bound_ms)) {
          repair.pass = false;
          line << " [over the bound]";
        }
      } else {
        repair.pass = false;
        line << ", parts still short of replicas at the end [violation]";
      }
      repair.detail += line.str() + "\n";
    }
    out.invariants.push_back(repair);
  }
  // 4. No acknowledged tracker write lost: every file a seeder announced
  //    is in the catalog at the end.
  invariant catalog{"no acknowledged tracker write lost (every announced file"
                    " is still in the catalog)"};
  if (!catalog_checked_) {
    catalog.pass = false;
    catalog.detail = "the tracker did not answer list at the end";
  } else {
    std::set<std::string> announced;
    for (auto& c : clients_)
      if (c.started)
        for (auto& f : c.holds)
          announced.insert(f);
    for (auto& f : announced)
      if (catalog_.count(f) == 0) {
        catalog.pass = false;
        catalog.detail += f + " missing; ";
      }
    if (catalog.pass)
      catalog.detail = std::to_string(announced.size()) + " files announced, "
                       + std::to_string(catalog_.size()) + " in the catalog";
  }
  out.invariants.push_back(catalog);
  (void) wall0;
  if (deterministic()) {
    flush_trace();
    out.digest = hex(trace_.finish());
  }
  out.peak_rss_kib = peak_rss_kib();
  for (auto& [kind, x] : profile_) {
    out.profile.push_back(x);
    out.profile.back().kind = kind;
  }
  std::sort(out.profile.begin(), out.profile.end(),
            [](auto& a, auto& b) { return a.seconds > b.seconds; });
  return out;
}

} // namespace actorrent::sim
