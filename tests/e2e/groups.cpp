// End-to-end: three users on separate peer processes go through the group
// commands; access is enforced at the tracker and at serving peers.
#define BOOST_TEST_MODULE e2e_groups
#include <boost/test/unit_test.hpp>

#include <ctime>

#include <caf/io/middleman.hpp>

#include "actors/interfaces.hpp"
#include "actors/core/manifest.hpp"
#include "actors/core/ticket.hpp"
#include "tests/e2e/swarm.hpp"

using namespace actorrent;
using namespace actorrent::test;

namespace {

// Asks a serving peer for piece 0 of `key` directly, from this process.
std::string request_piece(uint16_t port, const std::string& key,
                          const std::string& sha, const pb::SignedTicket* t) {
  node_config cfg;
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  auto server = sys.middleman().remote_actor<piece_server_actor>("127.0.0.1",
                                                                 port);
  if (!server)
    return "cannot connect: " + render(server.error());
  caf::scoped_actor self{sys};
  pb::PieceRequest req;
  req.set_name(key);
  req.set_index(0);
  req.set_file_sha256(sha);
  if (t)
    *req.mutable_ticket() = *t;
  std::string out;
  self->request(*server, 10s, piece_atom::value, req)
    .receive([&](const pb::PieceHeader&,
                 const piece_bytes&) { out = "served"; },
             [&](const caf::error& err) { out = render(err); });
  return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(three_users_share_in_a_group) {
  swarm s;
  s.start_tracker();
  // alice and bob serve at 4 MiB/s each: carol's download of 6 MiB takes
  // long enough that she reaches both, however loaded the machine (alice
  // alone once served all of it before carol's connection to bob was up).
  for (auto u : {"alice", "bob"})
    s.start_peer(u, {"--peer.upload-limit=4194304"});
  s.start_peer("carol");
  auto ok = [&](const std::string& peer, std::vector<std::string> args) {
    auto r = s.ctl(peer, args);
    BOOST_REQUIRE_MESSAGE(r.code == 0, peer << " " << args[0] << ": " << r.out);
    return r.out;
  };
  auto refused = [&](const std::string& peer, std::vector<std::string> args) {
    auto r = s.ctl(peer, args);
    BOOST_TEST(r.code == 1, peer << " " << args[0] << " was not refused: "
                                 << r.out);
    return r.out;
  };
  // Accounts.
  refused("alice", {"create_group", "early"}); // needs a login
  ok("alice", {"create_user", "alice", "pw-alice"});
  ok("bob", {"create_user", "bob", "pw-bob"});
  ok("carol", {"create_user", "carol", "pw-carol"});
  BOOST_TEST(refused("bob", {"create_user", "alice", "x"}).find("exists")
             != std::string::npos);
  auto wrong = refused("bob", {"login", "alice", "wrong"});
  auto unknown = refused("bob", {"login", "mallory", "pw-alice"});
  BOOST_TEST(wrong == unknown);
  ok("alice", {"login", "alice", "pw-alice"});
  ok("bob", {"login", "bob", "pw-bob"});
  ok("carol", {"login", "carol", "pw-carol"});
  // A group, join requests accepted and rejected.
  ok("alice", {"create_group", "films"});
  refused("bob", {"create_group", "films"});
  ok("bob", {"join_group", "films"});
  ok("carol", {"join_group", "films"});
  refused("carol", {"join_group", "films"});
  BOOST_TEST(ok("alice", {"list_requests", "films"}) == "bob\ncarol\n");
  refused("bob", {"accept_request", "films", "carol"}); // not the owner
  ok("alice", {"accept_request", "films", "bob"});
  ok("alice", {"reject_request", "films", "carol"});
  refused("alice", {"accept_request", "films", "carol"}); // did not ask now
  // Upload: alice and bob both hold the file; bob downloads from... carol
  // must not see it.
  write_random_file(s.dir / "movie.mkv", 6 * 1024 * 1024, 77);
  ok("alice", {"upload_file", s.dir / "movie.mkv", "films"});
  BOOST_TEST(ok("bob", {"list_files", "films"}) == "movie.mkv\n");
  BOOST_TEST(refused("carol", {"list_files", "films"}).find("not a member")
             != std::string::npos);
  BOOST_TEST(refused("carol", {"download_file", "films", "movie.mkv",
                               s.dir / "carol-got"})
               .find("not a member")
             != std::string::npos);
  // The public catalog does not show group files.
  BOOST_TEST(ok("carol", {"list"}).find("movie") == std::string::npos);
  BOOST_TEST(refused("carol", {"info", "g:films:movie.mkv"}).find("denied")
             != std::string::npos);
  // bob downloads; then carol joins and downloads from alice and bob at once.
  ok("bob", {"download_file", "films", "movie.mkv", s.dir / "bob-got"});
  BOOST_REQUIRE(wait_until(
    [&] {
      return ok("bob", {"show_downloads"}).find("complete") != std::string::npos;
    },
    30s));
  BOOST_TEST(file_of(s.dir / "bob-got/movie.mkv") == file_of(s.dir / "movie.mkv"));
  ok("carol", {"join_group", "films"});
  ok("alice", {"accept_request", "films", "carol"});
  auto alice_before = s.bytes_served("alice");
  auto bob_before = s.bytes_served("bob");
  ok("carol", {"download_file", "films", "movie.mkv", s.dir / "carol-got"});
  BOOST_REQUIRE(wait_until(
    [&] {
      return ok("carol", {"show_downloads"}).find("complete")
             != std::string::npos;
    },
    30s));
  BOOST_TEST(file_of(s.dir / "carol-got/movie.mkv")
             == file_of(s.dir / "movie.mkv"));
  BOOST_TEST(s.bytes_served("alice") > alice_before);
  BOOST_TEST(s.bytes_served("bob") > bob_before);
  auto shown = ok("carol", {"show_downloads"});
  BOOST_TEST(shown.find("films") != std::string::npos, shown);
  BOOST_TEST(shown.find("100.0%") != std::string::npos, shown);

  // A serving peer refuses pieces without a valid ticket, even to someone
  // who knows its address and the file.
  auto key = group_key("films", "movie.mkv");
  auto sha = build_manifest(s.dir / "movie.mkv", key, piece).file_sha256();
  auto alice_port = s.ports["alice"].port;
  BOOST_TEST(request_piece(alice_port, key, sha, nullptr).find("ticket missing")
             != std::string::npos);
  pb::Ticket forged_ticket;
  forged_ticket.set_user("mallory");
  forged_ticket.set_group("films");
  forged_ticket.set_name("movie.mkv");
  forged_ticket.set_file_sha256(sha);
  forged_ticket.set_expires_unix(std::time(nullptr) + 3600);
  auto forged = sign_ticket(signing_key::generate(system_random()), forged_ticket);
  BOOST_TEST(request_piece(alice_port, key, sha, &forged).find("forged")
             != std::string::npos);

  // Logout stops sharing; login shares the same files again.
  ok("alice", {"logout"});
  refused("alice", {"list_files", "films"});
  BOOST_TEST(request_piece(alice_port, key, sha, nullptr).find("unknown_file")
             != std::string::npos);
  auto again = ok("alice", {"login", "alice", "pw-alice"});
  BOOST_TEST(again.find("sharing again: films/movie.mkv") != std::string::npos,
             again);

  // The owner leaves: ownership passes to the longest-standing member (bob).
  BOOST_TEST(ok("alice", {"leave_group", "films"}).find("owner is now bob")
             != std::string::npos);
  refused("alice", {"leave_group", "films"});
  auto groups = ok("carol", {"--json", "list_groups"});
  BOOST_TEST(groups.find("\"owner\":\"bob\"") != std::string::npos, groups);

  // The tracker is killed and started again: everything is still there.
  s.tracker->kill(SIGKILL);
  s.start_tracker();
  BOOST_REQUIRE(wait_until(
    [&] {
      auto r = s.ctl("bob", {"--json", "status"});
      return r.out.find("\"tracker\":\"online\"") != std::string::npos;
    },
    15s));
  // Sessions survive too; bob's is still valid.
  BOOST_TEST(ok("bob", {"list_requests", "films"}) == "");
  BOOST_TEST(ok("carol", {"list_files", "films"}) == "movie.mkv\n");
  groups = ok("carol", {"--json", "list_groups"});
  BOOST_TEST(groups.find("\"owner\":\"bob\"") != std::string::npos, groups);
  BOOST_TEST(groups.find("\"members\":2") != std::string::npos, groups);
  ok("alice", {"logout"});
  ok("alice", {"login", "alice", "pw-alice"}); // the account survived
}
