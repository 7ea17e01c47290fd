#include "actors/transfer/piece_picker.hpp"

#include <algorithm>

namespace actorrent {

piece_picker::piece_picker(bitfield have, uint64_t seed)
  : have_(std::move(have)), avail_(have_.size(), 0),
    have_flag_(have_.size(), 0), flying_(have_.size(), 0),
    at_(have_.size()), first_request_(have_.size()), rng_(seed) {
  for (uint32_t p = 0; p < have_.size(); ++p)
    have_flag_[p] = have_.test(p) ? 1 : 0;
}

uint32_t piece_picker::find(const source_id& id) const {
  auto i = ids_.find(id);
  return i == ids_.end() ? none : i->second;
}

void piece_picker::set_source(const source_id& id, const bitfield& holds) {
  bitfield b{have_.size(), holds.bytes()};
  auto [i, added] = ids_.try_emplace(id, none);
  if (added) {
    if (unused_.empty()) {
      i->second = static_cast<uint32_t>(sources_.size());
      sources_.emplace_back();
    } else {
      i->second = unused_.back();
      unused_.pop_back();
    }
    auto& s = sources_[i->second];
    s.name = id;
    s.holds = bitfield{have_.size()};
  }
  auto& cur = sources_[i->second].holds;
  for (uint32_t p = 0; p < have_.size(); ++p) {
    if (cur.test(p))
      --avail_[p];
    if (b.test(p))
      ++avail_[p];
  }
  cur = std::move(b);
}

std::vector<uint32_t> piece_picker::remove_source(const source_id& id) {
  std::vector<uint32_t> lost;
  auto s = find(id);
  if (s == none)
    return lost;
  auto& src = sources_[s];
  for (uint32_t p = 0; p < have_.size(); ++p) {
    if (src.holds.test(p))
      --avail_[p];
    if (!flying_[p])
      continue;
    auto& at = at_[p];
    if (auto j = std::find(at.begin(), at.end(), s); j != at.end()) {
      at.erase(j);
      lost.push_back(p);
      settle(s);
      if (at.empty())
        land(p);
    }
  }
  ids_.erase(id);
  src = source{};
  unused_.push_back(s);
  return lost;
}

std::optional<uint32_t> piece_picker::pick(const source_id& id,
                                           time_point now) {
  auto s = find(id);
  if (s == none)
    return std::nullopt;
  auto& holds = sources_[s].holds;
  // Rarest first among pieces nobody fetches yet. Ties are broken at random
  // among all tied pieces (the k-th tie replaces the choice with
  // probability 1/k), so that downloaders starting together fetch
  // different pieces and can trade them at once.
  std::optional<uint32_t> best;
  uint32_t best_avail = 0;
  uint64_t ties = 0;
  for (uint32_t p = 0; p < have_.size(); ++p) {
    if (have_flag_[p] || flying_[p] || !holds.test(p))
      continue;
    if (!best || avail_[p] < best_avail) {
      best = p;
      best_avail = avail_[p];
      ties = 1;
    } else if (avail_[p] == best_avail) {
      ++ties;
      // A uniform draw in [0, ties) by multiply and shift (no division).
      auto draw = static_cast<uint64_t>(
        (static_cast<unsigned __int128>(rng_()) * ties) >> 64);
      if (draw == 0)
        best = p;
    }
  }
  if (best)
    return best;
  // Endgame: every missing piece any source holds is in flight. Duplicate
  // the one with the fewest requests so a slow source cannot hold up the
  // end of the download. Not before: a source that holds only part of the
  // file (a mirror holds a few parts) would otherwise duplicate its pieces
  // while the rest of the file still waits to be asked for.
  // And only for the last pieces (no more than there are sources): with
  // many sources the windows together may hold half the file, and
  // duplicating all of it would fetch it twice.
  if (fresh_pieces_left()
      || have_.size() - have_.count()
           > std::min(ids_.size(), endgame_pieces))
    return std::nullopt;
  size_t fewest = max_duplicates;
  for (uint32_t p = 0; p < have_.size(); ++p) {
    if (!flying_[p])
      continue;
    auto& at = at_[p];
    if (!holds.test(p) || at.size() >= fewest
        || std::find(at.begin(), at.end(), s) != at.end()
        || now - first_request_[p] < endgame_delay)
      continue;
    fewest = at.size();
    best = p;
  }
  return best;
}

void piece_picker::requested(uint32_t piece, const source_id& id,
                             time_point now) {
  auto s = find(id);
  if (piece >= flying_.size() || s == none)
    return;
  auto& at = at_[piece];
  if (at.empty()) {
    first_request_[piece] = now;
    flying_[piece] = 1;
    ++pieces_in_flight_;
  }
  if (std::find(at.begin(), at.end(), s) == at.end()) {
    at.push_back(s);
    ++sources_[s].in_flight;
    ++in_flight_total_;
  }
}

size_t piece_picker::requested_before(time_point t) const {
  size_t n = 0;
  for (uint32_t p = 0; p < have_.size(); ++p)
    if (flying_[p] && first_request_[p] < t)
      ++n;
  return n;
}

void piece_picker::settle(uint32_t s) {
  auto& src = sources_[s];
  if (src.in_flight == 0)
    return;
  --src.in_flight;
  --in_flight_total_;
}

void piece_picker::land(uint32_t p) {
  at_[p].clear();
  flying_[p] = 0;
  --pieces_in_flight_;
}

void piece_picker::failed(uint32_t piece, const source_id& id) {
  auto s = find(id);
  if (piece >= flying_.size() || !flying_[piece] || s == none)
    return;
  auto& at = at_[piece];
  if (auto j = std::find(at.begin(), at.end(), s); j != at.end()) {
    at.erase(j);
    settle(s);
  }
  if (at.empty())
    land(piece);
}

std::vector<piece_picker::source_id> piece_picker::done(uint32_t piece) {
  if (piece >= have_flag_.size())
    return {};
  have_.set(piece);
  have_flag_[piece] = 1;
  std::vector<source_id> others;
  if (flying_[piece]) {
    for (auto s : at_[piece]) {
      others.push_back(sources_[s].name);
      settle(s);
    }
    land(piece);
  }
  return others;
}

size_t piece_picker::in_flight(const source_id& id) const {
  auto s = find(id);
  return s == none ? 0 : sources_[s].in_flight;
}

bool piece_picker::fresh_pieces_left() const {
  for (uint32_t p = 0; p < have_.size(); ++p)
    if (!have_flag_[p] && avail_[p] > 0 && !flying_[p])
      return true;
  return false;
}

bool piece_picker::can_pick() const {
  if (complete())
    return false;
  return fresh_pieces_left()
         || have_.size() - have_.count()
              <= std::min(ids_.size(), endgame_pieces);
}

bool piece_picker::endgame() const {
  // Only missing pieces are in flight (done() ends a piece's requests).
  return !complete() && pieces_in_flight_ == have_.size() - have_.count();
}

std::vector<uint32_t> piece_picker::unavailable() const {
  std::vector<uint32_t> out;
  for (uint32_t p = 0; p < have_.size(); ++p)
    if (!have_flag_[p] && avail_[p] == 0)
      out.push_back(p);
  return out;
}

} // namespace actorrent
