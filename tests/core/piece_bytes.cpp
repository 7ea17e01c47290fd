// Piece bytes: CAF round trip without zero-filling, the size bound checked
// before allocating, pooled 4 KiB-aligned blocks, and the disk's O_DIRECT
// write and read paths for whole aligned pieces beside the buffered ones;
// read-only views of a shared block and the piece cache that hands them out.
#define BOOST_TEST_MODULE piece_bytes
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "actors/core/file_io.hpp"
#include "actors/core/piece_cache.hpp"
#include "actors/types.hpp"
#include "tests/fixtures.hpp"

using namespace actorrent;

namespace {

piece_bytes pattern(size_t n, char seed) {
  piece_bytes out(n);
  for (size_t i = 0; i < n; ++i)
    out[i] = static_cast<char>(seed + i * 7);
  return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(round_trip_through_caf) {
  auto x = pattern((1 << 20) + 13, 'a');
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  BOOST_REQUIRE(!sink(x));
  piece_bytes y;
  caf::binary_deserializer source{nullptr, buf};
  BOOST_REQUIRE(!source(y));
  BOOST_CHECK(x == y);
  BOOST_CHECK_EQUAL(y.size(), (1u << 20) + 13);
  // An empty one, too.
  std::vector<char> buf2;
  caf::binary_serializer sink2{nullptr, buf2};
  piece_bytes empty, back = pattern(10, 'z');
  BOOST_REQUIRE(!sink2(empty));
  caf::binary_deserializer source2{nullptr, buf2};
  BOOST_REQUIRE(!source2(back));
  BOOST_CHECK_EQUAL(back.size(), 0u);
}

BOOST_AUTO_TEST_CASE(oversized_length_refused_before_allocating) {
  // Only a length prefix announcing 16 MiB + 1 byte, no payload: refused as
  // too large (invalid_argument), not read until the input runs out.
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  size_t n = piece_bytes::max_size + 1;
  BOOST_REQUIRE(!sink.begin_sequence(n));
  auto before = piece_pool_stats().allocated;
  piece_bytes y;
  caf::binary_deserializer source{nullptr, buf};
  auto err = source(y);
  BOOST_CHECK(err == caf::sec::invalid_argument);
  BOOST_CHECK_EQUAL(y.size(), 0u);
  BOOST_CHECK_EQUAL(piece_pool_stats().allocated, before);
  // Exactly the bound is accepted (and then runs out of input).
  std::vector<char> buf2;
  caf::binary_serializer sink2{nullptr, buf2};
  n = piece_bytes::max_size;
  BOOST_REQUIRE(!sink2.begin_sequence(n));
  caf::binary_deserializer source2{nullptr, buf2};
  BOOST_CHECK(source2(y) != caf::sec::invalid_argument);
}

BOOST_AUTO_TEST_CASE(blocks_are_aligned_and_reused) {
  const char* first = nullptr;
  {
    piece_bytes a(1 << 20);
    first = a.data();
    BOOST_CHECK_EQUAL(reinterpret_cast<uintptr_t>(a.data()) % 4096, 0u);
  }
  auto before = piece_pool_stats();
  piece_bytes b(1 << 20);
  BOOST_CHECK(b.data() == first); // the same block, back from the pool
  BOOST_CHECK_EQUAL(piece_pool_stats().reused, before.reused + 1);
  BOOST_CHECK_EQUAL(piece_pool_stats().allocated, before.allocated);
  // A copy is deep; a move takes the block.
  auto c = pattern(5000, 'q');
  auto d = c;
  BOOST_CHECK(c == d);
  BOOST_CHECK(c.data() != d.data());
  d[0] = 'X';
  BOOST_CHECK(!(c == d));
  auto e = std::move(c);
  BOOST_CHECK_EQUAL(c.size(), 0u);
  BOOST_CHECK_EQUAL(e.size(), 5000u);
  BOOST_CHECK_EQUAL(reinterpret_cast<uintptr_t>(e.data()) % 4096, 0u);
}

BOOST_AUTO_TEST_CASE(disk_writes_whole_pieces_directly_and_tails_buffered) {
  test::temp_dir dir;
  auto io = make_disk_io();
  auto path = dir.path + "/.f.part";
  const size_t piece = 1 << 20, tail = 1000;
  BOOST_REQUIRE_EQUAL(io->allocate(path, 2 * piece + tail), "");
  auto p0 = pattern(piece, 'a'), p1 = pattern(piece, 'b'),
       p2 = pattern(tail, 'c');
  // Out of order, as pieces arrive; the tail is not a whole block.
  BOOST_CHECK_EQUAL(io->write(path, 2 * piece, p2.data(), p2.size()), "");
  BOOST_CHECK_EQUAL(io->write(path, piece, p1.data(), p1.size()), "");
  BOOST_CHECK_EQUAL(io->write(path, 0, p0.data(), p0.size()), "");
  // Read back through the buffered reader and through the file itself.
  piece_bytes back(piece);
  BOOST_CHECK_EQUAL(io->read(path, piece, back.data(), piece), "");
  BOOST_CHECK(back == p1);
  std::ifstream in(path, std::ios::binary);
  std::string all{std::istreambuf_iterator<char>(in), {}};
  BOOST_REQUIRE_EQUAL(all.size(), 2 * piece + tail);
  BOOST_CHECK(std::memcmp(all.data(), p0.data(), piece) == 0);
  BOOST_CHECK(std::memcmp(all.data() + piece, p1.data(), piece) == 0);
  BOOST_CHECK(std::memcmp(all.data() + 2 * piece, p2.data(), tail) == 0);
  // Rewriting a piece read before (now in the page cache) is seen by the
  // next read.
  auto p1b = pattern(piece, 'x');
  BOOST_CHECK_EQUAL(io->write(path, piece, p1b.data(), p1b.size()), "");
  BOOST_CHECK_EQUAL(io->read(path, piece, back.data(), piece), "");
  BOOST_CHECK(back == p1b);
}

// Pages of the first `len` bytes of `path` in the page cache.
static long cached_pages(const std::string& path, size_t len) {
  int fd = ::open(path.c_str(), O_RDONLY);
  BOOST_REQUIRE(fd >= 0);
  void* m = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
  BOOST_REQUIRE(m != MAP_FAILED);
  std::vector<unsigned char> in(len / 4096);
  BOOST_REQUIRE(::mincore(m, len, in.data()) == 0);
  ::munmap(m, len);
  ::close(fd);
  return std::count_if(in.begin(), in.end(),
                       [](unsigned char c) { return c & 1; });
}

BOOST_AUTO_TEST_CASE(without_direct_writes_pieces_stay_in_the_page_cache) {
  // peer.direct-writes=false: a whole piece is written through the page
  // cache (the kernel writes it back later) and stays there for serving;
  // with O_DIRECT none of it is cached.
  test::temp_dir dir;
  const size_t piece = 1 << 20;
  auto p0 = pattern(piece, 'a');
  for (bool direct : {false, true}) {
    auto io = make_disk_io(direct);
    auto path = dir.path + (direct ? "/.d.part" : "/.b.part");
    BOOST_REQUIRE_EQUAL(io->allocate(path, piece), "");
    BOOST_REQUIRE_EQUAL(io->write(path, 0, p0.data(), p0.size()), "");
    int probe = ::open(path.c_str(), O_RDONLY | O_DIRECT);
    bool has_direct = probe >= 0;
    if (probe >= 0)
      ::close(probe);
    if (!direct)
      BOOST_CHECK_EQUAL(cached_pages(path, piece), 256);
    else if (has_direct) // (a file system without O_DIRECT caches anyway)
      BOOST_CHECK_EQUAL(cached_pages(path, piece), 0);
    piece_bytes back(piece);
    BOOST_CHECK_EQUAL(io->read(path, 0, back.data(), piece), "");
    BOOST_CHECK(back == p0);
  }
}

BOOST_AUTO_TEST_CASE(write_behind_pushes_pieces_to_the_disk_and_drops_them) {
  // peer.write-behind-mib: a window of 2 MiB. Pieces written into it go
  // through the page cache; the flusher writes them out and drops them
  // from the cache (plain buffered writes stay cached, as above); past the
  // window, writes go with O_DIRECT. The bytes are right throughout.
  test::temp_dir dir;
  const size_t piece = 1 << 20;
  auto path = dir.path + "/.w.part";
  std::vector<piece_bytes> ps;
  for (char c : {'a', 'b', 'c', 'd', 'e', 'f'})
    ps.push_back(pattern(piece, c));
  {
    auto io = make_disk_io(true, 2 * piece);
    BOOST_REQUIRE_EQUAL(io->allocate(path, ps.size() * piece), "");
    for (size_t i = 0; i < 2; ++i)
      BOOST_REQUIRE_EQUAL(io->write(path, i * piece, ps[i].data(), piece), "");
    BOOST_CHECK(test::wait_until(
      [&] { return cached_pages(path, 2 * piece) == 0; },
      std::chrono::seconds(5)));
    // The window has room again; more than it holds, at once.
    for (size_t i = 2; i < ps.size(); ++i)
      BOOST_REQUIRE_EQUAL(io->write(path, i * piece, ps[i].data(), piece), "");
    piece_bytes back(piece);
    for (size_t i = 0; i < ps.size(); ++i) {
      BOOST_CHECK_EQUAL(io->read(path, i * piece, back.data(), piece), "");
      BOOST_CHECK(back == ps[i]);
    }
  } // the flusher ends with the disk, its window written out
  std::ifstream in(path, std::ios::binary);
  std::string all{std::istreambuf_iterator<char>(in), {}};
  BOOST_REQUIRE_EQUAL(all.size(), ps.size() * piece);
  for (size_t i = 0; i < ps.size(); ++i)
    BOOST_CHECK(std::memcmp(all.data() + i * piece, ps[i].data(), piece) == 0);
}

BOOST_AUTO_TEST_CASE(disk_reads_whole_pieces_directly_and_the_rest_buffered) {
  test::temp_dir dir;
  auto io = make_disk_io();
  auto path = dir.path + "/part";
  const size_t piece = 1 << 20, tail = 1000;
  auto p0 = pattern(piece, 'a'), p1 = pattern(piece, 'b'),
       p2 = pattern(tail, 'c');
  {
    // Written through the page cache, not yet on the disk: a direct read
    // must still see these bytes.
    std::ofstream out(path, std::ios::binary);
    out.write(p0.data(), piece).write(p1.data(), piece).write(p2.data(), tail);
  }
  piece_bytes back(piece);
  BOOST_CHECK_EQUAL(io->read_direct(path, piece, back.data(), piece), "");
  BOOST_CHECK(back == p1);
  // A piece written with O_DIRECT, read directly.
  auto p0b = pattern(piece, 'x');
  BOOST_CHECK_EQUAL(io->write(path, 0, p0b.data(), piece), "");
  BOOST_CHECK_EQUAL(io->read_direct(path, 0, back.data(), piece), "");
  BOOST_CHECK(back == p0b);
  // The tail is not a whole block, and a buffer of our own is not
  // aligned: both are read buffered.
  piece_bytes t(tail);
  BOOST_CHECK_EQUAL(io->read_direct(path, 2 * piece, t.data(), tail), "");
  BOOST_CHECK(t == p2);
  std::vector<char> unaligned(piece + 1);
  BOOST_CHECK_EQUAL(io->read_direct(path, piece, unaligned.data() + 1, piece),
                    "");
  BOOST_CHECK(std::memcmp(unaligned.data() + 1, p1.data(), piece) == 0);
  // Past the end and a missing file: an error naming the file.
  auto err = io->read_direct(path, 2 * piece, back.data(), piece);
  BOOST_CHECK_MESSAGE(err.find(path) != std::string::npos, err);
  err = io->read_direct(dir.path + "/none", 0, back.data(), piece);
  BOOST_CHECK_MESSAGE(err.find(dir.path + "/none") != std::string::npos, err);
  // In memory, a direct read is a read.
  memory_io mem;
  mem.put("/m", std::string(p1.data(), piece));
  BOOST_CHECK_EQUAL(mem.read_direct("/m", 0, back.data(), piece), "");
  BOOST_CHECK(back == p1);
}

BOOST_AUTO_TEST_CASE(views_share_a_block_until_the_last_holder_ends) {
  auto block = std::make_shared<const piece_bytes>(pattern(1 << 20, 'v'));
  const char* bytes = block->data();
  auto a = piece_bytes::view(block);
  BOOST_CHECK(a.shared());
  BOOST_CHECK(a.data() == bytes); // no copy
  auto b = a;                     // a view's copy is a view
  BOOST_CHECK(b.data() == bytes);
  BOOST_CHECK(b == *block);
  // Serialized like any piece; the receiver gets bytes of its own.
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  BOOST_REQUIRE(!sink(b));
  piece_bytes c = pattern(16, 'q');
  caf::binary_deserializer source{nullptr, buf};
  BOOST_REQUIRE(!source(c));
  BOOST_CHECK(!c.shared());
  BOOST_CHECK(c == *block);
  // reset() never writes into the shared block.
  b.reset(4096);
  BOOST_CHECK(!b.shared());
  BOOST_CHECK(b.data() != bytes);
  BOOST_CHECK(a == *block);
  block.reset();
  BOOST_CHECK(a.data() == bytes); // still alive: `a` holds it
  BOOST_CHECK_EQUAL(a.size(), 1u << 20);
}

BOOST_AUTO_TEST_CASE(piece_cache_keeps_the_newest_pieces_within_its_bound) {
  piece_cache cache{3 << 20};
  for (uint32_t i = 0; i < 5; ++i)
    cache.put("f", i, pattern(1 << 20, static_cast<char>('a' + i)));
  // Pieces 0 and 1 went (oldest first); 2..4 are served as views.
  BOOST_CHECK(!cache.get("f", 0));
  BOOST_CHECK(!cache.get("f", 1));
  for (uint32_t i = 2; i < 5; ++i) {
    auto hit = cache.get("f", i);
    BOOST_REQUIRE(hit);
    BOOST_CHECK(hit->shared());
    BOOST_CHECK(*hit == pattern(1 << 20, static_cast<char>('a' + i)));
  }
  BOOST_CHECK(!cache.get("other file", 3)); // keyed by the file's SHA-256
  auto s = cache.stats();
  BOOST_CHECK_EQUAL(s.pieces, 3u);
  BOOST_CHECK_EQUAL(s.bytes, size_t{3} << 20);
  BOOST_CHECK_EQUAL(s.hits, 3u);
  BOOST_CHECK_EQUAL(s.misses, 3u);
  // A view outlives its eviction; a piece larger than the bound is not kept.
  auto held = cache.get("f", 2);
  cache.put("f", 9, pattern(1 << 20, 'z'));
  BOOST_CHECK(!cache.get("f", 2));
  BOOST_CHECK(*held == pattern(1 << 20, 'c'));
  cache.put("f", 10, pattern(4 << 20, 'x'));
  BOOST_CHECK(!cache.get("f", 10));
  cache.forget("f");
  BOOST_CHECK_EQUAL(cache.stats().pieces, 0u);
  BOOST_CHECK_EQUAL(cache.stats().bytes, 0u);
}
