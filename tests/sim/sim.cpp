// `actorrent sim` as a user runs it: the real executable on scenario files,
// checked by its exit code and what it prints (the invariants, the digest,
// the report files, the console's answers).
#define BOOST_TEST_MODULE sim
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <regex>

#include "tests/fixtures.hpp"

using namespace actorrent;
using namespace actorrent::test;

namespace {

std::string scenario(const std::string& name) {
  return std::string{ACTORRENT_SOURCE_DIR} + "/simulations/scenarios/" + name;
}

std::string digest_of(const std::string& out) {
  std::smatch m;
  std::regex re{"trace digest: ([0-9a-f]{64})"};
  return std::regex_search(out, m, re) ? m[1].str() : std::string{};
}

// Every invariant line says PASS and none FAIL.
void all_pass(const run_result& r) {
  BOOST_TEST(r.code == 0, "exit " << r.code << "\n" << r.out);
  BOOST_TEST(r.out.find("  FAIL ") == std::string::npos, r.out);
  BOOST_TEST(r.out.find("  PASS every client completes") != std::string::npos,
             r.out);
  BOOST_TEST(r.out.find("  PASS no corrupt piece ever written") != std::string::npos,
             r.out);
}

run_result sim(std::vector<std::string> args) {
  args.insert(args.begin(), "sim");
  return run(args, std::chrono::seconds(120));
}

} // namespace

BOOST_AUTO_TEST_CASE(four_clients_exchange_unique_files) {
  temp_dir dir;
  auto r = sim({"--scenario", scenario("four-unique.ini"), "--report",
                dir / "report"});
  all_pass(r);
  BOOST_TEST(r.out.find("4 of 4 downloading clients complete") != std::string::npos,
             r.out);
  for (auto f : {"summary.txt", "report.json", "report.html"})
    BOOST_TEST(read_file(dir / ("report/" + std::string{f})).size() > 100u, f);
  auto html = read_file(dir / "report/report.html");
  BOOST_TEST(html.find("<svg") != std::string::npos);
  BOOST_TEST(html.find("client-3") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(same_seed_same_digest_other_seed_other_digest) {
  auto a = sim({"--scenario", scenario("four-unique.ini"), "--seed", "7"});
  auto b = sim({"--scenario", scenario("four-unique.ini"), "--seed", "7"});
  auto c = sim({"--scenario", scenario("four-unique.ini"), "--seed", "8"});
  all_pass(a);
  all_pass(c);
  BOOST_TEST(!digest_of(a.out).empty(), a.out);
  BOOST_TEST(digest_of(a.out) == digest_of(b.out));
  BOOST_TEST(digest_of(a.out) != digest_of(c.out));
}

BOOST_AUTO_TEST_CASE(real_time_mode_passes_the_same_invariants) {
  auto r = sim({"--scenario", scenario("four-unique.ini"), "--set",
                "sim.mode=realtime"});
  all_pass(r);
  BOOST_TEST(digest_of(r.out).empty(), "no digest in real time");
}

BOOST_AUTO_TEST_CASE(profile_lists_the_costliest_kinds_of_event) {
  auto plain = sim({"--scenario", scenario("four-unique.ini"), "--seed", "7"});
  auto r = sim({"--scenario", scenario("four-unique.ini"), "--seed", "7",
                "--set", "sim.profile=true"});
  all_pass(r);
  // Timing the events does not change the run.
  BOOST_TEST(digest_of(r.out) == digest_of(plain.out));
  BOOST_TEST(plain.out.find("wall time by kind of event") == std::string::npos);
  BOOST_TEST(r.out.find("wall time by kind of event") != std::string::npos, r.out);
  // The clients' writers verified and wrote pieces: their events are listed.
  std::smatch m;
  std::regex line{"\\n  piece_writer write +([0-9]+) events +[0-9.]+ s"};
  BOOST_TEST(std::regex_search(r.out, m, line), r.out);
  if (!m.empty())
    BOOST_TEST(std::stoul(m[1].str()) > 0u);
  r = sim({"--scenario", scenario("four-unique.ini"), "--set", "sim.profile=yes"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.out.find("sim.profile: expected true or false, got 'yes'")
               != std::string::npos, r.out);
  r = sim({"--scenario", scenario("four-unique.ini"), "--set", "sim.profile=true",
           "--set", "sim.mode=realtime"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.out.find("sim.profile: only in deterministic mode") != std::string::npos,
             r.out);
}

BOOST_AUTO_TEST_CASE(unknown_keys_and_bad_values_are_refused) {
  temp_dir dir;
  std::ofstream{dir / "bad.ini"} << "[clients]\ncount=3\ncolour=blue\n";
  auto r = sim({"--scenario", dir / "bad.ini"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.out.find("bad.ini:3: unknown key 'clients.colour'") != std::string::npos,
             r.out);
  r = sim({"--scenario", scenario("four-unique.ini"), "--set", "files.colour=1"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.out.find("files.colour") != std::string::npos, r.out);
  r = sim({"--scenario", scenario("four-unique.ini"), "--set",
           "faults.schedule=[\"1s explode mirror-1\"]"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.out.find("unknown action 'explode'") != std::string::npos, r.out);
}

namespace {

// `actorrent sim ... --report DIR` of one fault scenario, shrunk for CI:
// 50 mirrors, 30 downloading clients.
run_result fault_run(const std::string& kind) {
  return sim({"--scenario", scenario("fault-" + kind + ".ini"), "--set",
              "clients.count=31", "--set", "files.size=4194304"});
}

std::string line_with(const std::string& out, const std::string& what) {
  auto i = out.find(what);
  if (i == std::string::npos)
    return {};
  auto b = out.rfind('\n', i);
  auto e = out.find('\n', i);
  return out.substr(b == std::string::npos ? 0 : b + 1,
                    e == std::string::npos ? std::string::npos : e - b - 1);
}

} // namespace

BOOST_AUTO_TEST_CASE(fault_kill_restarts_each_actor) {
  auto r = fault_run("kill");
  all_pass(r);
  for (auto t : {"kill mirror-3", "kill tracker", "kill client-5"})
    BOOST_TEST(line_with(r.out, t).find("running again (restart 1)")
                 != std::string::npos,
               t << "\n" << r.out);
}

BOOST_AUTO_TEST_CASE(fault_kill_hard_mirror_is_repaired) {
  auto r = fault_run("kill-hard");
  all_pass(r);
  BOOST_TEST(line_with(r.out, "kill-hard mirror-3").find("every part on R live")
               != std::string::npos, r.out);
  BOOST_TEST(r.out.find("PASS every part back on R live mirrors") != std::string::npos);
  BOOST_TEST(r.out.find("1 killed for good") != std::string::npos, r.out);
}

BOOST_AUTO_TEST_CASE(fault_restart) {
  auto r = fault_run("restart");
  all_pass(r);
  BOOST_TEST(line_with(r.out, "restart tracker").find("running again")
               != std::string::npos, r.out);
}

BOOST_AUTO_TEST_CASE(fault_crash_loop_makes_the_supervisor_give_up) {
  auto r = fault_run("crash-loop");
  all_pass(r);
  BOOST_TEST(line_with(r.out, "crash-loop mirror-4").find("supervisor gave up")
               != std::string::npos, r.out);
  BOOST_TEST(r.out.find("supervisor give-ups: 1") != std::string::npos, r.out);
}

BOOST_AUTO_TEST_CASE(fault_hang_is_detected_at_the_connection_timeout) {
  auto r = fault_run("hang");
  all_pass(r);
  BOOST_TEST(line_with(r.out, "hang mirror-2").find("detect 3000 ms")
               != std::string::npos, r.out);
}

BOOST_AUTO_TEST_CASE(fault_slow) {
  all_pass(fault_run("slow"));
}

BOOST_AUTO_TEST_CASE(fault_corrupt_sources_write_nothing_corrupt) {
  auto r = fault_run("corrupt");
  all_pass(r);
  // Pieces were asked from corrupt sources, none of them was written.
  std::regex asked{"corrupt client-[0-9]+: .*\\(([0-9.]+) (KiB|MiB) asked from it"};
  std::smatch m;
  BOOST_TEST(std::regex_search(r.out, m, asked), r.out);
}

BOOST_AUTO_TEST_CASE(fault_partition_and_heal) {
  auto r = fault_run("partition");
  all_pass(r);
  auto l = line_with(r.out, "partition mirror-1");
  BOOST_TEST(l.find("detect 3000 ms") != std::string::npos, r.out);
  BOOST_TEST(l.find("recover -") == std::string::npos, r.out);
}

BOOST_AUTO_TEST_CASE(scripted_console_kills_hangs_and_heals) {
  temp_dir dir;
  std::ofstream{dir / "script"} << "run-until 2s\n"
                                   "kill mirror-3\n"
                                   "hang client-2\n"
                                   "run-until 3s\n"
                                   "status\n"
                                   "actors mirror-3\n"
                                   "heal\n"
                                   "status\n"
                                   "bogus\n"
                                   "run\n";
  auto cmd = "timeout -s KILL 120 '" + std::string{ACTORRENT_BIN} + "' sim --scenario '"
             + scenario("fault-kill.ini")
             + "' --set clients.count=11 --set files.size=2097152"
               " --set 'faults.schedule=[]' --console < '"
             + (dir / "script") + "' 2>&1";
  run_result r;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
    r.out.append(buf, n);
  r.code = WEXITSTATUS(::pclose(p));
  all_pass(r);
  // The first status (hung) and the second (healed).
  auto first = r.out.find("[3000 ms] > time 3000 ms");
  BOOST_TEST(first != std::string::npos, r.out);
  // The second status (after heal): the next one.
  auto second = r.out.find("time 3000 ms", first + 30);
  BOOST_REQUIRE(second != std::string::npos);
  BOOST_TEST(r.out.substr(first, second - first).find("client-2 hung")
               != std::string::npos,
             r.out);
  BOOST_TEST(r.out.find("fault at 2000 ms: kill mirror-3") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("mirror-3 running restarts 1") != std::string::npos, r.out);
  BOOST_TEST(r.out.substr(second).find("client-2 hung") == std::string::npos, r.out);
  BOOST_TEST(r.out.substr(second).find("hang client-2 (healed at 3000 ms)")
               != std::string::npos,
             r.out);
  BOOST_TEST(r.out.find("error: unknown command 'bogus'") != std::string::npos);
}
