// `actorrent cluster`: real node processes on loopback, started, killed,
// stopped, restarted and brought down through the launcher; every claim is
// checked against /proc and the nodes' control ports, not only its output.
#define BOOST_TEST_MODULE nodes_cluster
#include <boost/test/unit_test.hpp>

#include "tests/nodes/cluster_fixture.hpp"

using namespace actorrent;
using namespace actorrent::test;
using namespace std::chrono_literals;

namespace {

// A child of this test running `sh -c SCRIPT ARG0` (ARG0 shows in its
// command line).
pid_t spawn_sh(const char* script, const std::string& arg0) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execlp("sh", "sh", "-c", script, arg0.c_str(), nullptr);
    ::_exit(127);
  }
  return pid;
}

} // namespace

BOOST_AUTO_TEST_CASE(mirror_ids_are_split_evenly_and_zero_padded) {
  auto ids = mirror_ids(50, 5);
  BOOST_REQUIRE_EQUAL(ids.size(), 5u);
  for (auto& xs : ids)
    BOOST_TEST(xs.size() == 10u);
  BOOST_TEST(ids[0].front() == "m00");
  BOOST_TEST(ids[4].back() == "m49");
  auto uneven = mirror_ids(10, 3);
  BOOST_TEST(uneven[0].size() == 4u);
  BOOST_TEST(uneven[1].front() == "m04");
  BOOST_TEST(uneven[2].back() == "m09");
  BOOST_TEST(mirror_ids(100, 1)[0].back() == "m99");
  BOOST_TEST(mirror_ids(101, 2)[1].back() == "m100");
  BOOST_TEST(mirror_ids(101, 2)[0].front() == "m000");
  BOOST_TEST(mirror_ids(0, 5).empty());
}

BOOST_FIXTURE_TEST_CASE(up_status_kill_start_down_with_peers, cluster_fixture) {
  auto up = cluster({"up", "--mirrors", "0", "--peers", "2", "--log-level",
                     "warn"});
  BOOST_REQUIRE_MESSAGE(up.code == 0, up.out);
  auto f = file();
  BOOST_REQUIRE_EQUAL(f.nodes_size(), 3);
  for (auto& n : f.nodes()) {
    BOOST_TEST(up.out.find(n.name() + " ") != std::string::npos, up.out);
    BOOST_TEST(alive(n.pid(), n.config()), n.name());
    BOOST_TEST(control_answers(n), n.name());
  }
  // The peers' configs name the tracker's port; no placement without mirrors.
  auto tracker_port = std::to_string(f.nodes(0).port());
  BOOST_TEST(test::read_file(dir + "/peer-0.ini").find("127.0.0.1:" + tracker_port)
             != std::string::npos);
  BOOST_TEST(test::read_file(dir + "/tracker.ini").find("[placement]")
             == std::string::npos);

  auto status = cluster({"status"});
  BOOST_TEST(status.code == 0, status.out);
  BOOST_TEST(line_of(status.out, "peer-1").find("running  yes")
             != std::string::npos, status.out);

  // SIGKILL of a peer node: gone from /proc, status says dead and fails.
  auto victim = node("peer-1");
  auto kill = cluster({"kill", "peer-1"});
  BOOST_TEST(kill.code == 0, kill.out);
  BOOST_TEST(!alive(victim.pid(), victim.config()));
  status = cluster({"status"});
  BOOST_TEST(status.code == 1, status.out);
  BOOST_TEST(line_of(status.out, "peer-1").find("dead") != std::string::npos,
             status.out);
  BOOST_TEST(line_of(status.out, "peer-0").find("running  yes")
             != std::string::npos, status.out);

  // Started again from its config: a new process on the same control port.
  auto start = cluster({"start", "peer-1"});
  BOOST_REQUIRE_MESSAGE(start.code == 0, start.out);
  auto again = node("peer-1");
  BOOST_TEST(again.pid() != victim.pid());
  BOOST_TEST(again.control_port() == victim.control_port());
  BOOST_TEST(alive(again.pid(), again.config()));
  BOOST_TEST(control_answers(again));
  BOOST_TEST(cluster({"start", "peer-1"}).code == 1);  // already running

  // SIGSTOP and SIGCONT: status sees the hung node and its return.
  auto held = node("peer-0");
  BOOST_TEST(cluster({"kill", "peer-0", "--stop"}).code == 0);
  BOOST_TEST(state_letter(held.pid()) == 'T');
  status = cluster({"status"});
  BOOST_TEST(status.code == 1, status.out);
  BOOST_TEST(line_of(status.out, "peer-0").find("stopped  no")
             != std::string::npos, status.out);
  BOOST_TEST(cluster({"kill", "peer-0", "--cont"}).code == 0);
  status = cluster({"status"});
  BOOST_TEST(status.code == 0, status.out);

  // down: no process of the cluster is left.
  auto down = cluster({"down"});
  BOOST_TEST(down.code == 0, down.out);
  f = file();
  for (auto& n : f.nodes())
    BOOST_TEST(!alive(n.pid(), n.config()), n.name());
  status = cluster({"status"});
  BOOST_TEST(status.code == 1, status.out);
}

BOOST_FIXTURE_TEST_CASE(down_signals_only_its_nodes_and_kills_what_ignores_term,
                        cluster_fixture) {
  auto up = cluster({"up", "--mirrors", "0", "--peers", "2"});
  BOOST_REQUIRE_MESSAGE(up.code == 0, up.out);
  BOOST_TEST(cluster({"up", "--mirrors", "0"}).code == 1);  // still running
  BOOST_TEST(cluster({"kill", "peer-0"}).code == 0);
  BOOST_TEST(cluster({"kill", "peer-1"}).code == 0);
  auto f = file();
  // peer-0's pid now belongs to another program: left alone. peer-1's is a
  // process naming peer-1's config that ignores SIGTERM: killed after 5 s.
  auto other = spawn_sh("exec sleep 30", "not-a-node");
  auto stubborn = spawn_sh("trap '' TERM; while :; do sleep 0.1; done",
                           f.nodes(2).config());
  BOOST_REQUIRE(test::wait_until(
    [&] { return alive(stubborn, f.nodes(2).config()); }, 5s));
  f.mutable_nodes(1)->set_pid(other);
  f.mutable_nodes(2)->set_pid(stubborn);
  BOOST_REQUIRE(save_cluster(f).empty());
  auto down = cluster({"down"});
  BOOST_TEST(down.code == 0, down.out);
  BOOST_TEST(line_of(down.out, "peer-0").find("not running") != std::string::npos,
             down.out);
  BOOST_TEST(line_of(down.out, "peer-1").find("SIGKILL") != std::string::npos,
             down.out);
  BOOST_TEST(line_of(down.out, "tracker").find("SIGTERM") != std::string::npos,
             down.out);
  BOOST_TEST(::waitpid(other, nullptr, WNOHANG) == 0);  // untouched
  int status = 0;
  BOOST_TEST(::waitpid(stubborn, &status, WNOHANG) == stubborn);
  BOOST_TEST((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
  BOOST_TEST(!alive(f.nodes(0).pid(), f.nodes(0).config()));
  ::kill(other, SIGKILL);
  ::waitpid(other, nullptr, 0);
}

BOOST_FIXTURE_TEST_CASE(a_node_that_cannot_start_is_named_and_all_stopped,
                        cluster_fixture) {
  // The tracker's database path is a directory: the tracker exits 2.
  std::system(("mkdir -p '" + dir + "/tracker.db'").c_str());
  auto up = cluster({"up", "--mirrors", "0", "--peers", "1"});
  BOOST_TEST(up.code == 1, up.out);
  BOOST_TEST(up.out.find("tracker exited with code 2") != std::string::npos,
             up.out);
  BOOST_TEST(up.out.find("tracker.db") != std::string::npos, up.out);
  auto f = file();
  for (auto& n : f.nodes())
    BOOST_TEST(!alive(n.pid(), n.config()), n.name());
}

BOOST_FIXTURE_TEST_CASE(usage_errors_exit_2_naming_what_is_wrong,
                        cluster_fixture) {
  auto r = test::run({"cluster", "up", "--mirrors", "0"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.out.find("--dir") != std::string::npos, r.out);
  r = cluster({"up", "--mirrors", "many"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.out.find("--mirrors") != std::string::npos, r.out);
  r = cluster({"up", "--mirrors", "4", "--mirror-processes", "5"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.out.find("--mirror-processes") != std::string::npos, r.out);
  r = cluster({"up", "--peers", "1", "--frobnicate"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.out.find("--frobnicate") != std::string::npos, r.out);
  BOOST_TEST(test::run({"cluster", "frobnicate"}).code == 2);
  std::system(("mkdir -p '" + dir + "'").c_str());
  r = cluster({"status"});  // no cluster in DIR yet
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.out.find("cluster.json") != std::string::npos, r.out);
  // An unknown kill target, named.
  auto up = cluster({"up", "--mirrors", "0"});
  BOOST_REQUIRE_MESSAGE(up.code == 0, up.out);
  r = cluster({"kill", "m99"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.out.find("'m99'") != std::string::npos, r.out);
  r = cluster({"kill", "tracker", "--stop", "--cont"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(alive(node("tracker").pid(), node("tracker").config()));
}

namespace {

// The state and restart count of actor `name` in `ctl --json actors`.
std::pair<std::string, int64_t> actor_state(const std::string& json,
                                            const std::string& name) {
  std::smatch m;
  std::regex re{"\"name\":\"" + name
                + "\",\"state\":\"([a-z]+)\",\"restarts\":([0-9]+)"};
  if (!std::regex_search(json, m, re))
    return {"", -1};
  return {m[1], std::stoll(m[2])};
}

} // namespace

BOOST_FIXTURE_TEST_CASE(mirror_processes_and_mirror_actors_killed_by_id,
                        cluster_fixture) {
  auto up = cluster({"up", "--mirrors", "10", "--mirror-processes", "2",
                     "--replicas", "3", "--log-level", "warn"});
  BOOST_REQUIRE_MESSAGE(up.code == 0, up.out);
  BOOST_REQUIRE_EQUAL(file().nodes_size(), 3);
  BOOST_TEST(test::read_file(dir + "/tracker.ini").find("replicas = 3")
             != std::string::npos);
  // m00..m04 on mirror-0, m05..m09 on mirror-1: each node's own list says so.
  auto m0 = node("mirror-0");
  auto m1 = node("mirror-1");
  auto actors0 = ctl(m0, {"--json", "actors"}).out;
  auto actors1 = ctl(m1, {"--json", "actors"}).out;
  for (int i = 0; i < 5; ++i) {
    auto a = "m0" + std::to_string(i);
    auto b = "m0" + std::to_string(i + 5);
    BOOST_TEST(actor_state(actors0, a).first == "running", actors0);
    BOOST_TEST(actor_state(actors1, b).first == "running", actors1);
    BOOST_TEST(actor_state(actors0, b).first.empty());
  }
  auto status = cluster({"status"});
  BOOST_TEST(status.code == 0, status.out);
  BOOST_TEST(line_of(status.out, "mirror-0").find("running  yes")
             != std::string::npos, status.out);

  // kill m03: sent to mirror-0's control port; its supervisor restarts it.
  auto kill = cluster({"kill", "m03"});
  BOOST_TEST(kill.code == 0, kill.out);
  BOOST_TEST(test::wait_until(
    [&] {
      auto s = actor_state(ctl(m0, {"--json", "actors"}).out, "m03");
      return s.first == "running" && s.second == 1;
    },
    10s));
  // kill --hard m07: ended for good on mirror-1; status names it.
  kill = cluster({"kill", "--hard", "m07"});
  BOOST_TEST(kill.code == 0, kill.out);
  BOOST_TEST(test::wait_until(
    [&] {
      return actor_state(ctl(m1, {"--json", "actors"}).out, "m07").first
             == "stopped";
    },
    10s));
  status = cluster({"status"});
  BOOST_TEST(line_of(status.out, "mirror-1").find("m07 stopped")
             != std::string::npos, status.out);

  // The whole process: SIGKILLed, then started again with all its mirrors.
  BOOST_TEST(cluster({"kill", "mirror-1"}).code == 0);
  BOOST_TEST(!alive(m1.pid(), m1.config()));
  BOOST_TEST(cluster({"status"}).code == 1);
  auto start = cluster({"start", "mirror-1"});
  BOOST_REQUIRE_MESSAGE(start.code == 0, start.out);
  BOOST_TEST(actor_state(ctl(node("mirror-1"), {"--json", "actors"}).out, "m07")
               .first
             == "running");
  BOOST_TEST(cluster({"down"}).code == 0);
  auto f = file();
  for (auto& n : f.nodes())
    BOOST_TEST(!alive(n.pid(), n.config()), n.name());
}
