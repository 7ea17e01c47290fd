// How a download paces itself, whatever the number of its sources:
// - `download_window`: the piece requests in flight for the whole download,
//   sized to what its downlink delivers (not per source times sources);
// - `refresh_backoff`: how often the tracker is asked for sources, less
//   often while the sources are good, at once when they run short.
// Pure logic; the piece fetcher owns one of each.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace actorrent {

/// Requests in flight for one download. Starts at two sources' windows (so
/// that one source that does not answer cannot hold up the start) and
/// grows by one per reply (slow start) until the downlink shows it is full:
/// a reply that took more than twice the fastest one seen plus `slack`
/// (requests queue on the way) or a timeout. Then it shrinks (by one on a
/// slow reply, halved on a timeout) and grows by one per window of replies.
/// Always between `floor` (the per-source window) and `max`.
struct download_window {
  using duration = std::chrono::nanoseconds;
  static constexpr auto slack = std::chrono::milliseconds(50);

  uint32_t floor;
  uint32_t max;
  double size;
  bool slow_start = true;
  duration min_rtt = duration::max();

  download_window(uint32_t per_source, uint32_t max_in_flight)
    : floor(std::max<uint32_t>(per_source, 1)),
      max(std::max(max_in_flight, std::max<uint32_t>(per_source, 1))) {
    size = std::min<double>(2 * floor, max);
  }

  uint32_t limit() const { return static_cast<uint32_t>(size); }

  /// A piece arrived `rtt` after it was asked for.
  void on_reply(duration rtt) {
    min_rtt = std::min(min_rtt, rtt);
    if (rtt > 2 * min_rtt + slack) {
      slow_start = false;
      size = std::max<double>(floor, size - 1);
      return;
    }
    size = std::min<double>(max, size + (slow_start ? 1.0 : 1.0 / size));
  }

  /// A request timed out or a source answered busy.
  void on_overload() {
    slow_start = false;
    size = std::max<double>(floor, size / 2);
  }
};

/// When to ask for sources again: every `min` while the download is short
/// of sources or pieces, doubling up to `max` while its sources are good.
struct refresh_backoff {
  using duration = std::chrono::milliseconds;

  duration min;
  duration max;
  duration interval;

  refresh_backoff(duration lo, duration hi)
    : min(lo), max(std::max(lo, hi)), interval(lo) {}

  /// An answer came; returns how long until the next question.
  duration after_answer(bool short_of_sources) {
    if (short_of_sources)
      interval = min;
    else
      interval = std::min(max, interval * 2);
    return interval;
  }

  /// A source was lost or the download stalled: back to the shortest.
  void reset() { interval = min; }
};

} // namespace actorrent
