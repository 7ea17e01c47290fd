// Placement (tracker node, supervised): which mirror holds which part. Mirrors
// register with what they hold and send heartbeats; each part's mirrors are
// the first `replicas` live ones in its weighted rendezvous order (weights:
// capacities), so a mirror joining or leaving moves only the parts it gains
// or loses. Placement records which mirror actually holds which part, in its
// store (so it survives a restart), declares a mirror dead after
// `dead_after` without heartbeats and then re-replicates: every part below
// `replicas` live holders is copied by the next mirror of its rendezvous
// order from a live holder, at most `max_copies_per_mirror` copies to one
// mirror at once. Replicas beyond `replicas` (a dead mirror came back) are
// trimmed. Replicas of a part go to distinct mirror nodes first (a node is
// a failure domain), then, with fewer nodes than replicas, to the next
// mirrors in rendezvous order. Blocks on its database: spawned with
// spawn_blocking.
//
// Mirror health (transitions are logged):
//   (restart) -> joining      known from the store, not registered yet;
//                             counted as holding its parts for dead_after
//   joining/dead -> alive     registers
//   alive -> suspect          its connection went down (or it exited)
//   suspect -> alive          registers again (its heartbeats are refused
//                             until it does)
//   joining/alive/suspect -> dead   silent for dead_after
//   joining/suspect/dead -> elsewhere   (several trackers on one PostgreSQL
//                             database) registered with another tracker,
//                             whose placement records it alive in the
//                             database; its parts count and it is handed
//                             out as a source, but this placement sends it
//                             no copies (it holds no handle of it)
//   elsewhere -> alive        registers here
//   elsewhere -> dead         its record in the database is older than
//                             dead_after
//
// On a shared database every placement records its alive mirrors in the
// database at each check and reads the others'; only the placement a
// mirror registered with copies to it or trims it. Any tracker answers
// `placement` and a file's mirror sources.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/interfaces.hpp"
#include "actors/placement/parts.hpp"
#include "actors/store/placement_store.hpp"

namespace actorrent {

struct placement_options {
  std::string db;
  uint32_t replicas = 5;
  uint64_t part_size = uint64_t{64} << 20;
  std::chrono::milliseconds dead_after{3000};
  uint32_t max_copies_per_mirror = 2;
  /// This tracker among those sharing a database (its host:port).
  std::string id = "tracker";
};

enum class mirror_health { joining, alive, suspect, dead, elsewhere };
const char* to_string(mirror_health x);

struct placed_mirror {
  pb::MirrorAddress address;
  uint64_t capacity = 0;
  uint64_t bytes_stored = 0;
  mirror_health health = mirror_health::joining;
  caf::actor_clock::time_point last_seen;
  mirror_actor handle;
  uint32_t copies_in = 0;   // copies to it in flight
  uint64_t bytes_incoming = 0;  // their bytes: counted against its capacity
};

struct placed_part {
  std::set<std::string> holders;  // mirrors that stored it (live or not)
  std::set<std::string> copying;  // copies to these mirrors in flight
  /// Targets whose copy failed, and when: skipped for a while.
  std::map<std::string, caf::actor_clock::time_point> failed;
  std::string problem;            // why it is short of replicas
  std::string last_failure;       // the last failed copy, until one works
};

struct placed_file {
  pb::Manifest manifest;
  part_layout layout;
  std::vector<placed_part> parts;
};

struct part_copy_record {
  std::string file_sha256;
  uint32_t part = 0;
  std::string to;
  uint64_t bytes = 0;
  caf::actor_clock::time_point started;
  uint64_t publish = 0;  // the publish it belongs to; 0: a repair
};

struct publish_job {
  std::string file_sha256;
  pb::MirrorAddress source;
  size_t pending = 0;
  caf::typed_response_promise<pb::PlaceReply> rp;
};

/// A part on a mirror: (mirror id, raw file SHA-256, part).
using check_key = std::tuple<std::string, std::string, uint32_t>;

struct placement_state {
  using pointer = placement_local_actor::stateful_pointer<placement_state>;
  explicit placement_state(pointer self) : self(self) {}
  ~placement_state();

  pointer self;
  placement_options opts;
  std::unique_ptr<placement_store> store;
  std::map<std::string, placed_mirror> mirrors;
  std::map<std::string, placed_file> files;  // by raw file SHA-256
  std::map<uint64_t, part_copy_record> copies;
  std::map<uint64_t, publish_job> publishes;
  uint64_t next_id = 0;
  // re-replication throughput
  uint64_t repaired_bytes = 0;
  caf::actor_clock::time_point repair_since;
  bool repairing = false;
  uint64_t copies_made = 0;  // part copies stored, publishes and repairs
  /// Parts a mirror was asked to check after a peer's report, and when.
  std::map<check_key, caf::actor_clock::time_point> checked;
  uint32_t checks_running = 0;
  /// Checks each reporting peer started in its current minute, and when
  /// that minute began.
  std::map<std::string, std::pair<uint32_t, caf::actor_clock::time_point>>
    checks_by_reporter;

  /// Opens the store and loads what it holds; false with `why` otherwise.
  bool init(placement_options o, std::string& why);
  /// Adds the files of `rec` not known yet, with their replicas.
  void learn_files(const placement_record& rec);
  /// Reads the files from the store again when a registering mirror holds
  /// parts of a file not known here (published through another tracker).
  void learn_unknown_files(const pb::MirrorHello& h);

  caf::result<caf::ok_atom> register_mirror(const pb::MirrorHello& h);
  caf::result<caf::ok_atom> heartbeat(const pb::MirrorBeat& b);
  caf::result<pb::PlaceReply> place(const pb::PlaceFile& f);
  pb::PlacementStatus status() const;
  void corrupt(const pb::PartRef& ref);
  /// A peer's report of a bad piece from a mirror: that mirror checks the
  /// part (never trusted on the reporter's word).
  caf::result<caf::ok_atom> verify(const pb::BadPieceReport& r);
  /// A mirror no longer holds a part: forgotten, and copied again.
  void lose_replica(const std::string& sha, uint32_t part,
                    const std::string& mirror, const std::string& why);
  pb::FileInfo sources(const std::string& file_sha256) const;
  /// Timer: dead mirrors, re-replication, trimming.
  void check();
  /// Shared database: records the mirrors alive here, learns those alive
  /// at other trackers (with their parts and files).
  void share_liveness();
  void on_down(const caf::down_msg& dm);

  // -- helpers ------------------------------------------------------------------
  void set_health(placed_mirror& m, mirror_health to, const std::string& why);
  /// Not declared dead: its replicas still count.
  bool counts(const std::string& id) const;
  /// Registered and heard from: may serve and receive copies.
  bool usable(const std::string& id) const;
  std::vector<std::string> order(const std::string& sha, uint32_t part) const;
  size_t live_holders(const placed_part& p) const;
  /// Holders alive now (trimming counts only these).
  size_t usable_holders(const placed_part& p) const;
  bool failed_recently(const placed_part& p, const std::string& id) const;
  bool publishing(const std::string& sha) const;
  /// A mirror's node (host:port): replicas of a part spread over nodes.
  std::string node_of(const std::string& id) const;
  /// Some live mirror has fewer copies coming in than the limit.
  bool copy_slots_left() const;
  /// Starts copies for a part short of replicas; `publish` ties them to a
  /// publish. Returns how many started.
  size_t replicate(const std::string& sha, uint32_t part, uint64_t publish,
                   const pb::MirrorAddress* extra_source);
  void on_copied(uint64_t id, const pb::PartStored& s);
  void on_copy_failed(uint64_t id, const std::string& why);
  void end_copy(uint64_t id);
  /// Drops replicas beyond opts.replicas.
  void trim(const std::string& sha, uint32_t part);
  pb::PlaceReply place_reply(const std::string& sha) const;
  /// One part: its live holders and why it is short (if it is).
  pb::PartPlacement describe(const std::string& sha, const placed_file& f,
                             uint32_t part) const;
  void settle(uint64_t publish);

  static inline const char* name = "placement";
};

placement_local_actor::behavior_type
placement(placement_state::pointer self, placement_options opts);

} // namespace actorrent
