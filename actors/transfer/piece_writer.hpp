// Verifies and writes the pieces of one download into a preallocated partial
// file (through file_io) and marks each verified piece in the node's library,
// so it is served at once. Records nothing itself: its fetcher tells the peer
// agent, the one owner of the state database, which pieces are verified.
// A download has several writers (two per core in a node) sharing one
// `written` set; any of them finishes the file. The file is complete when
// every piece has passed its SHA-256 against the manifest: the bytes are not
// hashed a second time (the manifest's whole-file SHA-256 is the publisher's,
// computed in the same pass as its piece hashes). Detached in a node (hashing
// and disk I/O never stall the scheduler), scheduled under the deterministic
// scheduler.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/make_message.hpp>
#include <caf/result.hpp>

#include "actors/core/file_io.hpp"
#include "actors/interfaces.hpp"
#include "actors/peer/library.hpp"

namespace actorrent {

/// The pieces of one partial file that are verified and written, shared by
/// the download's writers.
class written_set {
public:
  explicit written_set(bitfield have) : have_(std::move(have)) {}
  /// Marks piece `i`; false when it was marked already.
  bool mark(uint32_t i);
  bool test(uint32_t i) const;
  bool all() const;

private:
  mutable std::mutex mtx_;
  bitfield have_;
};

struct writer_options {
  /// The download's manifest, shared by its fetcher and writers (one copy
  /// per download, not one per writer).
  std::shared_ptr<const pb::Manifest> manifest;
  std::string part_path;
  std::string final_path;
  bitfield have;                 // pieces already in the partial file
  std::shared_ptr<file_io> io;
  /// Shared by the download's writers; made from `have` when not given.
  std::shared_ptr<written_set> written;
};

struct piece_writer_state {
  writer_options opts;
  std::shared_ptr<library> lib;

  /// Verifies the pieces `indices` (their bytes end to end in `data`) and
  /// writes them; returns those that failed their SHA-256. A verified
  /// piece's bytes go on to the node's piece cache (served from memory
  /// while other downloaders ask for it).
  caf::result<std::vector<uint32_t>> write(const std::vector<uint32_t>& indices,
                                           piece_bytes& data);
  /// Checks that every piece is verified and renames the file into place.
  caf::result<std::string> finish();
  static inline const char* name = "piece_writer";
};

writer_actor::behavior_type
piece_writer(writer_actor::stateful_pointer<piece_writer_state> self,
             writer_options opts, std::shared_ptr<library> lib);

} // namespace actorrent
