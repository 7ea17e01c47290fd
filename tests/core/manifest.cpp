#define BOOST_TEST_MODULE manifest
#include <boost/test/unit_test.hpp>

#include "actors/core/manifest.hpp"
#include "tests/fixtures.hpp"

using namespace actorrent;

BOOST_AUTO_TEST_CASE(sha256_matches_known_vector) {
  BOOST_TEST(hex(sha256("abc", 3))
             == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

BOOST_AUTO_TEST_CASE(manifest_hashes_every_piece_and_the_whole_file) {
  test::temp_dir dir;
  auto path = dir / "f.bin";
  size_t size = 3 * 16384 + 100; // last piece is short
  test::write_random_file(path, size, 1);
  auto m = build_manifest(path, "f.bin", 16384);
  BOOST_TEST(m.size() == size);
  BOOST_TEST(m.piece_sha256_size() == 4);
  auto bytes = test::read_file(path);
  for (uint32_t i = 0; i < 4; ++i) {
    auto len = piece_length(m, i);
    BOOST_TEST(len == (i < 3 ? 16384u : 100u));
    BOOST_TEST(m.piece_sha256(static_cast<int>(i))
               == sha256(bytes.data() + i * 16384, len));
  }
  BOOST_TEST(m.file_sha256() == sha256(bytes.data(), bytes.size()));
  BOOST_TEST(sha256_file(path) == m.file_sha256());
  std::string why;
  BOOST_TEST(valid_manifest(m, why), why);
}

BOOST_AUTO_TEST_CASE(empty_file_has_no_pieces) {
  test::temp_dir dir;
  test::write_random_file(dir / "e", 0, 1);
  auto m = build_manifest(dir / "e", "e", 16384);
  BOOST_TEST(m.piece_sha256_size() == 0);
  BOOST_TEST(m.file_sha256() == sha256("", 0));
}

BOOST_AUTO_TEST_CASE(missing_file_names_the_path) {
  try {
    build_manifest("/nonexistent/x", "x", 16384);
    BOOST_FAIL("no exception");
  } catch (std::exception& e) {
    BOOST_TEST(std::string{e.what()}.find("/nonexistent/x") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(bad_names_are_refused) {
  std::string why;
  for (const std::string& bad : std::vector<std::string>{"", "a/b", "..", "a..b", "/etc/passwd", "x\\y",
                          std::string{"a\0b", 3}, "tab\there",
                          std::string(256, 'n')}) {
    BOOST_TEST(!valid_name(bad, why), "accepted: " << bad);
    BOOST_TEST(!why.empty());
  }
  BOOST_TEST(valid_name("movie.mkv", why));
  BOOST_TEST(valid_name(std::string(255, 'n'), why));
}

BOOST_AUTO_TEST_CASE(inconsistent_manifests_are_refused) {
  pb::Manifest m;
  m.set_name("x");
  m.set_size(40000);
  m.set_piece_size(16384);
  m.set_file_sha256(std::string(32, 'a'));
  m.add_piece_sha256(std::string(32, 'b'));
  std::string why;
  BOOST_TEST(!valid_manifest(m, why)); // needs 3 hashes
  BOOST_TEST(why.find("expected 3") != std::string::npos);
  m.add_piece_sha256(std::string(32, 'b'));
  m.add_piece_sha256(std::string(31, 'b'));
  BOOST_TEST(!valid_manifest(m, why)); // short hash
  m.set_piece_sha256(2, std::string(32, 'b'));
  BOOST_TEST(valid_manifest(m, why));
  m.set_piece_size(1);
  BOOST_TEST(!valid_manifest(m, why));
  // 4 KiB is the smallest piece (a piece stays aligned for O_DIRECT).
  m.set_size(3 * 4096);
  m.set_piece_size(4096);
  BOOST_TEST(valid_manifest(m, why), why);
  m.set_size(3 * 4095);
  m.set_piece_size(4095);
  BOOST_TEST(!valid_manifest(m, why));
  BOOST_TEST(why.find("piece size out of range: 4095") != std::string::npos);
}

// Equal manifests share one copy in the process; one that differs under the
// same name, version and piece size keeps its own.
BOOST_AUTO_TEST_CASE(equal_manifests_share_one_copy) {
  pb::Manifest m;
  m.set_name("shared.bin");
  m.set_size(8192);
  m.set_piece_size(4096);
  m.set_file_sha256(std::string(32, 'f'));
  m.add_piece_sha256(std::string(32, '1'));
  m.add_piece_sha256(std::string(32, '2'));
  auto copy = m;
  shared_manifest a{m};
  shared_manifest b{copy};
  BOOST_TEST(&*a == &*b);
  BOOST_TEST(b->piece_sha256(1) == std::string(32, '2'));
  auto other = m;
  other.set_piece_sha256(1, std::string(32, '3'));
  shared_manifest c{other};
  BOOST_TEST(&*c != &*a);
  BOOST_TEST(c->piece_sha256(1) == std::string(32, '3'));
  BOOST_TEST(a->piece_sha256(1) == std::string(32, '2'));
  auto renamed = m;
  renamed.set_name("g:team:shared.bin");
  shared_manifest d{renamed};
  BOOST_TEST(&*d != &*a);
  BOOST_TEST(d->name() == "g:team:shared.bin");
}

BOOST_AUTO_TEST_CASE(bitfield_round_trips_through_wire_bytes) {
  bitfield b{13};
  b.set(0);
  b.set(7);
  b.set(12);
  BOOST_TEST(b.count() == 3u);
  bitfield c{13, b.bytes()};
  BOOST_TEST(c.test(0));
  BOOST_TEST(c.test(7));
  BOOST_TEST(c.test(12));
  BOOST_TEST(!c.test(1));
  BOOST_TEST(!c.test(13)); // out of range
  BOOST_TEST(c.missing().size() == 10u);
  bitfield all{13, true};
  BOOST_TEST(all.all());
  BOOST_TEST(all.count() == 13u);
  // Extra bits from the network beyond the size are ignored.
  bitfield junk{3, std::string(4, '\xFF')};
  BOOST_TEST(junk.count() == 3u);
}
