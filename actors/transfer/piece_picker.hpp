// Piece selection for one download: rarest first with random tie-breaks,
// then endgame (request pieces already in flight elsewhere from idle
// sources). Pure logic; the piece fetcher owns one.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/core/manifest.hpp"

namespace actorrent {

class piece_picker {
public:
  using source_id = std::string;

  /// `have`: pieces already verified locally.
  piece_picker(bitfield have, uint64_t seed);

  /// Adds a source or replaces what it holds.
  void set_source(const source_id& id, const bitfield& holds);
  /// Forgets a source; its requests in flight become pickable again.
  /// Returns the pieces that were in flight at it.
  std::vector<uint32_t> remove_source(const source_id& id);

  using time_point = std::chrono::steady_clock::time_point;

  /// Next piece to request from `id`, or nothing when it has none we need.
  /// In endgame, only pieces requested elsewhere at least `endgame_delay`
  /// before `now` are requested a second time.
  std::optional<uint32_t> pick(const source_id& id, time_point now);

  void requested(uint32_t piece, const source_id& id, time_point now);
  /// A request failed or returned a bad piece: `id` no longer has it in flight.
  void failed(uint32_t piece, const source_id& id);
  /// A piece was verified and written; returns sources still fetching it.
  std::vector<source_id> done(uint32_t piece);

  bool have(uint32_t piece) const { return have_.test(piece); }
  const bitfield& have() const { return have_; }
  bool complete() const { return have_.all(); }
  size_t in_flight(const source_id& id) const;
  /// Requests in flight at all sources together (an endgame duplicate
  /// counts once per source).
  size_t in_flight() const { return in_flight_total_; }
  /// Pieces in flight (an endgame duplicate does not count again).
  size_t pieces_in_flight() const { return pieces_in_flight_; }
  /// Pieces in flight first requested before `t`.
  size_t requested_before(time_point t) const;
  /// True while some missing piece that a source holds is not requested.
  bool fresh_pieces_left() const;
  bool endgame() const;
  /// Whether pick() can return a piece for any source now: fresh pieces
  /// left, or the endgame's last pieces (one walk over the pieces, so a
  /// caller asks once, not once per source).
  bool can_pick() const;
  /// Missing pieces that no current source holds.
  std::vector<uint32_t> unavailable() const;
  /// How many sources hold piece i.
  uint32_t availability(uint32_t i) const { return avail_[i]; }

  /// At most this many sources fetch the same piece in endgame.
  static constexpr size_t max_duplicates = 2;
  /// The endgame starts when at most this many pieces are missing (and no
  /// more than there are sources): a few duplicates, not a window's worth.
  static constexpr size_t endgame_pieces = 8;
  std::chrono::milliseconds endgame_delay{500};

private:
  // A source by a small number: the walks and updates per piece compare
  // and copy numbers, not peer ids. A removed source's number is reused.
  struct source {
    std::string name;
    bitfield holds;
    size_t in_flight = 0; // requests in flight at it
  };
  static constexpr uint32_t none = UINT32_MAX;
  uint32_t find(const source_id& id) const;
  /// A request at source `s` ended.
  void settle(uint32_t s);
  /// Piece p is no longer in flight anywhere.
  void land(uint32_t p);

  bitfield have_;
  std::vector<uint32_t> avail_;
  std::unordered_map<source_id, uint32_t> ids_; // one per source there is
  std::vector<source> sources_;    // by number; unused ones have no name
  std::vector<uint32_t> unused_;   // numbers free for reuse
  // Per piece, for the walks over all pieces (every pick and schedule):
  // 1 while the piece is verified / in flight, the sources fetching it (in
  // the order asked; at most max_duplicates unless a caller asks more),
  // and when it was first requested while in flight.
  std::vector<uint8_t> have_flag_;
  std::vector<uint8_t> flying_;
  std::vector<std::vector<uint32_t>> at_;
  std::vector<time_point> first_request_;
  size_t pieces_in_flight_ = 0;
  size_t in_flight_total_ = 0;
  std::mt19937_64 rng_;
};

} // namespace actorrent
