// Verifies and writes the pieces of one download into a preallocated partial
// file (through file_io) and marks each verified piece in the node's library,
// so it is served at once. Records nothing itself: its fetcher tells the peer
// agent, the one owner of the state database, which pieces are verified.
// Detached in a node (hashing and disk I/O never stall the scheduler),
// scheduled under the deterministic scheduler.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <caf/make_message.hpp>
#include <caf/result.hpp>

#include "actors/core/file_io.hpp"
#include "actors/interfaces.hpp"
#include "actors/peer/library.hpp"

namespace actorrent {

struct writer_options {
  pb::Manifest manifest;
  std::string part_path;
  std::string final_path;
  bitfield have;                 // pieces already in the partial file
  std::shared_ptr<file_io> io;
};

struct piece_writer_state {
  writer_options opts;
  std::shared_ptr<library> lib;
  /// Whole-file SHA-256 over pieces [0, cursor), computed while downloading
  /// so that little is left to hash when the last piece arrives.
  sha256_stream whole;
  uint32_t cursor = 0;

  /// Verifies piece `index` and writes it.
  caf::result<bool> write(uint32_t index, const std::vector<char>& data);
  /// Checks the whole-file SHA-256 and renames the file into place.
  caf::result<std::string> finish();
  /// Hashes written pieces from the cursor on; `index`/`data` is a piece
  /// still in memory. Returns "" or the read error.
  std::string advance(uint32_t index, const std::vector<char>* data);
  static inline const char* name = "piece_writer";
};

writer_actor::behavior_type
piece_writer(writer_actor::stateful_pointer<piece_writer_state> self,
             writer_options opts, std::shared_ptr<library> lib);

} // namespace actorrent
