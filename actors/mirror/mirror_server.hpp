// One mirror server. It stores the parts placement puts on it (a file per
// part under its data directory, an index in its own SQLite database),
// serves their pieces with the piece server's interface (so a download uses
// mirrors and peers alike), copies parts from other mirrors or a publisher
// when placement asks (every piece checked against the manifest's SHA-256
// before it is written; the part is acknowledged only when whole), and
// scrubs its data: a piece that no longer matches is reported to placement,
// which copies the part again from a good replica. Placement may also ask
// it to check one part at once (a downloader reported a bad piece). Blocks
// on disk and SQLite: spawned with spawn_blocking. A restarted mirror keeps
// its data and reports its parts again when it registers.
//
// Registration with placement (transitions are logged):
//   unregistered -> registering -> registered
//   registering/registered -> unregistered   (tracker unreachable, connection
//                                              down, heartbeat refused: again
//                                              after the backoff, at the next
//                                              tracker of the list)
// A copy (one per part asked for):
//   connecting -> copying -> stored
//   connecting/copying -> connecting (next source: this one failed, died,
//                                     timed out or sent a bad piece)
//   connecting -> failed             (every source tried twice)
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/core/directory.hpp"
#include "actors/core/endpoint.hpp"
#include "actors/core/file_io.hpp"
#include "actors/interfaces.hpp"
#include "actors/placement/parts.hpp"
#include "actors/store/mirror_index.hpp"

namespace actorrent {

struct mirror_options {
  std::string id;               // e.g. "m07"
  std::string host;             // where its node is published
  uint16_t port = 0;
  uint64_t capacity = uint64_t{100} << 30;
  std::string data_dir;         // its own: parts and index.db
  std::string index_db;         // default DATA_DIR/index.db
  /// The trackers (placement lives on the tracker node), tried in turn:
  /// a lost registration moves on to the next.
  std::vector<endpoint> trackers;
  std::chrono::milliseconds heartbeat{500};
  std::chrono::milliseconds scrub_interval{5000};  // one piece per interval
  std::chrono::milliseconds request_timeout{10000};
  uint32_t window = 4;          // piece requests in flight per copy
  std::shared_ptr<file_io> io;
  connector_actor connector;
};

enum class registration { unregistered, registering, registered };
enum class copy_state { connecting, copying, stored, failed };
const char* to_string(registration x);
const char* to_string(copy_state x);

struct mirror_part {
  uint32_t part_size = 0;
  std::string path;
};

struct mirror_file {
  pb::Manifest manifest;
  std::map<uint32_t, mirror_part> parts;  // stored, verified
};

struct copy_job {
  pb::PartCopy req;
  part_layout layout;
  copy_state state = copy_state::connecting;
  std::string path;             // DATA_DIR/HEX.PART.partial until stored
  std::deque<uint32_t> todo;    // pieces not requested yet
  std::set<uint32_t> in_flight;
  uint32_t done = 0;
  size_t source = 0;            // index into req.sources()
  size_t attempts = 0;          // sources tried
  uint64_t epoch = 0;           // bumped per source; stale replies ignored
  piece_server_actor handle;
  std::string last_error;
  caf::typed_response_promise<pb::PartStored> rp;
};

struct mirror_state {
  using pointer = mirror_actor::stateful_pointer<mirror_state>;
  explicit mirror_state(pointer self) : self(self) {}
  ~mirror_state();

  pointer self;
  mirror_options opts;
  std::unique_ptr<mirror_index> index;
  std::map<std::string, mirror_file> files;  // by raw file SHA-256
  uint64_t bytes_stored = 0;
  uint64_t bytes_served = 0;
  registration reg = registration::unregistered;
  placement_actor placement;
  uint64_t reg_epoch = 0;
  std::chrono::milliseconds backoff{250};
  size_t tracker_index = 0;  // the tracker in use, in opts.trackers
  std::map<uint64_t, copy_job> copies;
  uint64_t next_copy = 0;
  // scrub position: (file, piece)
  std::string scrub_file;
  uint32_t scrub_piece = 0;

  /// Opens the index and loads the parts; false when the data directory or
  /// the index cannot be used (the actor quits with the reason).
  bool init(mirror_options o, std::string& why);
  /// Deletes part files the index does not list (after a crash).
  void remove_leftovers();

  // -- serving ----------------------------------------------------------------
  caf::result<pb::PieceHeader, piece_bytes>
  serve(const pb::PieceRequest& req);

  // -- placement --------------------------------------------------------------
  void register_now();
  const endpoint& tracker() const { return opts.trackers.at(tracker_index); }
  void heartbeat();
  void set_registration(registration to, const std::string& why = {});
  /// Registration failed or the session was lost: try again later.
  void unregister(const std::string& why);
  pb::MirrorHello hello() const;

  // -- parts ------------------------------------------------------------------
  /// The request comes from placement's node (copies and drops).
  bool from_placement() const;
  /// A timer of this mirror, not a message from outside.
  bool from_self() const;
  caf::result<pb::PartStored> copy(const pb::PartCopy& req);
  caf::result<caf::ok_atom> drop(const pb::PartRef& ref);
  /// Removes a part from disk and the index.
  void forget(const std::string& sha, uint32_t part);
  void connect(uint64_t id);
  void fill(uint64_t id);
  void on_piece(uint64_t id, uint64_t epoch, uint32_t piece,
                piece_bytes& data);
  /// The current source failed: next source, or the copy fails.
  void next_source(uint64_t id, std::string why);
  void finish(uint64_t id);
  void on_down(const caf::down_msg& dm);
  /// Checks one piece of the stored data against its hash.
  void scrub();
  /// Checks every piece of a part now; a corrupt part is dropped (false).
  caf::result<bool> verify(const pb::PartRef& ref);
  /// True when stored piece `piece` of `part` matches its SHA-256; `err`
  /// says why a read failed.
  bool intact(const mirror_file& f, uint32_t part, uint32_t piece,
              std::string& err) const;

  static inline const char* name = "mirror";
};

mirror_actor::behavior_type mirror(mirror_state::pointer self,
                                   mirror_options opts);

} // namespace actorrent
