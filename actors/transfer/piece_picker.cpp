#include "actors/transfer/piece_picker.hpp"

#include <algorithm>

namespace actorrent {

piece_picker::piece_picker(bitfield have, uint64_t seed)
  : have_(std::move(have)), avail_(have_.size(), 0),
    have_flag_(have_.size(), 0), flying_(have_.size(), 0),
    first_request_(have_.size()), rng_(seed) {
  for (uint32_t p = 0; p < have_.size(); ++p)
    have_flag_[p] = have_.test(p) ? 1 : 0;
}

void piece_picker::set_source(const source_id& id, const bitfield& holds) {
  bitfield b{have_.size(), holds.bytes()};
  auto& cur = sources_[id];
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
  auto i = sources_.find(id);
  if (i == sources_.end())
    return lost;
  for (uint32_t p = 0; p < have_.size(); ++p)
    if (i->second.test(p))
      --avail_[p];
  sources_.erase(i);
  for (auto j = in_flight_.begin(); j != in_flight_.end();) {
    if (j->second.erase(id) > 0) {
      lost.push_back(j->first);
      settle(id);
    }
    if (j->second.empty()) {
      flying_[j->first] = 0;
      j = in_flight_.erase(j);
    }
    else
      ++j;
  }
  return lost;
}

std::optional<uint32_t> piece_picker::pick(const source_id& id,
                                           time_point now) {
  auto si = sources_.find(id);
  if (si == sources_.end())
    return std::nullopt;
  auto& holds = si->second;
  // Rarest first among pieces nobody fetches yet. Ties are broken at random
  // among all tied pieces, so that downloaders starting together fetch
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
      if (std::uniform_int_distribution<uint64_t>{0, ties++}(rng_) == 0)
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
           > std::min(sources_.size(), endgame_pieces))
    return std::nullopt;
  size_t fewest = max_duplicates;
  for (auto& [p, ids] : in_flight_) {
    if (!holds.test(p) || ids.count(id) > 0 || ids.size() >= fewest
        || now - first_request_[p] < endgame_delay)
      continue;
    fewest = ids.size();
    best = p;
  }
  return best;
}

void piece_picker::requested(uint32_t piece, const source_id& id,
                             time_point now) {
  if (piece >= flying_.size())
    return;
  auto& ids = in_flight_[piece];
  if (ids.empty()) {
    first_request_[piece] = now;
    flying_[piece] = 1;
  }
  if (ids.insert(id).second) {
    ++per_source_[id];
    ++in_flight_total_;
  }
}

size_t piece_picker::requested_before(time_point t) const {
  size_t n = 0;
  for (auto& kvp : in_flight_)
    if (first_request_[kvp.first] < t)
      ++n;
  return n;
}

void piece_picker::settle(const source_id& id, size_t n) {
  auto i = per_source_.find(id);
  if (i == per_source_.end())
    return;
  n = std::min(n, i->second);
  in_flight_total_ -= n;
  if ((i->second -= n) == 0)
    per_source_.erase(i);
}

void piece_picker::failed(uint32_t piece, const source_id& id) {
  auto i = in_flight_.find(piece);
  if (i == in_flight_.end())
    return;
  if (i->second.erase(id) > 0)
    settle(id);
  if (i->second.empty()) {
    flying_[piece] = 0;
    in_flight_.erase(i);
  }
}

std::vector<piece_picker::source_id> piece_picker::done(uint32_t piece) {
  if (piece >= have_flag_.size())
    return {};
  have_.set(piece);
  have_flag_[piece] = 1;
  std::vector<source_id> others;
  if (auto i = in_flight_.find(piece); i != in_flight_.end()) {
    others.assign(i->second.begin(), i->second.end());
    for (auto& id : others)
      settle(id);
    flying_[piece] = 0;
    in_flight_.erase(i);
  }
  return others;
}

size_t piece_picker::in_flight(const source_id& id) const {
  auto i = per_source_.find(id);
  return i == per_source_.end() ? 0 : i->second;
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
              <= std::min(sources_.size(), endgame_pieces);
}

bool piece_picker::endgame() const {
  // Only missing pieces are in flight (done() ends a piece's requests).
  return !complete() && in_flight_.size() == have_.size() - have_.count();
}

std::vector<uint32_t> piece_picker::unavailable() const {
  std::vector<uint32_t> out;
  for (uint32_t p = 0; p < have_.size(); ++p)
    if (!have_flag_[p] && avail_[p] == 0)
      out.push_back(p);
  return out;
}

} // namespace actorrent
