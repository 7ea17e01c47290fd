#include "actors/core/environment.hpp"

#include <ctime>
#include <random>
#include <string>

namespace actorrent {

environment make_node_environment(caf::actor_system& sys,
                                  guard_options guard) {
  environment env;
  env.io = make_disk_io();
  env.dir = make_middleman_directory(sys, std::move(guard));
  env.blocking = blocking_mode::detached;
  std::random_device rd;
  env.seed = (uint64_t{rd()} << 32) | rd();
  env.unix_time = [] { return static_cast<int64_t>(std::time(nullptr)); };
  env.random = system_random();
  env.streams = true;
  return env;
}

uint64_t derive_seed(uint64_t base, const std::string& name) {
  // FNV-1a over the name, mixed with the base (splitmix64 finalizer).
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : name)
    h = (h ^ c) * 1099511628211ull;
  uint64_t z = base + h + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

} // namespace actorrent
