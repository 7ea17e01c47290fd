// The group manager actor with the tracker beside it, under the
// deterministic scheduler: accounts, groups, and downloads whose sources
// come from the tracker's catalog and whose tickets verify.
#define BOOST_TEST_MODULE group_manager
#include <boost/test/unit_test.hpp>

#include "actors/core/ticket.hpp"
#include "tests/tracker/tracker_fixture.hpp"

using namespace actorrent;
using namespace actorrent::test;

namespace {

struct fixture : tracker_fixture {
  std::string alice, bob, carol; // session tokens
  pb::Manifest movie = manifest_of(group_key("films", "movie.mkv"), 3, 'm');

  /// Creates the account and logs in: the session token.
  std::string user(const std::string& name) {
    pb::CreateUser cu;
    cu.set_user(name);
    cu.set_password("pw-" + name);
    auto created = ask<pb::GroupText>(gm, create_user_atom::value, cu);
    BOOST_REQUIRE_MESSAGE(created, why(created));
    pb::Login li;
    li.set_user(name);
    li.set_password("pw-" + name);
    auto r = ask<pb::LoginReply>(gm, login_atom::value, li);
    BOOST_REQUIRE_MESSAGE(r, why(r));
    BOOST_TEST(r->user() == name);
    return r->token();
  }

  template <class Request>
  Request in_group(const std::string& token, const std::string& group) {
    Request rq;
    rq.set_token(token);
    rq.set_group(group);
    return rq;
  }

  caf::expected<pb::FileInfo> download(const std::string& token) {
    auto rq = in_group<pb::GroupDownload>(token, "films");
    rq.set_name("movie.mkv");
    return ask<pb::FileInfo>(gm, download_atom::value, rq);
  }

  /// alice owns "films", bob is a member, carol is not; alice's peer "pa"
  /// holds movie.mkv and shares it there.
  void films() {
    alice = user("alice");
    bob = user("bob");
    carol = user("carol");
    BOOST_REQUIRE(ask<pb::GroupText>(gm, create_group_atom::value,
                                     in_group<pb::CreateGroup>(alice, "films")));
    BOOST_REQUIRE(ask<pb::GroupText>(gm, join_group_atom::value,
                                     in_group<pb::JoinGroup>(bob, "films")));
    auto accept = in_group<pb::AcceptRequest>(alice, "films");
    accept.set_user("bob");
    BOOST_REQUIRE(ask<pb::GroupText>(gm, accept_atom::value, accept));
    BOOST_REQUIRE(announce_as("pa", 7001, {}));  // online, sharing nothing
    auto share = in_group<pb::Share>(alice, "films");
    share.set_name("movie.mkv");
    share.set_peer_id(id("pa"));
    share.set_peer_session(tokens["pa"]);
    BOOST_REQUIRE(ask<pb::GroupText>(gm, share_atom::value, share));
    auto r = announce_as("pa", 7001, {movie});
    BOOST_REQUIRE(r);
    BOOST_REQUIRE_EQUAL(r->rejected_size(), 0);
  }

  /// Sources of the group file as the catalog has them.
  int catalog_sources() {
    pb::GroupFile f;
    f.set_group("films");
    f.set_name("movie.mkv");
    auto info = ask<pb::FileInfo>(trk, info_atom::value, f);
    BOOST_REQUIRE_MESSAGE(info, why(info));
    return info->sources_size();
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(group_manager_tests, fixture)

BOOST_AUTO_TEST_CASE(accounts_and_sessions) {
  alice = user("alice");
  BOOST_TEST(alice.size() == 64u);
  pb::CreateUser again;
  again.set_user("alice");
  again.set_password("x");
  BOOST_TEST(code_of(ask<pb::GroupText>(gm, create_user_atom::value, again))
             == "conflict");
  pb::Login wrong;
  wrong.set_user("alice");
  wrong.set_password("nope");
  BOOST_TEST(code_of(ask<pb::LoginReply>(gm, login_atom::value, wrong))
             == "wrong_login");
  // A request without a valid session is refused whatever it claims.
  BOOST_TEST(code_of(ask<pb::GroupText>(
               gm, create_group_atom::value,
               in_group<pb::CreateGroup>("forged-token", "films")))
             == "not_logged_in");
  pb::Logout out;
  out.set_token(alice);
  auto r = ask<pb::GroupText>(gm, logout_atom::value, out);
  BOOST_REQUIRE(r);
  BOOST_TEST(r->text() == "logged out alice");
  BOOST_TEST(code_of(ask<pb::GroupText>(gm, logout_atom::value, out))
             == "not_logged_in");
}

BOOST_AUTO_TEST_CASE(groups_requests_and_lists) {
  films();
  BOOST_TEST(code_of(ask<pb::GroupText>(
               gm, create_group_atom::value,
               in_group<pb::CreateGroup>(bob, "films")))
             == "conflict");
  BOOST_REQUIRE(ask<pb::GroupText>(gm, join_group_atom::value,
                                   in_group<pb::JoinGroup>(carol, "films")));
  auto requests = ask<pb::NameList>(gm, list_requests_atom::value,
                                    in_group<pb::ListRequests>(alice, "films"));
  BOOST_REQUIRE(requests);
  BOOST_REQUIRE(requests->names_size() == 1);
  BOOST_TEST(requests->names(0) == "carol");
  BOOST_TEST(code_of(ask<pb::NameList>(
               gm, list_requests_atom::value,
               in_group<pb::ListRequests>(bob, "films")))
             == "denied"); // not the owner
  pb::ListGroups lg;
  lg.set_token(carol);
  auto groups = ask<pb::GroupList>(gm, list_groups_atom::value, lg);
  BOOST_REQUIRE(groups);
  BOOST_REQUIRE(groups->groups_size() == 1);
  BOOST_TEST(groups->groups(0).owner() == "alice");
  BOOST_TEST(groups->groups(0).members() == 2u);
  BOOST_TEST(!groups->groups(0).member());
  auto files = ask<pb::NameList>(gm, list_files_atom::value,
                                 in_group<pb::ListFiles>(bob, "films"));
  BOOST_REQUIRE(files);
  BOOST_TEST(files->names_size() == 1);
  BOOST_TEST(code_of(ask<pb::NameList>(gm, list_files_atom::value,
                                       in_group<pb::ListFiles>(carol, "films")))
             == "denied");
}

BOOST_AUTO_TEST_CASE(members_get_sources_and_a_ticket_others_are_refused) {
  films();
  auto refused = download(carol);
  BOOST_TEST(code_of(refused) == "denied");
  BOOST_TEST(why(refused).find("not a member") != std::string::npos);
  auto info = download(bob);
  BOOST_REQUIRE_MESSAGE(info, why(info));
  BOOST_REQUIRE(info->sources_size() == 1);
  BOOST_TEST(info->sources(0).peer_id() == id("pa"));
  BOOST_TEST(info->manifest().name() == movie.name());
  auto key = ask<std::string>(gm, ticket_key_atom::value);
  BOOST_REQUIRE(key);
  BOOST_TEST(check_ticket(*key, info->ticket(), "films", "movie.mkv",
                          movie.file_sha256(), test_unix_time + 60)
             == "");
  BOOST_TEST(check_ticket(*key, info->ticket(), "films", "movie.mkv",
                          movie.file_sha256(), test_unix_time + 3601)
             == "ticket expired");
  auto nope = in_group<pb::GroupDownload>(bob, "films");
  nope.set_name("other.mkv");
  BOOST_TEST(code_of(ask<pb::FileInfo>(gm, download_atom::value, nope))
             == "unknown_file");
}

BOOST_AUTO_TEST_CASE(unshare_and_logout_withdraw_from_the_catalog) {
  films();
  BOOST_TEST(catalog_sources() == 1);
  auto unshare = in_group<pb::Unshare>(alice, "films");
  unshare.set_name("movie.mkv");
  BOOST_REQUIRE(ask<pb::GroupText>(gm, unshare_atom::value, unshare));
  BOOST_TEST(catalog_sources() == 0);
  BOOST_TEST(code_of(download(bob)) == "unknown_file");
  // Unsharing ended the peer's permit: announcing the file is refused.
  auto r = announce_as("pa", 7001, {movie});
  BOOST_REQUIRE(r);
  BOOST_TEST(r->rejected_size() == 1);
  // Shared again (the peer announces it again), then alice logs out.
  auto share = in_group<pb::Share>(alice, "films");
  share.set_name("movie.mkv");
  share.set_peer_id(id("pa"));
  share.set_peer_session(tokens["pa"]);
  BOOST_REQUIRE(ask<pb::GroupText>(gm, share_atom::value, share));
  BOOST_REQUIRE(announce_as("pa", 7001, {movie}));
  BOOST_TEST(catalog_sources() == 1);
  pb::Logout out;
  out.set_token(alice);
  BOOST_REQUIRE(ask<pb::GroupText>(gm, logout_atom::value, out));
  BOOST_TEST(catalog_sources() == 0);
}

BOOST_AUTO_TEST_CASE(leaving_withdraws_and_hands_the_group_over) {
  films();
  auto r = ask<pb::GroupText>(gm, leave_group_atom::value,
                              in_group<pb::LeaveGroup>(alice, "films"));
  BOOST_REQUIRE(r);
  BOOST_TEST(r->text() == "left films; owner is now bob");
  BOOST_TEST(catalog_sources() == 0);
}

BOOST_AUTO_TEST_CASE(a_download_while_the_tracker_restarts_fails_at_once) {
  films();
  tracker_slot->set(nullptr);
  BOOST_TEST(code_of(download(bob)) == "no_such_actor");
  restart_tracker(); // back: bob gets the file's info (no source online yet)
  auto info = download(bob);
  BOOST_REQUIRE_MESSAGE(info, why(info));
  BOOST_TEST(info->sources_size() == 0);
}


// A group's file enters the catalog only through a member's share: a plain
// announce of its catalog name is refused, and so are haves for it.
BOOST_AUTO_TEST_CASE(a_group_file_is_not_planted_by_a_plain_announce) {
  films();
  auto planted = manifest_of(group_key("films", "movie.mkv"), 2, 'E');
  auto r = announce_as("mallory", 7666, {planted});
  BOOST_REQUIRE(r);
  BOOST_REQUIRE_EQUAL(r->rejected_size(), 1);
  BOOST_TEST(r->rejected(0).find("group manager") != std::string::npos);
  auto fresh = manifest_of(group_key("films", "new.mkv"), 2, 'E');
  r = announce_as("mallory", 7666, {fresh});
  BOOST_REQUIRE(r);
  BOOST_TEST(r->rejected_size() == 1);
  auto h = from<pb::Have>("mallory");
  h.set_name(group_key("films", "movie.mkv"));
  h.add_pieces(0);
  BOOST_TEST(code_of(ask<caf::ok_atom>(trk, have_atom::value, h)) == "denied");
  // The member's file is still the only one, from the member's peer.
  BOOST_TEST(catalog_sources() == 1);
  auto info = download(bob);
  BOOST_REQUIRE(info);
  BOOST_TEST(info->manifest().file_sha256() == movie.file_sha256());
}

// A member shares only from the peer whose tracker session it holds: a
// share naming another peer is refused, so the member's logout cannot
// withdraw that peer's holding.
BOOST_AUTO_TEST_CASE(a_share_names_only_the_sessions_own_peer) {
  films();
  BOOST_REQUIRE(announce_as("pb", 7002, {}));
  auto share = in_group<pb::Share>(bob, "films");
  share.set_name("movie.mkv");
  share.set_peer_id(id("pa"));
  share.set_peer_session(tokens["pb"]);
  BOOST_TEST(code_of(ask<pb::GroupText>(gm, share_atom::value, share))
             == "denied");
  share.clear_peer_session();
  BOOST_TEST(code_of(ask<pb::GroupText>(gm, share_atom::value, share))
             == "denied");
  pb::Logout out;
  out.set_token(bob);
  BOOST_REQUIRE(ask<pb::GroupText>(gm, logout_atom::value, out));
  BOOST_TEST(catalog_sources() == 1);
}

BOOST_AUTO_TEST_SUITE_END()
