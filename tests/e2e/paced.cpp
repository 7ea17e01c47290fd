// End-to-end: a swarm whose every peer paces its uploads. Eight peers at
// 4 MiB/s each (peer.upload-limit), window 8: four hold one file each, and
// every peer downloads every file it lacks (28 downloads at once). The
// pacing holds replies without blocking the piece server, so every
// download completes, intact.
#define BOOST_TEST_MODULE e2e_paced
#include <boost/test/unit_test.hpp>

#include "tests/e2e/swarm.hpp"

using namespace actorrent;
using namespace actorrent::test;

BOOST_AUTO_TEST_CASE(eight_paced_peers_complete_all_28_downloads) {
  swarm s;
  s.start_tracker();
  constexpr size_t size = 4 * 1024 * 1024;
  std::vector<std::string> peers, files;
  for (int i = 0; i < 8; ++i)
    peers.push_back("p" + std::to_string(i));
  for (int i = 0; i < 4; ++i) {
    files.push_back("f" + std::to_string(i) + ".bin");
    write_random_file(s.share_dir(peers[i]) + "/" + files[i], size, i + 1);
  }
  for (auto& p : peers)
    s.start_peer(p, {"--peer.upload-limit=4194304", "--peer.window=8"});
  for (auto& f : files)
    BOOST_REQUIRE(wait_until([&] { return s.sources("p7", f, 1); }, 10s));
  auto t0 = std::chrono::steady_clock::now();
  int downloads = 0;
  for (size_t i = 0; i < peers.size(); ++i) {
    std::vector<std::string> args{"fetch"};
    for (size_t j = 0; j < files.size(); ++j)
      if (j != i)
        args.push_back(files[j]);
    downloads += static_cast<int>(args.size()) - 1;
    BOOST_REQUIRE_EQUAL(s.ctl(peers[i], args).code, 0);
  }
  BOOST_REQUIRE_EQUAL(downloads, 28);
  int complete = 0;
  wait_until(
    [&] {
      complete = 0;
      for (size_t i = 0; i < peers.size(); ++i)
        for (size_t j = 0; j < files.size(); ++j)
          if (j != i && s.download_state(peers[i], files[j]) == "complete")
            ++complete;
      return complete == downloads;
    },
    150s);
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now()
                                            - t0)
                .count();
  BOOST_TEST_MESSAGE(complete << " of " << downloads << " complete in "
                              << secs << " s");
  BOOST_TEST(complete == downloads);
  for (size_t i = 0; i < peers.size(); ++i)
    for (size_t j = 0; j < files.size(); ++j)
      if (j != i)
        BOOST_TEST(file_of(s.dir / (peers[i] + "-downloads/" + files[j]))
                     == file_of(s.share_dir(peers[j]) + "/" + files[j]),
                   peers[i] << "/" << files[j]);
}
