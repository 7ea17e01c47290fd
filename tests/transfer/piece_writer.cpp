// The piece writer under the deterministic scheduler, on files in memory:
// every piece verified before it is written, the file renamed into place
// only when every piece is; several writers share one download.
#define BOOST_TEST_MODULE piece_writer
#include <boost/test/unit_test.hpp>

#include "actors/transfer/piece_writer.hpp"
#include "tests/transfer/fakes.hpp"

using namespace actorrent;

namespace {

struct fixture : test::transfer_fixture {
  std::string bytes = test::random_bytes(5 * test::piece + 1000, 3);
  pb::Manifest m = test::manifest_of_bytes("f.bin", bytes);
  uint32_t n = static_cast<uint32_t>(m.piece_sha256_size());
  std::string part = part_path("/dl", "f.bin");

  writer_actor spawn_writer(const pb::Manifest& man,
                            std::shared_ptr<written_set> shared = nullptr) {
    writer_options wo{std::make_shared<const pb::Manifest>(man), part,
                      "/dl/f.bin", bitfield{n}, io, shared};
    lib->put(local_file{man, part, bitfield{n}, ""});
    auto w = track(sys.spawn(piece_writer, wo, lib));
    sched.run();
    return w;
  }

  /// The pieces `is` (their bytes end to end) that failed their SHA-256.
  std::vector<uint32_t> write(const writer_actor& w,
                              std::vector<uint32_t> is, piece_bytes data) {
    auto [bad, err] = ask<std::vector<uint32_t>>(w, write_atom::value, is,
                                                 std::move(data));
    BOOST_REQUIRE_MESSAGE(bad, render(err));
    return *bad;
  }

  bool write(const writer_actor& w, uint32_t i, piece_bytes data) {
    return write(w, std::vector<uint32_t>{i}, std::move(data)).empty();
  }

  std::string file(const std::string& path) {
    std::string out;
    return io->get(path, out) ? out : "<none>";
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(writer, fixture)

BOOST_AUTO_TEST_CASE(writes_a_good_piece_into_the_preallocated_part) {
  auto w = spawn_writer(m);
  BOOST_CHECK_EQUAL(file(part).size(), bytes.size()); // preallocated
  BOOST_CHECK(write(w, 2, test::piece_of(bytes, 2)));
  auto got = file(part);
  BOOST_CHECK(got.compare(2 * test::piece, test::piece, bytes, 2 * test::piece,
                          test::piece)
              == 0);
  BOOST_CHECK(lib->snapshot().at(0).have.test(2)); // served at once
  BOOST_CHECK(!lib->snapshot().at(0).have.test(1));
}

BOOST_AUTO_TEST_CASE(refuses_a_piece_that_fails_its_sha256) {
  auto w = spawn_writer(m);
  auto bad = test::piece_of(bytes, 1);
  bad[100] ^= 1;
  BOOST_CHECK(!write(w, 1, bad));
  BOOST_CHECK(!write(w, 1, test::piece_of(bytes, 2))); // another piece's bytes
  auto got = file(part);
  BOOST_CHECK_EQUAL(got.substr(test::piece, test::piece),
                    std::string(test::piece, '\0')); // nothing written
  BOOST_CHECK(!lib->snapshot().at(0).have.test(1));
  auto [ok, err] = ask<std::vector<uint32_t>>(
    w, write_atom::value, std::vector<uint32_t>{n}, piece_bytes{});
  BOOST_CHECK(!ok);
  BOOST_CHECK(is(err, errc::bad_piece));
}

BOOST_AUTO_TEST_CASE(writes_several_pieces_of_one_buffer_and_names_the_bad) {
  lib->cache = std::make_shared<piece_cache>(8 * test::piece);
  auto w = spawn_writer(m);
  // Pieces 0, 3 and the short tail end to end; 3's bytes are damaged.
  auto joined = test::piece_of(bytes, 0);
  auto three = test::piece_of(bytes, 3);
  three[5] ^= 1;
  auto tail = test::piece_of(bytes, n - 1);
  std::string all = std::string(joined.data(), joined.size())
                    + std::string(three.data(), three.size())
                    + std::string(tail.data(), tail.size());
  auto bad = write(w, {0, 3, n - 1}, piece_bytes(all.data(), all.size()));
  BOOST_CHECK(bad == std::vector<uint32_t>{3});
  auto got = file(part);
  BOOST_CHECK(got.compare(0, test::piece, bytes, 0, test::piece) == 0);
  BOOST_CHECK(got.compare(5 * test::piece, 1000, bytes, 5 * test::piece, 1000)
              == 0);
  BOOST_CHECK_EQUAL(got.substr(3 * test::piece, test::piece),
                    std::string(test::piece, '\0'));
  auto held = lib->snapshot().at(0).have;
  BOOST_CHECK(held.test(0) && held.test(n - 1) && !held.test(3));
  // Each verified piece is cached on its own, with its own length.
  auto cached = lib->cache->get(m.file_sha256(), n - 1);
  BOOST_REQUIRE(cached);
  BOOST_CHECK_EQUAL(cached->size(), 1000u);
  BOOST_CHECK(!lib->cache->get(m.file_sha256(), 3));
  // Bytes that are not as long as the pieces named: none is written.
  BOOST_CHECK((write(w, {1, 2}, test::piece_of(bytes, 1))
               == std::vector<uint32_t>{1, 2}));
  BOOST_CHECK(!lib->snapshot().at(0).have.test(1));
}

BOOST_AUTO_TEST_CASE(hands_verified_pieces_to_the_cache_and_no_others) {
  lib->cache = std::make_shared<piece_cache>(8 * test::piece);
  auto w = spawn_writer(m);
  auto bad = test::piece_of(bytes, 1);
  bad[7] ^= 1;
  BOOST_CHECK(!write(w, 1, bad));
  BOOST_CHECK(write(w, 2, test::piece_of(bytes, 2)));
  BOOST_CHECK(write(w, n - 1, test::piece_of(bytes, n - 1))); // the tail
  BOOST_CHECK(!lib->cache->get(m.file_sha256(), 1));
  auto two = lib->cache->get(m.file_sha256(), 2);
  BOOST_REQUIRE(two);
  BOOST_CHECK(*two == test::piece_of(bytes, 2));
  auto tail = lib->cache->get(m.file_sha256(), n - 1);
  BOOST_REQUIRE(tail);
  BOOST_CHECK_EQUAL(tail->size(), 1000u);
  // Written to the disk as well, and marked held.
  BOOST_CHECK(file(part).compare(2 * test::piece, test::piece, bytes,
                                 2 * test::piece, test::piece)
              == 0);
  BOOST_CHECK(lib->snapshot().at(0).have.test(2));
}

BOOST_AUTO_TEST_CASE(checks_the_whole_file_and_renames_it) {
  auto w = spawn_writer(m);
  for (uint32_t i : {4u, 0u, 3u, 1u, 5u, 2u}) // any order
    BOOST_REQUIRE(write(w, i, test::piece_of(bytes, i)));
  auto [path, err] = ask<std::string>(w, finish_atom::value);
  BOOST_REQUIRE_MESSAGE(path, render(err));
  BOOST_CHECK_EQUAL(*path, "/dl/f.bin");
  BOOST_CHECK(file("/dl/f.bin") == bytes);
  BOOST_CHECK_EQUAL(file(part), "<none>");
  BOOST_CHECK_EQUAL(lib->snapshot().at(0).path, "/dl/f.bin");
}

BOOST_AUTO_TEST_CASE(two_writers_share_a_download_and_either_finishes_it) {
  auto shared = std::make_shared<written_set>(bitfield{n});
  auto even = spawn_writer(m, shared);
  auto odd = spawn_writer(m, shared);
  for (uint32_t i = 0; i < n; ++i)
    BOOST_REQUIRE(write(i % 2 ? odd : even, i, test::piece_of(bytes, i)));
  BOOST_CHECK(write(even, 1, test::piece_of(bytes, 1))); // a duplicate
  auto [path, err] = ask<std::string>(odd, finish_atom::value);
  BOOST_REQUIRE_MESSAGE(path, render(err));
  BOOST_CHECK(file("/dl/f.bin") == bytes);
  BOOST_CHECK(lib->snapshot().at(0).have.all());
}

BOOST_AUTO_TEST_CASE(a_piece_written_by_one_writer_does_not_finish_another) {
  auto mine = spawn_writer(m);  // a writer with its own set
  auto other = spawn_writer(m, std::make_shared<written_set>(bitfield{n}));
  for (uint32_t i = 0; i < n; ++i)
    BOOST_REQUIRE(write(mine, i, test::piece_of(bytes, i)));
  auto [path, err] = ask<std::string>(other, finish_atom::value);
  BOOST_CHECK(!path);
  BOOST_CHECK(is(err, errc::io_failure));
}

BOOST_AUTO_TEST_CASE(finish_without_every_piece_fails) {
  auto w = spawn_writer(m);
  BOOST_REQUIRE(write(w, 0, test::piece_of(bytes, 0)));
  auto [path, err] = ask<std::string>(w, finish_atom::value);
  BOOST_CHECK(!path);
  BOOST_CHECK(is(err, errc::io_failure));
  BOOST_CHECK_EQUAL(file("/dl/f.bin"), "<none>");
}

BOOST_AUTO_TEST_SUITE_END()
