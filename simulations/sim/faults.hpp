// The fault schedule of a scenario: "WHEN ACTION ARGS", e.g.
//   "5s kill mirror-3"            abnormal exit; the supervisor restarts it
//   "5s kill-hard mirror-3"       ends it for good
//   "5s restart client-7"         ends it and starts it again at once
//   "5s crash-loop tracker 100 8" kill every 100 ms, 8 times (the supervisor
//                                 gives up after 5 restarts in 10 s)
//   "5s hang mirror-3"            stops answering, keeps its connections
//                                 (until `heal`)
//   "5s slow client-2 0.1"        bandwidth times 0.1
//   "5s corrupt mirror-4"         serves pieces that fail their SHA-256
//   "5s partition mirror-1,mirror-2 / tracker"   the two sets cannot talk
//   "9s heal"                     ends every partition and hang
// WHEN is a virtual time (5s, 1500ms), a time after the downloading clients
// begin to arrive (+2s: after the publish to the mirrors, if any) or a
// condition: client-3@50% (when client 3 has half of its pieces). Targets: tracker, mirror-N, client-N,
// random-mirror, random-client (chosen from the seed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/timespan.hpp>

namespace actorrent::sim {

struct fault {
  std::string text;            // as written
  // when
  caf::timespan at{0};
  bool after_arrivals = false; // +5s: counted from the first arrival of a
                               // downloading client (after the publish)
  std::string when_client;     // condition: this client ...
  double when_percent = 0;     // ... has this share of its pieces
  // what
  std::string action;          // kill, kill-hard, restart, crash-loop, hang,
                               // slow, corrupt, partition, heal
  std::vector<std::string> targets;  // partition: side a
  std::vector<std::string> side_b;   // partition: side b
  double factor = 1;           // slow
  uint32_t every_ms = 0;       // crash-loop
  uint32_t times = 0;          // crash-loop
  // what happened (filled by the harness)
  bool injected = false;
  caf::timespan injected_at{-1};
  caf::timespan detected_at{-1};   // see the report for each kind
  caf::timespan recovered_at{-1};
  std::string outcome;
  uint32_t restarts_before = 0;    // the target's restarts at injection
  uint64_t served_before = 0;      // corrupt: bytes it had served
};

/// Parses one entry; "" or what is wrong with it.
std::string parse_fault(const std::string& text, fault& out);

/// Parses a duration: 5s, 1500ms, 2m; false when malformed.
bool parse_duration(const std::string& text, caf::timespan& out);

/// The kind of a target: tracker, mirror, client; "" when malformed.
std::string target_kind(const std::string& target);

} // namespace actorrent::sim
