// End-to-end: real `actorrent` processes on loopback, real SIGKILLs.
#define BOOST_TEST_MODULE e2e_swarm
#include <boost/test/unit_test.hpp>

#include "tests/e2e/swarm.hpp"

using namespace actorrent;
using namespace actorrent::test;
using namespace std::chrono_literals;
using test::json_int;
using test::json_strings;


BOOST_AUTO_TEST_CASE(four_peers_each_end_with_all_four_files) {
  swarm s;
  s.start_tracker();
  std::vector<std::string> names{"p0", "p1", "p2", "p3"};
  for (size_t i = 0; i < names.size(); ++i)
    test::write_random_file(s.share_dir(names[i]) + "/file" + std::to_string(i),
                            3 * 1024 * 1024 + 1000 * i, i);
  // p3 takes and serves pieces as CAF messages only: the others fall back
  // to messages for it, and it asks them for none of their streams.
  for (auto& n : names)
    s.start_peer(n, n == "p3" ? std::vector<std::string>{"--peer.streams=false"}
                              : std::vector<std::string>{});
  for (size_t i = 0; i < names.size(); ++i) {
    std::vector<std::string> args{"fetch"};
    for (size_t j = 0; j < names.size(); ++j)
      if (j != i)
        args.push_back("file" + std::to_string(j));
    auto r = s.ctl(names[i], args);
    BOOST_REQUIRE_MESSAGE(r.code == 0, r.out);
  }
  for (size_t i = 0; i < names.size(); ++i)
    for (size_t j = 0; j < names.size(); ++j) {
      if (i == j)
        continue;
      auto f = "file" + std::to_string(j);
      BOOST_REQUIRE_MESSAGE(test::wait_until(
                              [&] {
                                return s.download_state(names[i], f)
                                       == "complete";
                              },
                              60s),
                            names[i] << " did not complete " << f);
      BOOST_TEST(file_of(s.dir / (names[i] + "-downloads/" + f))
                   == file_of(s.dir / (names[j] + "-share/" + f)),
                 names[i] << "/" << f);
    }
  // A file downloaded is shared: the tracker counts 4 complete sources.
  auto list = s.ctl("p0", {"--json", "list"}).out;
  BOOST_TEST(json_int(list, "complete_sources") == 4, list);
  // Streams where both ends have them, messages where one has not.
  BOOST_TEST(s.bytes_streamed("p0") > 0);
  BOOST_TEST(s.bytes_served("p3") > 0);
  BOOST_TEST(s.bytes_streamed("p3") == 0);
}

BOOST_AUTO_TEST_CASE(source_killed_mid_download_and_download_completes) {
  swarm s;
  s.start_tracker();
  constexpr size_t size = 24 * 1024 * 1024;
  test::write_random_file(s.share_dir("a") + "/movie.mkv", size, 5);
  test::write_random_file(s.share_dir("b") + "/movie.mkv", size, 5);
  // Paced sources so that the kill lands in the middle.
  s.start_peer("a", {"--peer.upload-limit=4000000"});
  s.start_peer("b", {"--peer.upload-limit=4000000"});
  s.start_peer("d");
  BOOST_REQUIRE(test::wait_until([&] { return s.sources("d", "movie.mkv", 2); },
                                 10s));
  BOOST_REQUIRE(s.ctl("d", {"fetch", "movie.mkv"}).code == 0);
  double pct = 0;
  BOOST_REQUIRE(test::wait_until(
    [&] {
      s.download_state("d", "movie.mkv", &pct);
      return pct >= 20;
    },
    30s));
  s.peers["a"]->kill(SIGKILL);
  BOOST_TEST(pct < 80);
  BOOST_REQUIRE(test::wait_until(
    [&] { return s.download_state("d", "movie.mkv") == "complete"; }, 60s));
  BOOST_TEST(file_of(s.dir / "d-downloads/movie.mkv")
             == file_of(s.dir / "b-share/movie.mkv"));
  // The tracker no longer hands out the dead source.
  BOOST_REQUIRE(test::wait_until(
    [&] {
      auto r = s.ctl("d", {"--json", "info", "movie.mkv"});
      return r.out.find("\"peer_id\"") != std::string::npos
             && json_strings(r.out, "peer_id").size() == 2; // b and d
    },
    10s));
}

BOOST_AUTO_TEST_CASE(corrupting_peer_is_banned_and_download_completes) {
  swarm s;
  s.start_tracker();
  constexpr size_t size = 8 * 1024 * 1024;
  test::write_random_file(s.share_dir("good") + "/data.bin", size, 9);
  test::write_random_file(s.share_dir("evil") + "/data.bin", size, 9);
  s.start_peer("good", {"--peer.upload-limit=4000000"});
  s.start_peer("evil");
  // The evil peer's file rots on disk after it was hashed and announced.
  test::write_random_file(s.dir / "evil-share/data.bin", size, 10);
  s.start_peer("d");
  BOOST_REQUIRE(test::wait_until([&] { return s.sources("d", "data.bin", 2); },
                                 10s));
  BOOST_REQUIRE(s.ctl("d", {"fetch", "data.bin"}).code == 0);
  BOOST_REQUIRE(test::wait_until(
    [&] { return s.download_state("d", "data.bin") == "complete"; }, 60s));
  auto out = s.ctl("d", {"downloads"}).out;
  BOOST_TEST(out.find("banned") != std::string::npos, out);
  BOOST_TEST(out.find("failed their SHA-256") != std::string::npos, out);
  BOOST_TEST(file_of(s.dir / "d-downloads/data.bin")
             == file_of(s.dir / "good-share/data.bin"));
  // Both sources served over piece streams (the good one paced): the bad
  // pieces were caught coming from a stream.
  BOOST_TEST(s.bytes_streamed("evil") > 0);
  BOOST_TEST(s.bytes_streamed("good") > 0);
}

BOOST_AUTO_TEST_CASE(downloader_killed_at_half_resumes_with_missing_pieces) {
  swarm s;
  s.start_tracker();
  constexpr size_t size = 16 * 1024 * 1024;
  test::write_random_file(s.share_dir("src") + "/big.iso", size, 11);
  s.start_peer("src", {"--peer.upload-limit=6000000"});
  s.start_peer("d", {"--peer.window=4"});
  BOOST_REQUIRE(test::wait_until([&] { return s.sources("d", "big.iso", 1); },
                                 10s));
  BOOST_REQUIRE(s.ctl("d", {"fetch", "big.iso"}).code == 0);
  double pct = 0;
  BOOST_REQUIRE(test::wait_until(
    [&] {
      s.download_state("d", "big.iso", &pct);
      return pct >= 45;
    },
    30s));
  s.peers["d"]->kill(SIGKILL);
  BOOST_TEST(pct < 95);
  s.start_peer("d", {"--peer.window=4"});  // resumes by itself
  BOOST_REQUIRE(test::wait_until(
    [&] { return s.download_state("d", "big.iso") == "complete"; }, 60s));
  BOOST_TEST(file_of(s.dir / "d-downloads/big.iso")
             == file_of(s.dir / "src-share/big.iso"));
  // The source served the file once plus at most the window that was in
  // flight when the downloader died, one piece being written, and those
  // verified in the last flush interval of its piece record (100 ms: 600 KB
  // at the source's 6 MB/s, at most 3 pieces).
  auto served = s.bytes_served("src");
  BOOST_TEST(served >= static_cast<int64_t>(size));
  BOOST_TEST(served <= static_cast<int64_t>(size + 8 * piece),
             "served " << served);
}

BOOST_AUTO_TEST_CASE(ctl_kill_of_tracker_actor_is_restarted_and_peers_go_on) {
  swarm s;
  s.start_tracker();
  test::write_random_file(s.share_dir("a") + "/one.bin", 2 * 1024 * 1024, 1);
  s.start_peer("a");
  s.start_peer("b");
  // Commands the control actor refuses are answered at once.
  auto r = s.ctl(s.tracker_ports, {"status"});
  BOOST_TEST(r.code == 1, r.out);
  BOOST_TEST(r.out.find("this is a tracker node")
             != std::string::npos, r.out);
  r = s.ctl(s.tracker_ports, {"kill"});
  BOOST_TEST(r.code == 2, r.out);
  r = s.ctl(s.tracker_ports, {"kill", "nobody"});
  BOOST_TEST(r.code == 1, r.out);
  BOOST_TEST(r.out.find("no_such_actor: nobody") != std::string::npos, r.out);
  r = s.ctl(s.tracker_ports, {"kill", "tracker"});
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.out);
  BOOST_REQUIRE(test::wait_until(
    [&] {
      auto out = s.ctl(s.tracker_ports, {"--json", "actors"}).out;
      return out.find("\"state\":\"running\"") != std::string::npos
             && json_int(out, "restarts") == 1;
    },
    10s));
  // The peers notice the lost session and announce again; a fetch works.
  BOOST_REQUIRE(test::wait_until([&] { return s.sources("b", "one.bin", 1); },
                                 10s));
  BOOST_REQUIRE(s.ctl("b", {"fetch", "one.bin"}).code == 0);
  BOOST_REQUIRE(test::wait_until(
    [&] { return s.download_state("b", "one.bin") == "complete"; }, 30s));
  // kill --hard ends it for good; restart brings it back.
  BOOST_REQUIRE(s.ctl(s.tracker_ports, {"kill", "--hard", "tracker"}).code == 0);
  BOOST_REQUIRE(test::wait_until(
    [&] {
      return s.ctl(s.tracker_ports, {"actors"}).out.find("stopped")
             != std::string::npos;
    },
    5s));
  BOOST_TEST(s.ctl("b", {"list"}).code == 1);
  BOOST_REQUIRE(s.ctl(s.tracker_ports, {"restart", "tracker"}).code == 0);
  BOOST_REQUIRE(test::wait_until([&] { return s.sources("b", "one.bin", 2); },
                                 10s));
}

BOOST_AUTO_TEST_CASE(tracker_sigkilled_and_restarted_loses_nothing) {
  swarm s;
  s.start_tracker();
  test::write_random_file(s.share_dir("a") + "/keep.bin", 1024 * 1024, 3);
  s.start_peer("a");
  BOOST_REQUIRE(test::wait_until([&] { return s.sources("a", "keep.bin", 1); },
                                 10s));
  s.tracker->kill(SIGKILL);
  BOOST_TEST(s.ctl("a", {"list"}).code == 1); // no tracker: a clear error
  s.start_tracker();
  // The catalog survived; the peer reconnects and announces again.
  BOOST_REQUIRE(test::wait_until([&] { return s.sources("a", "keep.bin", 1); },
                                 15s));
}

BOOST_AUTO_TEST_CASE(bad_input_gets_clear_errors_and_the_node_keeps_serving) {
  swarm s;
  s.start_tracker();
  test::write_random_file(s.share_dir("a") + "/ok.bin", 512 * 1024, 1);
  s.start_peer("a");
  for (std::string bad : {"../etc/passwd", "a/b", "/abs"}) {
    auto r = s.ctl("a", {"fetch", bad});
    BOOST_TEST(r.code == 1, bad);
    BOOST_TEST(r.out.find("refused") != std::string::npos, r.out);
    r = s.ctl("a", {"info", bad});
    BOOST_TEST(r.code == 1, bad);
    BOOST_TEST(r.out.find("bad_name") != std::string::npos, r.out);
  }
  auto r = s.ctl("a", {"info", "nosuchfile"});
  BOOST_TEST(r.code == 1);
  BOOST_TEST(r.out.find("unknown_file: nosuchfile") != std::string::npos, r.out);
  r = s.ctl("a", {"frobnicate"});
  BOOST_TEST(r.code == 2);
  // One-shot fetch of an unknown file fails with exit code 1.
  auto f = test::run({"fetch", "--tracker",
                      "127.0.0.1:" + std::to_string(s.tracker_ports.port),
                      "nosuchfile", "--to", s.dir / "oneshot"},
                     30s);
  BOOST_TEST(f.code == 1, f.out);
  BOOST_TEST(f.out.find("does not know nosuchfile") != std::string::npos, f.out);
  // A tracker that is not there: the one-shot fetch names it and exits 1.
  f = test::run({"fetch", "--tracker",
                 "127.0.0.1:" + std::to_string(test::free_port()), "ok.bin",
                 "--to", s.dir / "nowhere"},
                60s);
  BOOST_TEST(f.code == 1, f.out);
  BOOST_TEST(f.out.find("not reachable") != std::string::npos, f.out);
  // Still serving.
  f = test::run({"fetch", "--tracker",
                 "127.0.0.1:" + std::to_string(s.tracker_ports.port), "ok.bin",
                 "--to", s.dir / "oneshot"},
                30s);
  BOOST_TEST(f.code == 0, f.out);
  BOOST_TEST(file_of(s.dir / "oneshot/ok.bin")
             == file_of(s.dir / "a-share/ok.bin"));
}

BOOST_AUTO_TEST_CASE(one_shot_fetch_names_missing_pieces_and_exits_1) {
  swarm s;
  s.start_tracker();
  test::write_random_file(s.share_dir("a") + "/gone.bin", 2 * 1024 * 1024, 4);
  s.start_peer("a");
  s.start_peer("b");
  BOOST_REQUIRE(s.ctl("b", {"fetch", "gone.bin"}).code == 0);
  BOOST_REQUIRE(test::wait_until(
    [&] { return s.download_state("b", "gone.bin") == "complete"; }, 30s));
  s.peers["a"]->kill(SIGKILL);
  s.peers["b"]->kill(SIGKILL);
  // Nobody online holds it any more.
  BOOST_REQUIRE(test::wait_until(
    [&] {
      auto r = test::run({"fetch", "--tracker",
                          "127.0.0.1:" + std::to_string(s.tracker_ports.port),
                          "gone.bin", "--to", s.dir / "late"},
                         30s);
      return r.code == 1
             && r.out.find("have no online source") != std::string::npos;
    },
    15s));
}

BOOST_AUTO_TEST_CASE(hung_peer_is_marked_offline_and_ctl_to_a_hung_node_fails) {
  swarm s;
  s.start_tracker();
  test::write_random_file(s.share_dir("a") + "/x.bin", 512 * 1024, 2);
  s.start_peer("a");
  s.start_peer("b");
  BOOST_REQUIRE(test::wait_until([&] { return s.sources("b", "x.bin", 1); },
                                 10s));
  // SIGSTOP: the socket stays open, only the heartbeats stop (2.5 s).
  ::kill(s.peers["a"]->pid(), SIGSTOP);
  auto stopped = std::chrono::steady_clock::now();
  BOOST_TEST(test::wait_until(
    [&] {
      auto r = s.ctl("b", {"--json", "info", "x.bin"});
      return r.code == 0 && json_strings(r.out, "peer_id").empty();
    },
    6s));
  BOOST_TEST_MESSAGE("offline after "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - stopped)
                          .count()
                     << " ms");
  auto r = s.ctl("a", {"status"});
  BOOST_TEST(r.code == 1, r.out);
  BOOST_TEST(r.out.find(s.ports["a"].ctl()) != std::string::npos, r.out);
  ::kill(s.peers["a"]->pid(), SIGCONT);
  // It comes back: its next heartbeat is answered with unknown_peer and it
  // announces again.
  BOOST_TEST(test::wait_until([&] { return s.sources("b", "x.bin", 1); }, 10s));
}

BOOST_AUTO_TEST_CASE(ctl_kill_of_peer_agent_mid_download_resumes) {
  swarm s;
  s.start_tracker();
  constexpr size_t size = 12 * 1024 * 1024;
  test::write_random_file(s.share_dir("src") + "/v.bin", size, 21);
  s.start_peer("src", {"--peer.upload-limit=4000000"});
  s.start_peer("d");
  BOOST_REQUIRE(test::wait_until([&] { return s.sources("d", "v.bin", 1); },
                                 10s));
  BOOST_REQUIRE(s.ctl("d", {"fetch", "v.bin"}).code == 0);
  double pct = 0;
  BOOST_REQUIRE(test::wait_until(
    [&] {
      s.download_state("d", "v.bin", &pct);
      return pct >= 25;
    },
    30s));
  // The agent dies; its fetcher ends with it; the supervisor starts a new
  // agent, which resumes the download from the state database.
  auto r = s.ctl("d", {"kill", "peer"});
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.out);
  BOOST_REQUIRE(test::wait_until(
    [&] { return s.download_state("d", "v.bin") == "complete"; }, 60s));
  auto actors = s.ctl("d", {"actors"}).out;
  BOOST_TEST(actors.find("peer        running            1") != std::string::npos,
             actors);
  BOOST_TEST(file_of(s.dir / "d-downloads/v.bin")
             == file_of(s.dir / "src-share/v.bin"));
  // At most the window (8) in flight at the kill, one being written, and
  // those verified in the last flush interval of the agent's piece record
  // (100 ms: 400 KB at the source's 4 MB/s, at most 2 pieces).
  BOOST_TEST(s.bytes_served("src") <= static_cast<int64_t>(size + 11 * piece));
}
