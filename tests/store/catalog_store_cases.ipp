// The catalog store's cases, run once per database by catalog_store.cpp
// (each in a fixture with `location`: a fresh database).

BOOST_AUTO_TEST_CASE(reopened_database_loses_nothing) {
  auto m = manifest_of("a.iso", 10, 'x');
  {
    auto store = open_catalog_store(location);
    catalog_store& st = *store;
    BOOST_TEST(st.announce(announce("p1", 7001, m, bitfield{10, true})).empty());
    BOOST_TEST(st.announce(announce("p2", 7002, m, bitfield{10})).empty());
    pb::Have h;
    h.set_peer_id("p2");
    h.set_name("a.iso");
    h.add_pieces(3);
    h.add_pieces(4);
    st.have(h);
  }
  auto store = open_catalog_store(location);
  catalog_store& st = *store;
  auto got = st.manifest("a.iso");
  BOOST_REQUIRE(got);
  BOOST_TEST(got->SerializeAsString() == m.SerializeAsString());
  auto info = st.info("a.iso");
  BOOST_REQUIRE(info);
  BOOST_TEST(info->sources_size() == 2);
  for (auto& s : info->sources())
    BOOST_TEST(s.pieces_held() == (s.peer_id() == "p1" ? 10u : 2u));
  // After a restart nobody is online until they announce again.
  st.set_all_offline();
  BOOST_TEST(st.info("a.iso")->sources_size() == 0);
  BOOST_TEST(st.known_peer("p1"));
  BOOST_TEST(st.list().files_size() == 1);
}

BOOST_AUTO_TEST_CASE(conflicting_and_invalid_manifests_are_refused) {
  auto store = open_catalog_store(location);
  catalog_store& st = *store;
  st.announce(announce("p1", 7001, manifest_of("a", 2, 'x'), bitfield{2, true}));
  auto rejected = st.announce(
    announce("p2", 7002, manifest_of("a", 2, 'y'), bitfield{2, true}));
  BOOST_REQUIRE(rejected.size() == 1u);
  BOOST_TEST(rejected[0].find("different file") != std::string::npos);
  auto bad = manifest_of("../etc", 2, 'x');
  rejected = st.announce(announce("p3", 7003, bad, bitfield{2, true}));
  BOOST_TEST(rejected.size() == 1u);
  BOOST_TEST(!st.manifest("../etc"));
  // p2 holds nothing of "a": its announce did not overwrite p1's manifest.
  BOOST_TEST(st.info("a")->sources_size() == 1);
}

BOOST_AUTO_TEST_CASE(have_out_of_range_or_unknown_is_an_error) {
  auto store = open_catalog_store(location);
  catalog_store& st = *store;
  st.announce(announce("p1", 7001, manifest_of("a", 2, 'x'), bitfield{2}));
  pb::Have h;
  h.set_peer_id("p1");
  h.set_name("a");
  h.add_pieces(2);
  auto refusal_of = [&](const pb::Have& x) -> std::pair<errc, std::string> {
    try {
      st.have(x);
    } catch (refusal& r) {
      return {r.code, r.what()};
    }
    return {errc{}, "not refused"};
  };
  auto r = refusal_of(h);
  BOOST_TEST((r.first == errc::bad_piece));
  BOOST_TEST(r.second.find("out of range") != std::string::npos);
  h.set_name("b");
  r = refusal_of(h);
  BOOST_TEST((r.first == errc::unknown_file));
  BOOST_TEST(r.second.find("unknown file") != std::string::npos);
  // Nothing was recorded by the refused calls.
  BOOST_TEST(st.info("a")->sources_size() == 0);
}

BOOST_AUTO_TEST_CASE(offline_peers_and_left_files_are_not_sources) {
  auto store = open_catalog_store(location);
  catalog_store& st = *store;
  auto m = manifest_of("a", 2, 'x');
  st.announce(announce("p1", 7001, m, bitfield{2, true}));
  st.announce(announce("p2", 7002, m, bitfield{2, true}));
  st.set_offline("p1");
  BOOST_TEST(st.info("a")->sources_size() == 1);
  st.leave("p2", "a");
  BOOST_TEST(st.info("a")->sources_size() == 0);
  auto list = st.list();
  BOOST_TEST(list.files(0).online_sources() == 0u);
}

BOOST_AUTO_TEST_CASE(a_bounded_source_list_is_a_window_of_the_online_holders) {
  auto store = open_catalog_store(location);
  catalog_store& st = *store;
  auto m = manifest_of("big", 4, 'x');
  std::vector<std::string> ids;
  for (int i = 0; i < 60; ++i) {
    char id[8];
    std::snprintf(id, sizeof(id), "p-%02x", i * 4);
    ids.emplace_back(id);
    st.announce(announce(id, static_cast<uint32_t>(7000 + i), m,
                         bitfield{4, true}));
  }
  st.set_offline("p-08"); // offline peers are never sources
  BOOST_TEST(st.info("big")->sources_size() == 59); // no bound: all
  auto window = [&](const std::string& from) {
    std::vector<std::string> got;
    auto info = st.info("big", 10, from);
    for (auto& s : info->sources())
      got.push_back(s.peer_id());
    return got;
  };
  // From a point between ids: the next 10 online ones in order.
  BOOST_TEST(window("p-05") == (std::vector<std::string>{
               "p-0c", "p-10", "p-14", "p-18", "p-1c", "p-20", "p-24",
               "p-28", "p-2c", "p-30"}));
  // Near the end it wraps around to the first ids, never repeating one.
  auto end = window("p-e9");
  BOOST_TEST(end == (std::vector<std::string>{
               "p-ec", "p-00", "p-04", "p-0c", "p-10", "p-14", "p-18",
               "p-1c", "p-20", "p-24"}));
  // Fewer holders than the bound: each online holder once.
  auto all = st.info("big", 100, "p-80");
  BOOST_REQUIRE(all);
  std::set<std::string> seen;
  for (auto& s : all->sources())
    seen.insert(s.peer_id());
  BOOST_TEST(all->sources_size() == 59);
  BOOST_TEST(seen.size() == 59u);
  BOOST_TEST(seen.count("p-08") == 0u);
}
