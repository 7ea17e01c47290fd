// Random bytes for keys and session tokens, behind one seam: the system's
// cryptographic generator in a node, a seeded one in tests and simulations
// (where a run must replay exactly; never for real keys).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace actorrent {

/// Fills `n` bytes at `out` with random bytes.
using random_source = std::function<void(char* out, size_t n)>;

/// libsodium's randombytes_buf.
random_source system_random();

/// A deterministic stream from `seed` (not for real keys).
random_source seeded_random(uint64_t seed);

} // namespace actorrent
