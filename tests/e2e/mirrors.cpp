// The mirror cluster with real processes, started through `actorrent
// cluster`: a tracker, 50 mirrors in 5 processes and a peer. A 256 MiB file
// is published with 5 replicas; it is downloaded while a mirror actor is
// killed, while a mirror process is SIGKILLed and while one is SIGSTOPped,
// byte-identical every time; a mirror process lost for good is
// re-replicated until every part is on 5 live mirrors again; a downloader
// SIGKILLed mid-download resumes with only the pieces it was missing.
#define BOOST_TEST_MODULE e2e_mirrors
#include <boost/test/unit_test.hpp>

#include <future>
#include <regex>
#include <set>

#include "tests/nodes/cluster_fixture.hpp"

using namespace actorrent;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t file_size = 256ull << 20;
constexpr uint64_t piece = 1 << 20;

struct mirrors : test::cluster_fixture {
  std::string source = tmp / "big.bin";

  mirrors() {
    test::write_random_file(source, file_size, 8);
    auto r = cluster({"up", "--mirrors", "50", "--mirror-processes", "5",
                      "--peers", "1", "--replicas", "5",
                      "--dead-after-ms", "2000"});
    BOOST_REQUIRE_MESSAGE(r.code == 0, r.out);
    auto put = test::run({"mirror-put", "--tracker", tracker(), source}, 300s);
    BOOST_REQUIRE_MESSAGE(put.code == 0, put.out);
    BOOST_TEST_MESSAGE(put.out);
  }

  std::string tracker() {
    return "127.0.0.1:" + std::to_string(node("tracker").port());
  }

  std::string placement_json() {
    return ctl(node("tracker"), {"--json", "placement"}).out;
  }

  // Mirrors with at least one part, from `ctl placement`.
  std::vector<std::string> holders() {
    std::vector<std::string> out;
    std::regex re{R"re("mirror":"(m[0-9]+)","state":"alive","parts":([0-9]+))re"};
    auto json = placement_json();
    for (std::sregex_iterator i{json.begin(), json.end(), re}, end; i != end; ++i)
      if (std::stoi((*i)[2]) > 0)
        out.push_back((*i)[1]);
    return out;
  }

  bool fully_replicated() {
    auto json = placement_json();
    return json.find("\"under_replicated\":[]") != std::string::npos
           && json.find("\"copies\":[]") != std::string::npos
           && json.find("\"files\":1,\"parts\":4") != std::string::npos;
  }

  // A one-shot fetch into `to`; `fault` runs once the download is under
  // way (its partial file exists). The fetch must succeed with the bytes.
  void fetch_with_fault(const std::string& to, std::function<void()> fault) {
    auto fetch = std::async(std::launch::async, [&] {
      return test::run({"fetch", "--tracker", tracker(), "big.bin", "--to", to,
                        "--log.level=info"},
                       180s);
    });
    bool started = test::wait_until(
      [&] { return ::access((to + "/.big.bin.part").c_str(), F_OK) == 0; },
      60s);
    BOOST_CHECK(started);
    BOOST_CHECK(::access((to + "/big.bin").c_str(), F_OK) != 0); // not done
    fault();
    auto r = fetch.get();
    BOOST_REQUIRE_MESSAGE(r.code == 0, r.out);
    BOOST_CHECK(test::read_file(to + "/big.bin") == test::read_file(source));
    BOOST_TEST_MESSAGE(r.out.substr(r.out.size() > 3000 ? r.out.size() - 3000 : 0));
  }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(downloads_survive_mirror_failures_and_lost_replicas_return,
                        mirrors) {
  auto hs = holders();
  BOOST_REQUIRE(!hs.empty());
  // 4 parts x 5 replicas on 5 processes: one replica of each part per node.
  BOOST_CHECK(fully_replicated());

  // (1) A mirror actor killed mid-transfer: its supervisor restarts it.
  auto victim = hs.front();
  fetch_with_fault(tmp / "d1", [&] {
    auto r = cluster({"kill", victim});
    BOOST_CHECK_MESSAGE(r.code == 0, r.out);
  });
  BOOST_CHECK(test::wait_until(
    [&] {
      auto f = file();
      for (auto& n : f.nodes()) {
        auto out = ctl(n, {"actors"}).out;
        auto line = test::line_of(out, victim);
        if (!line.empty())
          return line.find("running") != std::string::npos;
      }
      return false;
    },
    10s));

  // (2) A mirror process SIGKILLed mid-transfer, then started again.
  fetch_with_fault(tmp / "d2", [&] {
    auto r = cluster({"kill", "mirror-1"});
    BOOST_CHECK_MESSAGE(r.code == 0, r.out);
  });
  auto restarted = cluster({"start", "mirror-1"});
  BOOST_REQUIRE_MESSAGE(restarted.code == 0, restarted.out);

  // (3) A mirror process stopped (SIGSTOP) mid-transfer: it keeps its
  // connections but answers nothing; the download goes on without it.
  fetch_with_fault(tmp / "d3", [&] {
    auto r = cluster({"kill", "mirror-2", "--stop"});
    BOOST_CHECK_MESSAGE(r.code == 0, r.out);
  });
  BOOST_REQUIRE_EQUAL(cluster({"kill", "mirror-2", "--cont"}).code, 0);
  BOOST_REQUIRE(test::wait_until([&] { return fully_replicated(); }, 60s));

  // (4) A mirror process lost for good: within dead-after its 10 mirrors
  // are dead, and every part is copied until it has 5 live replicas again.
  BOOST_REQUIRE_EQUAL(cluster({"kill", "mirror-4"}).code, 0);
  BOOST_REQUIRE(test::wait_until(
    [&] {
      auto json = placement_json();
      return std::regex_search(json, std::regex{R"("mirror":"m4[0-9]","state":"dead")"});
    },
    20s));
  BOOST_CHECK(test::wait_until([&] { return fully_replicated(); }, 120s));
  auto text = ctl(node("tracker"), {"placement"}).out;
  BOOST_CHECK_MESSAGE(text.find("40 of 50 alive") != std::string::npos, text);
}

BOOST_FIXTURE_TEST_CASE(a_killed_downloader_resumes_with_missing_pieces_only,
                        mirrors) {
  auto peer = node("peer-0");
  auto to = std::string{tmp / "resume"};
  BOOST_REQUIRE_EQUAL(ctl(peer, {"fetch", "big.bin", "--to", to}).code, 0);
  int64_t done = 0;
  // Frozen (SIGSTOP, sent from here: no process start in between) as soon
  // as an eighth is verified, then killed.
  BOOST_REQUIRE(test::wait_until(
    [&] {
      done = test::json_int(ctl(peer, {"--json", "downloads"}).out,
                            "bytes_done");
      if (done < static_cast<int64_t>(file_size / 8))
        return false;
      BOOST_REQUIRE(test::alive(peer.pid(), peer.config()));
      ::kill(peer.pid(), SIGSTOP);
      return true;
    },
    60s));
  BOOST_REQUIRE_EQUAL(cluster({"kill", "peer-0"}).code, 0);
  // The last sample can be stale: what the disk holds says whether the
  // download ended before the stop (renamed into place).
  if (done >= static_cast<int64_t>(file_size)
      || ::access((to + "/big.bin").c_str(), F_OK) == 0) {
    BOOST_TEST_MESSAGE("the download finished before the kill");
    return;
  }
  auto restarted = cluster({"start", "peer-0"});
  BOOST_REQUIRE_MESSAGE(restarted.code == 0, restarted.out);
  peer = node("peer-0");
  BOOST_REQUIRE(test::wait_until(
    [&] {
      return ctl(peer, {"downloads"}).out.find("complete") != std::string::npos;
    },
    120s));
  BOOST_CHECK(test::read_file(to + "/big.bin") == test::read_file(source));
  // The restarted peer resumed from what it had recorded: at least the
  // pieces verified when it was last asked, less the ones whose record
  // was still on its way (at most 7 wait for their record: every 8th have
  // or 100 ms records them; and the haves not yet at the peer).
  auto log = test::read_file(dir + "/peer-0.log");
  std::regex re{"resuming with ([0-9]+) verified pieces"};
  int64_t verified = -1;
  for (std::sregex_iterator i{log.begin(), log.end(), re}, end; i != end; ++i)
    verified = std::stoll((*i)[1]);
  BOOST_REQUIRE_MESSAGE(verified > 0, "no resume line in peer-0.log");
  if (verified == static_cast<int64_t>(file_size / piece)) {
    // Every piece was verified before the stop, the rename was not: the
    // restarted peer has nothing to fetch.
    BOOST_TEST_MESSAGE("every piece was verified before the kill");
    return;
  }
  BOOST_TEST(verified >= done / static_cast<int64_t>(piece) - 16,
             "resumed with " << verified << " pieces, " << done
                             << " bytes were verified before the kill");
  auto missing = static_cast<int64_t>(file_size / piece) - verified;
  auto received = test::json_int(ctl(peer, {"--json", "status"}).out,
                                 "bytes_received");
  BOOST_TEST_MESSAGE("resumed with " << verified << " pieces, received "
                                     << received << " bytes for " << missing
                                     << " missing pieces");
  BOOST_TEST(received >= missing * static_cast<int64_t>(piece));
  // Duplicates of the end game and of requests that timed out stay far
  // below fetching the missing pieces twice.
  BOOST_TEST(received < 2 * missing * static_cast<int64_t>(piece),
             "received " << received << " for " << missing << " pieces");
}
