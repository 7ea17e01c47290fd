// Mirrors switch trackers, with real processes: two tracker processes on
// one PostgreSQL catalog, a mirror process (4 mirrors) listing both
// trackers. A file is published to the mirrors through the first tracker.
// The second tracker, which the mirrors never registered with, knows them
// from the database: its `placement` shows them alive elsewhere with their
// parts, and a one-shot fetch through it gets the exact bytes from the
// mirrors (no peer holds the file). Then the first tracker is SIGKILLed;
// the mirrors register with the second one, whose placement shows them
// alive, and a fetch through it works again.
#define BOOST_TEST_MODULE e2e_mirror_switch
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <regex>

#include "tests/e2e/swarm.hpp"
#include "tests/pg_server.hpp"

using namespace actorrent;
using namespace actorrent::test;

namespace {

struct mirrors_two_trackers : swarm {
  node_ports second_ports;
  std::unique_ptr<process> second;
  node_ports mirror_ports;
  std::unique_ptr<process> mirror;
  std::vector<std::string> placement{"--placement.replicas=2",
                                     "--placement.dead-after-ms=2000"};

  mirrors_two_trackers() {
    tracker_db = fresh_pg_database();
    start_tracker(placement);
    start_tracker_at(second_ports, second, "tracker2", placement);
    make_dirs(dir / "mirror-data");
    mirror = std::make_unique<process>(
      std::vector<std::string>{
        "mirror", "--config",
        std::string{ACTORRENT_SOURCE_DIR} + "/config/mirror.ini",
        "--mirror.tracker=[\"" + address(tracker_ports) + "\", \""
          + address(second_ports) + "\"]",
        "--mirror.port=" + std::to_string(mirror_ports.port),
        "--mirror.control-port=" + std::to_string(mirror_ports.control),
        "--mirror.data-dir=" + dir / "mirror-data",
        "--mirror.ids=[\"m0\", \"m1\", \"m2\", \"m3\"]"},
      dir / "mirror.log");
  }

  static std::string address(const node_ports& p) {
    return "127.0.0.1:" + std::to_string(p.port);
  }

  /// Mirrors `ctl placement` on tracker `p` shows in `state`, with their
  /// parts.
  std::map<std::string, int> alive_at(const node_ports& p,
                                      const std::string& state = "alive") {
    std::map<std::string, int> out;
    auto json = ctl(p, {"--json", "placement"}).out;
    std::regex re{"\"mirror\":\"(m[0-9]+)\",\"state\":\"" + state
                  + "\",\"parts\":([0-9]+)"};
    for (std::sregex_iterator i{json.begin(), json.end(), re}, end; i != end;
         ++i)
      out[(*i)[1]] = std::stoi((*i)[2]);
    return out;
  }

  static int parts(const std::map<std::string, int>& xs) {
    int n = 0;
    for (auto& [id, k] : xs)
      n += k;
    return n;
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(mirrors_register_with_the_other_tracker_and_serve) {
  mirrors_two_trackers s;
  BOOST_REQUIRE_MESSAGE(
    wait_until([&] { return s.alive_at(s.tracker_ports).size() == 4; }, 15s),
    s.ctl(s.tracker_ports, {"placement"}).out);
  auto source = s.dir / "shared.bin";
  write_random_file(source, 3 * piece + 123, 11);
  auto put = run({"mirror-put", "--tracker", s.address(s.tracker_ports), source},
                 60s);
  BOOST_REQUIRE_MESSAGE(put.code == 0, put.out);
  auto before = s.parts(s.alive_at(s.tracker_ports));
  BOOST_TEST_MESSAGE("parts on mirrors before the kill: " << before);
  BOOST_REQUIRE(before >= 2);

  // The other tracker answers from the database: mirrors alive elsewhere,
  // and their sources for a fetch.
  BOOST_REQUIRE_MESSAGE(
    wait_until(
      [&] {
        auto seen = s.alive_at(s.second_ports, "elsewhere");
        return seen.size() == 4 && s.parts(seen) == before;
      },
      10s),
    s.ctl(s.second_ports, {"placement"}).out);
  auto early = run({"fetch", "--tracker", s.address(s.second_ports),
                    "shared.bin", "--to", s.dir / "early"},
                   60s);
  BOOST_REQUIRE_MESSAGE(early.code == 0, early.out);
  BOOST_TEST(file_of(s.dir / "early/shared.bin") == file_of(source));

  // The tracker the mirrors registered with is SIGKILLed.
  s.tracker->kill();
  auto start = std::chrono::steady_clock::now();
  BOOST_REQUIRE_MESSAGE(
    wait_until(
      [&] {
        auto alive = s.alive_at(s.second_ports);
        return alive.size() == 4 && s.parts(alive) >= before;
      },
      15s),
    s.ctl(s.second_ports, {"placement"}).out);
  BOOST_TEST_MESSAGE(
    "mirrors alive with their parts at the second tracker after "
    << std::chrono::duration_cast<std::chrono::milliseconds>(
         std::chrono::steady_clock::now() - start)
         .count()
    << " ms");

  // Only the mirrors hold the file: the fetch through the second tracker
  // gets it from them.
  auto to = s.dir / "fetched";
  auto fetch = run({"fetch", "--tracker", s.address(s.second_ports),
                    "shared.bin", "--to", to},
                   60s);
  BOOST_REQUIRE_MESSAGE(fetch.code == 0, fetch.out);
  BOOST_TEST(file_of(to + "/shared.bin") == file_of(source));
}
