// The group store's cases, run once per database by group_store.cpp (each
// in a fixture with `location`, a fresh database, and `gs`, a store on it
// with three users).


BOOST_AUTO_TEST_CASE(accounts_and_sessions) {
  BOOST_TEST(refused([&] { gs.create_user("alice", "x"); }).first
             == errc::conflict);
  auto wrong = refused([&] { gs.login("alice", "nope"); });
  auto unknown = refused([&] { gs.login("mallory", "pw-a"); });
  BOOST_TEST(wrong.first == errc::wrong_login);
  BOOST_TEST(wrong.second == unknown.second); // no hint which one
  auto token = gs.login("alice", "pw-a");
  BOOST_TEST(token.size() == 64u);
  BOOST_TEST(gs.user_of(token) == "alice");
  gs.logout(token);
  BOOST_TEST(refused([&] { gs.user_of(token); }).first == errc::not_logged_in);
  BOOST_TEST(refused([&] { gs.logout(token); }).first == errc::not_logged_in);
  BOOST_TEST(refused([&] { gs.create_user("", "x"); }).first == errc::bad_name);
  BOOST_TEST(refused([&] { gs.create_user("a/b", "x"); }).first
             == errc::bad_name);
  BOOST_TEST(refused([&] { gs.create_user("a\tb", "x"); }).first
             == errc::bad_name);
  BOOST_TEST(refused([&] { gs.create_user(std::string(256, 'u'), "x"); }).first
             == errc::bad_name);
  BOOST_TEST(refused([&] { gs.create_user("dave", ""); }).first
             == errc::bad_message);
}

BOOST_AUTO_TEST_CASE(passwords_are_stored_as_argon2id_hashes) {
  sql::database db{location};
  auto st = db.prepare("SELECT pwhash FROM users WHERE name = 'alice'");
  BOOST_REQUIRE(st.step());
  auto h = st.text_at(0);
  BOOST_TEST(h.rfind("$argon2id$", 0) == 0u, h);
  BOOST_TEST(h.find("pw-a") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(join_accept_reject) {
  gs.create_group("alice", "movies");
  BOOST_TEST(refused([&] { gs.create_group("bob", "movies"); }).first
             == errc::conflict);
  BOOST_TEST(refused([&] { gs.join_group("alice", "movies"); }).first
             == errc::conflict); // already a member
  BOOST_TEST(refused([&] { gs.join_group("bob", "nope"); }).first
             == errc::unknown_group);
  gs.join_group("bob", "movies");
  gs.join_group("carol", "movies");
  BOOST_TEST(refused([&] { gs.join_group("bob", "movies"); }).first
             == errc::conflict); // asked already
  BOOST_TEST((gs.list_requests("alice", "movies")
              == std::vector<std::string>{"bob", "carol"}));
  BOOST_TEST(refused([&] { gs.list_requests("bob", "movies"); }).first
             == errc::denied);
  BOOST_TEST(refused([&] { gs.accept_request("bob", "movies", "carol"); })
               .first
             == errc::denied); // not the owner
  BOOST_TEST(refused([&] { gs.accept_request("alice", "movies", "dave"); })
               .second
             == "dave did not ask to join movies");
  gs.accept_request("alice", "movies", "bob");
  gs.reject_request("alice", "movies", "carol");
  BOOST_TEST(refused([&] { gs.reject_request("alice", "movies", "carol"); })
               .first
             == errc::denied);
  BOOST_TEST(gs.is_member("bob", "movies"));
  BOOST_TEST(!gs.is_member("carol", "movies"));
  auto groups = gs.list_groups("carol");
  BOOST_REQUIRE(groups.size() == 1u);
  BOOST_TEST(groups[0].owner == "alice");
  BOOST_TEST(groups[0].members == 2u);
  BOOST_TEST(!groups[0].member);
}

BOOST_AUTO_TEST_CASE(files_only_for_members_and_leaving_unshares) {
  gs.create_group("alice", "g");
  gs.join_group("bob", "g");
  gs.accept_request("alice", "g", "bob");
  gs.share("alice", "g", "a.mkv", "p-1");
  gs.share("bob", "g", "b.mkv", "p-2");
  BOOST_TEST(refused([&] { gs.share("carol", "g", "c.mkv", "p-3"); }).first
             == errc::denied);
  BOOST_TEST(refused([&] { gs.files("carol", "g"); }).first == errc::denied);
  BOOST_TEST((gs.files("bob", "g") == std::vector<std::string>{"a.mkv", "b.mkv"}));
  BOOST_TEST(refused([&] { gs.leave_group("carol", "g"); }).first
             == errc::denied);
  BOOST_TEST(gs.leave_group("bob", "g") == "");
  BOOST_TEST((gs.files("alice", "g") == std::vector<std::string>{"a.mkv"}));
  BOOST_TEST(gs.shares_of("bob").empty());
  BOOST_TEST(refused([&] { gs.share("alice", "g", "../x", "p-1"); }).first
             == errc::bad_name);
}

BOOST_AUTO_TEST_CASE(unshare_and_logout_end_shares_and_say_which) {
  gs.create_group("alice", "g");
  gs.share("alice", "g", "a.mkv", "p-1");
  gs.share("alice", "g", "b.mkv", "p-1");
  auto ended = gs.unshare("alice", "g", "a.mkv");
  BOOST_REQUIRE(ended.size() == 1u);
  BOOST_TEST(ended[0].name == "a.mkv");
  BOOST_TEST(ended[0].peer_id == "p-1");
  BOOST_TEST(gs.unshare("alice", "g", "a.mkv").empty());
  auto token = gs.login("alice", "pw-a");
  ended = gs.logout(token);
  BOOST_REQUIRE(ended.size() == 1u);
  BOOST_TEST(ended[0].name == "b.mkv");
  BOOST_TEST(gs.shares_of("alice").empty());
  BOOST_TEST(refused([&] { gs.logout(token); }).first == errc::not_logged_in);
}

BOOST_AUTO_TEST_CASE(owner_leaving_passes_to_longest_standing_member) {
  gs.create_group("alice", "g");
  gs.join_group("carol", "g");
  gs.join_group("bob", "g");
  gs.accept_request("alice", "g", "carol"); // carol joins first
  gs.accept_request("alice", "g", "bob");
  BOOST_TEST(gs.leave_group("alice", "g") == "owner is now carol");
  BOOST_TEST(gs.owner_of("g") == "carol");
  BOOST_TEST(gs.leave_group("carol", "g") == "owner is now bob");
  BOOST_TEST(gs.leave_group("bob", "g") == "removed");
  BOOST_TEST(refused([&] { gs.owner_of("g"); }).first == errc::unknown_group);
}

BOOST_AUTO_TEST_CASE(tickets_signed_and_checked) {
  gs.create_group("alice", "g");
  gs.share("alice", "g", "f", "p-1");
  BOOST_TEST(refused([&] { gs.ticket("bob", "g", "f", sha, 1000, 60); }).first
             == errc::denied);
  BOOST_TEST(refused([&] { gs.ticket("alice", "g", "x", sha, 1000, 60); }).first
             == errc::unknown_file);
  auto t = gs.ticket("alice", "g", "f", sha, 1000, 60);
  auto& pk = gs.key().public_key;
  BOOST_TEST(check_ticket(pk, t, "g", "f", sha, 1030) == "");
  BOOST_TEST(check_ticket(pk, t, "g", "f", sha, 1061) == "ticket expired");
  BOOST_TEST(check_ticket(pk, t, "g", "other", sha, 1030).find("another file")
             != std::string::npos);
  BOOST_TEST(check_ticket(pk, t, "h", "f", sha, 1030).find("another file")
             != std::string::npos);
  BOOST_TEST(check_ticket(pk, t, "g", "f", std::string(32, 'z'), 1030)
               .find("another version")
             != std::string::npos);
  auto tampered = t;
  pb::Ticket inner;
  inner.ParseFromString(t.ticket());
  inner.set_user("mallory");
  tampered.set_ticket(inner.SerializeAsString());
  BOOST_TEST(check_ticket(pk, tampered, "g", "f", sha, 1030).find("forged")
             != std::string::npos);
  // Signed by another key: forged.
  auto other = sign_ticket(signing_key::generate(system_random()), inner);
  BOOST_TEST(check_ticket(pk, other, "g", "f", sha, 1030).find("forged")
             != std::string::npos);
  BOOST_TEST(check_ticket(pk, pb::SignedTicket{}, "g", "f", sha, 1030)
             == "ticket missing or without signature");
}

BOOST_AUTO_TEST_CASE(everything_survives_reopening) {
  gs.create_group("alice", "g");
  gs.join_group("bob", "g");
  gs.share("alice", "g", "f", "p-1");
  auto token = gs.login("carol", "pw-c");
  auto pk = gs.key().public_key;
  auto reopened = open_group_store(location);
  group_store& again = *reopened;
  BOOST_TEST(again.key().public_key == pk);
  BOOST_TEST(again.user_of(token) == "carol");
  BOOST_TEST(again.owner_of("g") == "alice");
  BOOST_TEST((again.list_requests("alice", "g") == std::vector<std::string>{"bob"}));
  BOOST_TEST((again.files("alice", "g") == std::vector<std::string>{"f"}));
}

