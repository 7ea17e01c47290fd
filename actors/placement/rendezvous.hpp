// Weighted rendezvous (highest random weight) hashing: every mirror gets a
// score for a key, and the key's replicas go to the highest scores. A mirror
// that joins or leaves changes only the keys where it is among the top R;
// a mirror of twice the weight wins twice as many keys.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace actorrent {

struct weighted_mirror {
  std::string id;
  double weight = 1;  // e.g. its capacity
};

/// The score of `mirror` for `key`: weight / -ln(u), u uniform in (0, 1)
/// from a hash of both (Schindelhauer and Schomaker's logarithmic method).
double rendezvous_score(const std::string& key, const std::string& mirror,
                        double weight);

/// The mirrors' ids from the highest score for `key` to the lowest (ties by
/// id, so the order is total).
std::vector<std::string>
rendezvous_order(const std::string& key,
                 const std::vector<weighted_mirror>& mirrors);

/// The key of one part of a file.
std::string part_key(const std::string& file_sha256, uint32_t part);

} // namespace actorrent
