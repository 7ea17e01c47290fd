// The seams: file I/O (disk and memory) and the directory of published
// actors (middleman and in-process).
#define BOOST_TEST_MODULE seams
#include <boost/test/unit_test.hpp>

#include <caf/typed_event_based_actor.hpp>

#include "actors/core/environment.hpp"
#include "actors/types.hpp"
#include "tests/fixtures.hpp"

using namespace actorrent;
using namespace std::chrono_literals;

namespace {

void check_io(file_io& io, const std::string& dir) {
  BOOST_REQUIRE(io.make_dirs(dir + "/sub/deeper"));
  auto part = dir + "/.f.part";
  BOOST_CHECK_EQUAL(io.allocate(part, 10), "");
  BOOST_CHECK_EQUAL(io.write(part, 6, "wxyz", 4), "");
  BOOST_CHECK_EQUAL(io.write(part, 0, "abcdef", 6), "");
  char buf[10];
  BOOST_CHECK_EQUAL(io.read(part, 0, buf, 10), "");
  BOOST_CHECK_EQUAL(std::string(buf, 10), "abcdefwxyz");
  BOOST_CHECK_NE(io.read(part, 5, buf, 10), ""); // past the end
  BOOST_CHECK_EQUAL(io.rename(part, dir + "/f"), "");
  uint64_t size = 0;
  int64_t mtime = 0;
  BOOST_CHECK(!io.stat(part, size, mtime));
  BOOST_REQUIRE(io.stat(dir + "/f", size, mtime));
  BOOST_CHECK_EQUAL(size, 10u);
  BOOST_CHECK_EQUAL(io.read(dir + "/f", 3, buf, 4), "");
  BOOST_CHECK_EQUAL(std::string(buf, 4), "defw");
  std::vector<std::string> names;
  BOOST_REQUIRE(io.list(dir, names));
  BOOST_CHECK(names == std::vector<std::string>{"f"}); // hidden, dirs skipped
  auto err = io.read(dir + "/missing", 0, buf, 1);
  BOOST_CHECK_NE(err.find(dir + "/missing"), std::string::npos);
}

} // namespace

BOOST_AUTO_TEST_CASE(disk_io_reads_writes_renames) {
  test::temp_dir dir;
  check_io(*make_disk_io(), dir.path);
}

BOOST_AUTO_TEST_CASE(memory_io_reads_writes_renames) {
  memory_io io;
  check_io(io, "/mem");
  io.add_generated("/mem/gen", 1000, [](const std::string&, uint64_t off,
                                        char* buf, size_t len) {
    for (size_t i = 0; i < len; ++i)
      buf[i] = static_cast<char>((off + i) % 251);
  });
  char buf[3];
  BOOST_CHECK_EQUAL(io.read("/mem/gen", 500, buf, 3), "");
  BOOST_CHECK_EQUAL(buf[0], static_cast<char>(500 % 251));
  BOOST_CHECK_NE(io.write("/mem/gen", 0, "x", 1), ""); // read-only
}

BOOST_AUTO_TEST_CASE(seeds_derive_stably) {
  BOOST_CHECK_EQUAL(derive_seed(7, "peer-1"), derive_seed(7, "peer-1"));
  BOOST_CHECK_NE(derive_seed(7, "peer-1"), derive_seed(7, "peer-2"));
  BOOST_CHECK_NE(derive_seed(7, "peer-1"), derive_seed(8, "peer-1"));
}

namespace {

using echo_actor = caf::typed_actor<
  caf::replies_to<caf::get_atom, int>::with<int>>;

echo_actor::behavior_type echo(echo_actor::pointer) {
  return {[](caf::get_atom, int x) { return x + 1; }};
}

// Publishes an actor in `dir` and connects to it through its connector.
// The middleman keeps answering from its connection cache after a port is
// closed, so only the local directory is checked for refusal.
void check_directory(caf::actor_system& sys, caf::scoped_actor& self,
                     directory& dir, bool check_unpublish) {
  auto e = sys.spawn(echo);
  uint16_t port = 0;
  BOOST_REQUIRE_EQUAL(dir.publish(sys, e, "127.0.0.1", port), "");
  BOOST_REQUIRE_NE(port, 0);
  uint16_t same = port;
  BOOST_CHECK_NE(dir.publish(sys, e, "127.0.0.1", same), ""); // in use
  echo_actor found;
  self->request(dir.connector(), 5s, caf::connect_atom::value,
                std::string{"127.0.0.1"}, port)
    .receive(
      [&](const caf::node_id&, caf::strong_actor_ptr& ptr,
          const std::set<std::string>& ifs) {
        BOOST_REQUIRE(sys.assignable<echo_actor>(ifs));
        found = caf::actor_cast<echo_actor>(ptr);
      },
      [&](const caf::error& err) { BOOST_FAIL(sys.render(err)); });
  self->request(found, 5s, caf::get_atom::value, 41)
    .receive([](int x) { BOOST_CHECK_EQUAL(x, 42); },
             [&](const caf::error& err) { BOOST_FAIL(sys.render(err)); });
  dir.unpublish("127.0.0.1", port);
  if (!check_unpublish) {
    caf::anon_send_exit(e, caf::exit_reason::user_shutdown);
    return;
  }
  bool refused = false;
  self->request(dir.connector(), 5s, caf::connect_atom::value,
                std::string{"127.0.0.1"}, port)
    .receive([](const caf::node_id&, caf::strong_actor_ptr&,
                const std::set<std::string>&) {},
             [&](const caf::error&) { refused = true; });
  BOOST_CHECK(refused);
  caf::anon_send_exit(e, caf::exit_reason::user_shutdown);
}

} // namespace

BOOST_FIXTURE_TEST_CASE(middleman_directory_publishes_and_connects,
                        test::threaded_fixture) {
  check_directory(sys, self, *make_middleman_directory(sys), false);
}

BOOST_FIXTURE_TEST_CASE(local_directory_publishes_and_connects,
                        test::threaded_fixture) {
  check_directory(sys, self, *make_local_directory(sys), true);
}
