#define BOOST_TEST_MODULE piece_fetcher
#include <boost/test/unit_test.hpp>

#include <caf/send.hpp>

#include "actors/core/manifest.hpp"
#include "nodes/commands.hpp"
#include "nodes/wiring.hpp"
#include "tests/fixtures.hpp"

using namespace actorrent;
using namespace std::chrono_literals;

namespace {

// A tracker and peers as actors of one process, wired as real nodes are.
struct swarm_fixture : test::threaded_fixture {
  test::temp_dir dir;
  environment env = make_node_environment(sys);
  tracker_node tracker;
  std::vector<std::unique_ptr<peer_node>> peers;

  swarm_fixture() {
    tracker_options opts;
    opts.db = dir / "tracker.db";
    opts.heartbeat_ms = 200;
    opts.offline_ms = 1000;
    BOOST_REQUIRE_EQUAL(start_tracker(sys, env, opts, "127.0.0.1", 0, 0, tracker),
                        "");
  }

  ~swarm_fixture() {
    for (auto& p : peers)
      stop(sys, *p);
    stop(sys, tracker);
  }

  peer_node& add_peer(const std::string& name, uint64_t upload_limit,
                      uint32_t piece_size = 64 * 1024) {
    peer_options opts;
    opts.trackers = {{"127.0.0.1", tracker.port}};
    opts.share_dir = dir / (name + "-share");
    opts.download_dir = dir / (name + "-downloads");
    opts.state_db = dir / (name + ".db");
    opts.piece_size = piece_size;
    opts.window = 4;
    opts.request_timeout_ms = 3000;
    make_dirs(opts.share_dir);
    peers.push_back(std::make_unique<peer_node>());
    BOOST_REQUIRE_EQUAL(start_peer(sys, env, opts, 0, 0, upload_limit,
                                   *peers.back()),
                        "");
    return *peers.back();
  }

  command_output command(peer_node& p, std::vector<std::string> args) {
    return run_command(self, p.ctl, parse_command(args), 10s);
  }

  pb::DownloadStatus download(peer_node& p, const std::string& name) {
    pb::DownloadStatus out;
    auto agent = caf::actor_cast<peer_actor>(p.peer_slot->get());
    if (!agent)
      return out;
    self->request(agent, 5s, status_atom::value)
      .receive(
        [&](const pb::DownloadList& xs) {
          for (auto& s : xs.downloads())
            if (s.name() == name)
              out = s;
        },
        [](const caf::error&) {});
    return out;
  }

  bool sources_online(peer_node& p, const std::string& name, int n) {
    auto r = command(p, {"info", name});
    return r.code == 0 && test::json_int(r.json, "pieces_held") >= 0
           && std::count(r.json.begin(), r.json.end(), '{') - 1 >= n;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(fetcher, swarm_fixture)

// Two paced sources; one dies mid-download; the download completes from the
// other and the result is byte-identical.
BOOST_AUTO_TEST_CASE(fails_over_when_a_source_dies) {
  constexpr size_t size = 6 * 1024 * 1024;
  make_dirs(dir / "a-share");
  make_dirs(dir / "b-share");
  test::write_random_file(dir / "a-share/data.bin", size, 42);
  test::write_random_file(dir / "b-share/data.bin", size, 42);
  auto& a = add_peer("a", 2 * 1024 * 1024);
  auto& b = add_peer("b", 2 * 1024 * 1024);
  auto& d = add_peer("d", 0);
  BOOST_REQUIRE(test::wait_until([&] { return sources_online(d, "data.bin", 2); },
                                 10s));
  auto r = command(d, {"fetch", "data.bin"});
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.text);
  BOOST_REQUIRE(test::wait_until(
    [&] { return download(d, "data.bin").bytes_done() >= size / 5; }, 20s));
  auto before = download(d, "data.bin");
  BOOST_TEST(before.state() == pb::DOWNLOADING);
  BOOST_TEST(before.sources() == 2u);
  // Source a dies: its front, supervisor and piece server end abruptly.
  caf::anon_send_exit(a.front, caf::exit_reason::kill);
  caf::anon_send_exit(a.sup, caf::exit_reason::kill);
  BOOST_REQUIRE(test::wait_until(
    [&] { return download(d, "data.bin").state() == pb::COMPLETE; }, 30s));
  BOOST_TEST(test::read_file(dir / "d-downloads/data.bin")
             == test::read_file(dir / "b-share/data.bin"));
  BOOST_TEST(b.lib->bytes_served > size / 2);
  BOOST_TEST(a.lib->bytes_served < size);
}

// A source whose file changed on disk after it was hashed serves pieces that
// fail their SHA-256: it is banned after 3, and the download completes.
BOOST_AUTO_TEST_CASE(bans_a_source_of_bad_pieces) {
  constexpr size_t size = 4 * 1024 * 1024;
  make_dirs(dir / "good-share");
  make_dirs(dir / "bad-share");
  test::write_random_file(dir / "good-share/x.bin", size, 7);
  test::write_random_file(dir / "bad-share/x.bin", size, 7);
  add_peer("good", 1024 * 1024);
  add_peer("bad", 0);
  auto& d = add_peer("d", 0);
  BOOST_REQUIRE(test::wait_until([&] { return sources_online(d, "x.bin", 2); },
                                 10s));
  test::write_random_file(dir / "bad-share/x.bin", size, 8); // rot
  BOOST_REQUIRE(command(d, {"fetch", "x.bin"}).code == 0);
  BOOST_REQUIRE(test::wait_until(
    [&] { return download(d, "x.bin").state() == pb::COMPLETE; }, 30s));
  auto s = download(d, "x.bin");
  BOOST_REQUIRE(s.banned_size() == 1);
  BOOST_TEST(s.banned(0).find("failed their SHA-256") != std::string::npos);
  BOOST_TEST(test::read_file(dir / "d-downloads/x.bin")
             == test::read_file(dir / "good-share/x.bin"));
}

BOOST_AUTO_TEST_SUITE_END()
