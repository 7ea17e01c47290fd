#include "actors/placement/rendezvous.hpp"

#include <algorithm>
#include <cmath>

namespace actorrent {

namespace {

// FNV-1a over the bytes, then splitmix64's finalizer for avalanche.
uint64_t hash64(const std::string& a, const std::string& b) {
  uint64_t h = 1469598103934665603ull;
  auto mix_in = [&](const std::string& s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  mix_in(a);
  h ^= 0xff; // separator: ("ab", "c") and ("a", "bc") differ
  h *= 1099511628211ull;
  mix_in(b);
  h += 0x9e3779b97f4a7c15ull;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

} // namespace

double rendezvous_score(const std::string& key, const std::string& mirror,
                        double weight) {
  // 53 random bits, centred: u is never 0 or 1.
  double u = (static_cast<double>(hash64(key, mirror) >> 11) + 0.5)
             / 9007199254740992.0;
  return weight / -std::log(u);
}

std::vector<std::string>
rendezvous_order(const std::string& key,
                 const std::vector<weighted_mirror>& mirrors) {
  std::vector<std::pair<double, const std::string*>> scored;
  scored.reserve(mirrors.size());
  for (auto& m : mirrors)
    scored.emplace_back(rendezvous_score(key, m.id, m.weight), &m.id);
  std::sort(scored.begin(), scored.end(), [](auto& x, auto& y) {
    return x.first != y.first ? x.first > y.first : *x.second < *y.second;
  });
  std::vector<std::string> out;
  out.reserve(scored.size());
  for (auto& [score, id] : scored)
    out.push_back(*id);
  return out;
}

std::string part_key(const std::string& file_sha256, uint32_t part) {
  return file_sha256 + ":" + std::to_string(part);
}

} // namespace actorrent
