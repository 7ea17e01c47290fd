// End-to-end: real processes killed at the worst moments. A downloader
// SIGKILLed on either side of the rename that finishes a download (fault
// points of the test hook ACTORRENT_TEST_FAULT) finishes it when it starts
// again.
#define BOOST_TEST_MODULE e2e_crash
#include <boost/test/unit_test.hpp>

#include <cstdlib>

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
