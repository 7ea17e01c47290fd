// How a file published to the mirrors splits into parts: whole pieces,
// `pieces_per_part` of them per part (the last part may be shorter).
#pragma once

#include <algorithm>
#include <cstdint>

#include "actors/core/manifest.hpp"

namespace actorrent {

struct part_layout {
  uint32_t pieces = 0;
  uint32_t pieces_per_part = 1;

  part_layout() = default;
  /// `part_size` is rounded down to whole pieces (at least one).
  part_layout(const pb::Manifest& m, uint64_t part_size)
    : pieces(static_cast<uint32_t>(m.piece_sha256_size())),
      pieces_per_part(static_cast<uint32_t>(std::max<uint64_t>(
        1, m.piece_size() == 0 ? 1 : part_size / m.piece_size()))) {}

  uint32_t parts() const {
    return (pieces + pieces_per_part - 1) / pieces_per_part;
  }
  uint32_t first(uint32_t part) const { return part * pieces_per_part; }
  uint32_t end(uint32_t part) const {
    return std::min(pieces, (part + 1) * pieces_per_part);
  }
  uint32_t part_of(uint32_t piece) const { return piece / pieces_per_part; }
  /// The part size as stored: whole pieces.
  uint64_t part_size(const pb::Manifest& m) const {
    return uint64_t{pieces_per_part} * m.piece_size();
  }
  /// Bytes of one part.
  uint64_t bytes(const pb::Manifest& m, uint32_t part) const {
    uint64_t from = uint64_t{first(part)} * m.piece_size();
    uint64_t to = std::min<uint64_t>(m.size(),
                                     uint64_t{end(part)} * m.piece_size());
    return to > from ? to - from : 0;
  }
};

} // namespace actorrent
