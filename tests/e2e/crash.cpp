// End-to-end: real processes killed at the worst moments. A downloader
// SIGKILLed on either side of the rename that finishes a download (fault
// points of the test hook ACTORRENT_TEST_FAULT) finishes it when it starts
// again. Random peers and the tracker are SIGKILLed during paced downloads
// (chaos).
#define BOOST_TEST_MODULE e2e_crash
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <random>
#include <thread>

#include "tests/e2e/swarm.hpp"

using namespace actorrent;
using namespace actorrent::test;

namespace {

// Starts peer `name` with fault point `fault` armed.
void start_with_fault(swarm& s, const std::string& name,
                      const std::string& fault) {
  ::setenv("ACTORRENT_TEST_FAULT", fault.c_str(), 1);
  s.start_peer(name);
  ::unsetenv("ACTORRENT_TEST_FAULT");
}

} // namespace

BOOST_AUTO_TEST_CASE(a_download_killed_around_its_rename_completes_at_restart) {
  swarm s;
  s.start_tracker();
  for (auto f : {"before.bin", "after.bin"})
    write_random_file(s.share_dir("a") + "/" + f, 5 * piece + 123, f[0]);
  s.start_peer("a");
  for (auto fault : {"before_rename", "after_rename"}) {
    std::string file = fault == std::string{"before_rename"} ? "before.bin"
                                                             : "after.bin";
    BOOST_TEST_CONTEXT(fault) {
      start_with_fault(s, "d", fault);
      BOOST_REQUIRE(wait_until([&] { return s.sources("d", file, 1); }, 10s));
      BOOST_REQUIRE_EQUAL(s.ctl("d", {"fetch", file}).code, 0);
      // The process kills itself at the fault point.
      BOOST_REQUIRE(wait_until([&] { return !s.peers["d"]->running(); }, 30s));
      auto final_path = s.dir / ("d-downloads/" + file);
      bool renamed = !file_of(final_path).empty();
      BOOST_TEST(renamed == (fault == std::string{"after_rename"}));
      // Started again (no fault), it reports the download complete and
      // holds the whole file.
      s.start_peer("d");
      BOOST_REQUIRE_MESSAGE(
        wait_until([&] { return s.download_state("d", file) == "complete"; },
                   15s),
        "state: " << s.download_state("d", file));
      BOOST_TEST(file_of(final_path) == file_of(s.share_dir("a") + "/" + file));
      s.peers["d"]->kill();
    }
  }
}

// Chaos: random peers and the tracker are SIGKILLed and started again while
// paced downloads run (ACTORRENT_CHAOS_SECONDS, default 30; seed from
// ACTORRENT_CHAOS_SEED). Afterwards every download completes with the
// exact bytes of its source: 0 corrupt files. simulations/chaos.sh runs it
// longer.
BOOST_AUTO_TEST_CASE(chaos_kills_during_paced_downloads_corrupt_nothing) {
  auto env_or = [](const char* name, uint64_t fallback) {
    auto x = std::getenv(name);
    return x ? std::stoull(x) : fallback;
  };
  auto seconds = env_or("ACTORRENT_CHAOS_SECONDS", 30);
  auto seed = env_or("ACTORRENT_CHAOS_SEED", std::random_device{}());
  BOOST_TEST_MESSAGE("chaos for " << seconds << " s, seed " << seed);
  std::mt19937_64 rng{seed};
  swarm s;
  s.start_tracker();
  std::vector<std::string> files{"f0.bin", "f1.bin", "f2.bin", "f3.bin"};
  std::map<std::string, std::string> owner;
  for (size_t i = 0; i < files.size(); ++i) {
    owner[files[i]] = i < 2 ? "s0" : "s1";
    write_random_file(s.share_dir(owner[files[i]]) + "/" + files[i],
                      6 * 1024 * 1024 + 1000 * i, 100 + i);
  }
  std::vector<std::string> paced{"--peer.upload-limit=524288"};
  std::vector<std::string> downloaders{"d0", "d1", "d2", "d3"};
  std::vector<std::string> victims{"tracker", "s0", "s1"};
  for (auto p : {"s0", "s1"})
    s.start_peer(p, paced);
  for (auto& d : downloaders) {
    s.start_peer(d, paced);
    victims.push_back(d);
  }
  for (auto& f : files)
    BOOST_REQUIRE(wait_until([&] { return s.sources("d0", f, 1); }, 10s));
  for (auto& d : downloaders) {
    std::vector<std::string> args{"fetch"};
    args.insert(args.end(), files.begin(), files.end());
    BOOST_REQUIRE_EQUAL(s.ctl(d, args).code, 0);
  }
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  int kills = 0;
  while (std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(
      std::chrono::milliseconds(500 + rng() % 2000));
    auto victim = victims[rng() % victims.size()];
    if (victim == "tracker") {
      s.tracker->kill(SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 1000));
      s.start_tracker();
    } else {
      s.peers[victim]->kill(SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 1000));
      s.start_peer(victim, paced);
    }
    ++kills;
  }
  int done = 0;
  for (auto& d : downloaders)
    for (auto& f : files)
      done += s.download_state(d, f) == "complete" ? 1 : 0;
  BOOST_TEST_MESSAGE(kills << " processes SIGKILLed and restarted; " << done
                           << " of 16 downloads complete when it ended");
  // Everything runs again: every download completes, byte for byte.
  std::string incomplete;
  bool all = wait_until(
    [&] {
      incomplete.clear();
      for (auto& d : downloaders)
        for (auto& f : files)
          if (s.download_state(d, f) != "complete")
            incomplete += d + "/" + f + " ("
                          + s.ctl(d, {"downloads"}).out + ") ";
      return incomplete.empty();
    },
    120s);
  BOOST_TEST(all, "not complete: " << incomplete);
  int corrupt = 0;
  for (auto& d : downloaders)
    for (auto& f : files) {
      auto got = file_of(s.dir / (d + "-downloads/" + f));
      if (!got.empty()
          && got != file_of(s.share_dir(owner[f]) + "/" + f))
        ++corrupt;
    }
  BOOST_TEST(corrupt == 0);
}
