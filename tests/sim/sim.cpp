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
