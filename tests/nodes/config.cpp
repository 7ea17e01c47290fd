#define BOOST_TEST_MODULE config
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <sstream>

#include "nodes/config.hpp"
#include "tests/fixtures.hpp"

using namespace actorrent;

namespace {

std::vector<std::string> parse(const std::string& text, std::string& error) {
  node_config cfg;
  return ini_to_args(cfg, categories_of("peer"), "peer.ini", text, error);
}

} // namespace

BOOST_AUTO_TEST_CASE(valid_file_becomes_overridable_options) {
  std::string err;
  auto args = parse("; comment\n[peer]\nport = 7001\ntracker = \"h:1\"\n"
                    "[log]\nlevel=debug\n",
                    err);
  BOOST_TEST(err.empty(), err);
  BOOST_TEST((args == std::vector<std::string>{"--peer.port=7001",
                                               "--peer.tracker=h:1",
                                               "--log.level=debug"}));
}

BOOST_AUTO_TEST_CASE(unknown_key_names_file_line_and_key) {
  std::string err;
  parse("[peer]\nport = 7001\nshare_dir = x\n", err);
  BOOST_TEST(err == "peer.ini:3: unknown key 'peer.share_dir'");
}

BOOST_AUTO_TEST_CASE(malformed_value_names_the_key) {
  std::string err;
  parse("[peer]\nport = seventy\n", err);
  BOOST_TEST(err.find("peer.ini:2: malformed value 'seventy' for key "
                      "'peer.port'")
             == 0u, err);
}

BOOST_AUTO_TEST_CASE(sections_of_other_node_kinds_are_refused) {
  std::string err;
  parse("[tracker]\nport = 1\n", err);
  BOOST_TEST(err == "peer.ini:1: unknown section [tracker]");
  parse("port = 1\n", err);
  BOOST_TEST(err.find("outside of a [section]") != std::string::npos);
  parse("[peer]\njust words\n", err);
  BOOST_TEST(err.find("peer.ini:2: expected key=value") == 0u);
}

// Every node kind takes a [guard] section; guard_of reads it.
BOOST_AUTO_TEST_CASE(guard_section_is_taken_by_every_node_kind) {
  for (auto kind : {"tracker", "peer", "mirror"}) {
    node_config cfg;
    std::string error;
    auto args = ini_to_args(cfg, categories_of(kind), "x.ini",
                            "[guard]\nenabled = false\nmax-per-address = 7\n",
                            error);
    BOOST_TEST(error.empty(), kind << ": " << error);
    BOOST_TEST(args.size() == 2u);
  }
  node_config cfg;
  auto g = guard_of(cfg);
  BOOST_TEST(g.enabled);
  BOOST_TEST(g.max_per_address == 256u);
  BOOST_TEST(g.max_message == default_max_message());
  cfg.guard_enabled = "false";
  BOOST_TEST(!guard_of(cfg).enabled);
}

BOOST_AUTO_TEST_CASE(endpoints) {
  std::string host;
  uint16_t port = 0;
  BOOST_TEST(split_endpoint("127.0.0.1:6881", host, port));
  BOOST_TEST(host == "127.0.0.1");
  BOOST_TEST(port == 6881);
  BOOST_TEST(!split_endpoint("127.0.0.1", host, port));
  BOOST_TEST(!split_endpoint("h:99999", host, port));
  BOOST_TEST(!split_endpoint("h:x1", host, port));
}

// peer.tracker and mirror.tracker: one endpoint or a list, in order.
BOOST_AUTO_TEST_CASE(tracker_lists) {
  std::string why;
  auto one = split_endpoints("127.0.0.1:6881", why);
  BOOST_REQUIRE(one.size() == 1u);
  BOOST_TEST(one[0].str() == "127.0.0.1:6881");
  auto two = split_endpoints("[\"127.0.0.1:6881\", \"127.0.0.1:6882\"]", why);
  BOOST_REQUIRE(two.size() == 2u);
  BOOST_TEST(two[1].str() == "127.0.0.1:6882");
  BOOST_TEST(split_endpoints("[a:1, b:2]", why).size() == 2u);
  BOOST_TEST(split_endpoints("[a:1, b]", why).empty());
  BOOST_TEST(why.find("'b'") != std::string::npos, why);
  BOOST_TEST(split_endpoints("[]", why).empty());
}

// A list in the config file and on the command line is taken; a bad entry
// is a config error naming it.
BOOST_AUTO_TEST_CASE(peer_tracker_list_in_the_file) {
  test::temp_dir dir;
  std::ofstream{dir / "p.ini"} << "[peer]\ntracker=[\"127.0.0.1:1\", \"x\"]\n";
  auto r = test::run({"peer", "--config", dir / "p.ini"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.out.find("peer.tracker") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("'x'") != std::string::npos, r.out);
  r = test::run({"fetch", "--tracker", "127.0.0.1:1", "--tracker", "y",
                 "name", "--to", dir / "out"});
  BOOST_TEST(r.code == 2, r.out);
  BOOST_TEST(r.out.find("'y'") != std::string::npos, r.out);
}

// The real executable: exit code 2 and a message naming file, line, key.
BOOST_AUTO_TEST_CASE(node_refuses_bad_config_with_exit_code_2) {
  test::temp_dir dir;
  std::ofstream{dir / "bad.ini"} << "[tracker]\nport = 1\nprot = 2\n";
  auto r = test::run({"tracker", "--config", dir / "bad.ini"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.out.find("bad.ini:3: unknown key 'tracker.prot'")
             != std::string::npos, r.out);
  r = test::run({"tracker", "--config", dir / "missing.ini"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.out.find("cannot read config file") != std::string::npos);
  r = test::run({"peer", "--peer.port=notaport"});
  BOOST_TEST(r.code == 2, r.out);
  r = test::run({"frobnicate"});
  BOOST_TEST(r.code == 2);
  // Words for switches, bounded numbers: exit 2 naming the key.
  struct bad_value {
    std::vector<std::string> args;
    std::string says;
  };
  for (auto& [args, says] : std::vector<bad_value>{
         {{"peer", "--guard.enabled=maybe"},
          "guard.enabled: expected true or false"},
         {{"peer", "--peer.streams=maybe"},
          "peer.streams: expected true or false"},
         {{"peer", "--peer.direct-writes=yes"},
          "peer.direct-writes: expected true or false"},
         {{"peer", "--peer.write-behind-mib=20000"},
          "peer.write-behind-mib: at most 16384"},
         {{"mirror", "--guard.max-connections=0"},
          "guard.max-connections: must be positive"}}) {
    r = test::run(args);
    BOOST_TEST(r.code == 2, r.out);
    BOOST_TEST(r.out.find(says) != std::string::npos, r.out);
  }
  r = test::run({"tracker", "--help"});
  BOOST_TEST(r.code == 0);
  BOOST_TEST(r.out.find("tracker.db") != std::string::npos, r.out);
}

BOOST_AUTO_TEST_CASE(port_in_use_is_a_config_error) {
  test::temp_dir dir;
  auto port = std::to_string(test::free_port());
  auto cport = std::to_string(test::free_port());
  test::process first{{"tracker", "--tracker.port=" + port,
                       "--tracker.control-port=" + cport,
                       "--tracker.db=" + (dir / "a.db")},
                      dir / "first.log"};
  BOOST_REQUIRE(test::wait_until(
    [&] {
      return test::read_file(dir / "first.log").find("listening")
             != std::string::npos;
    },
    std::chrono::seconds(10)));
  auto r = test::run({"tracker", "--tracker.port=" + port,
                      "--tracker.control-port=" + std::to_string(test::free_port()),
                      "--tracker.db=" + (dir / "b.db")},
                     std::chrono::seconds(20));
  BOOST_TEST(r.code == 2, r.out);
  BOOST_TEST(r.out.find("127.0.0.1:" + port) != std::string::npos, r.out);
}

// The example configs in config/ are valid for their node kinds.
BOOST_AUTO_TEST_CASE(shipped_configs_parse) {
  for (std::string kind : {"tracker", "peer", "mirror"}) {
    auto path = std::string{ACTORRENT_SOURCE_DIR} + "/config/" + kind + ".ini";
    std::ifstream f{path};
    BOOST_REQUIRE_MESSAGE(f, path);
    std::stringstream ss;
    ss << f.rdbuf();
    node_config cfg;
    std::string err;
    auto args = ini_to_args(cfg, categories_of(kind), path, ss.str(), err);
    BOOST_TEST(err.empty(), kind << ": " << err);
    BOOST_TEST(!args.empty());
  }
}

BOOST_AUTO_TEST_CASE(mirror_node_refuses_bad_ids_and_placement_settings) {
  auto r = test::run({"mirror", "--mirror.ids=[\"m00\", \"m00\"]"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.out.find("mirror.ids: a mirror id appears twice")
               != std::string::npos, r.out);
  r = test::run({"mirror", "--mirror.ids=[\"../etc\"]"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.out.find("bad mirror id") != std::string::npos, r.out);
  r = test::run({"mirror", "--mirror.tracker=nowhere"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.out.find("mirror.tracker") != std::string::npos, r.out);
  r = test::run({"tracker", "--placement.replicas=0"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.out.find("placement.replicas") != std::string::npos, r.out);
  r = test::run({"mirror", "--help"});
  BOOST_TEST(r.code == 0);
  BOOST_TEST(r.out.find("mirror.data-dir") != std::string::npos, r.out);
}
