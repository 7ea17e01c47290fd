// The simulation's generated file contents: any slice of a file is the same
// bytes however it is cut, and a write is checked against them exactly.
#define BOOST_TEST_MODULE sim_io
#include <boost/test/unit_test.hpp>

#include <string>

#include "simulations/sim/sim_io.hpp"

using actorrent::sim::generate;
using actorrent::sim::matches_generated;

BOOST_AUTO_TEST_CASE(slices_at_any_offset_agree_with_the_whole) {
  std::string whole(1000, '\0');
  generate(7, "file-0", 0, whole.data(), whole.size());
  for (size_t off : {0, 1, 7, 8, 9, 15, 333})
    for (size_t len : {0, 1, 5, 8, 13, 64, 200}) {
      std::string part(len, '\0');
      generate(7, "file-0", off, part.data(), len);
      BOOST_TEST(part == whole.substr(off, len), "offset " << off << " length " << len);
      BOOST_TEST(matches_generated(7, "file-0", off, part.data(), len));
    }
  std::string other(1000, '\0');
  generate(8, "file-0", 0, other.data(), other.size());
  BOOST_TEST(other != whole);
  generate(7, "file-1", 0, other.data(), other.size());
  BOOST_TEST(other != whole);
}

BOOST_AUTO_TEST_CASE(one_changed_byte_anywhere_is_a_mismatch) {
  std::string bytes(100, '\0');
  generate(7, "file-0", 3, bytes.data(), bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    BOOST_TEST(!matches_generated(7, "file-0", 3, bad.data(), bad.size()), "byte " << i);
  }
  BOOST_TEST(!matches_generated(7, "file-0", 4, bytes.data(), bytes.size()));
}
