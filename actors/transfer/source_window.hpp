// How many piece requests one source gets at once, sized to what it
// delivers: additive increase, multiplicative decrease (as TCP's congestion
// window). Each reply adds 1/size, so a whole window of replies adds one
// request; a busy reply or a timeout halves it. It stays between 1 and the
// configured `peer.window`, and starts at the configured window (a source
// that keeps up is never slowed down).
#pragma once

#include <algorithm>
#include <cstdint>

namespace actorrent {

struct source_window {
  double size;
  uint32_t max;

  explicit source_window(uint32_t configured = 8)
    : size(std::max<uint32_t>(configured, 1)),
      max(std::max<uint32_t>(configured, 1)) {}

  /// Requests the source may have in flight now.
  uint32_t limit() const { return static_cast<uint32_t>(size); }

  /// A piece arrived.
  void on_reply() { size = std::min<double>(max, size + 1.0 / size); }

  /// The source answered busy or a request timed out.
  void on_overload() { size = std::max(1.0, size / 2); }
};

} // namespace actorrent
