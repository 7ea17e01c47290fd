// A mirror's index of the parts it stores, in its own SQLite database (the
// mirror actor is its only owner): the manifest of every file it holds a part
// of, and which parts are stored complete and verified. A part enters the
// index only after every piece of it was checked and written, so a mirror
// killed mid-copy never reports a part it does not have.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "actors/store/sql.hpp"
#include "actors/types.hpp"

namespace actorrent {

struct stored_part {
  std::string file_sha256;  // raw 32 bytes
  uint32_t part = 0;
  uint32_t part_size = 0;
};

class mirror_index {
public:
  /// Opens (creating) the index at `path` (":memory:" in simulations).
  explicit mirror_index(const std::string& path);

  /// Every manifest with the parts stored of it.
  std::map<std::string, pb::Manifest> manifests();
  std::vector<stored_part> parts();
  /// Records a stored part (and its file's manifest).
  void add(const pb::Manifest& m, uint32_t part, uint32_t part_size);
  /// Forgets a part; the manifest goes with its last part.
  void drop(const std::string& file_sha256, uint32_t part);

private:
  sql::database db_;
};

} // namespace actorrent
