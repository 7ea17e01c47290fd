// Verifies and writes the pieces of one download into a preallocated partial
// file and records each verified piece in the peer's state database (resume).
// Runs detached: hashing and disk I/O never stall the actor scheduler.
#pragma once

#include <memory>
#include <string>

#include "actors/interfaces.hpp"
#include "actors/peer/library.hpp"
#include "actors/store/peer_store.hpp"

namespace actorrent {

struct writer_options {
  pb::Manifest manifest;
  std::string part_path;
  std::string final_path;
  std::string state_db;
  bitfield have;
};

struct piece_writer_state {
  writer_options opts;
  std::shared_ptr<library> lib;
  std::unique_ptr<peer_store> store;
  int fd = -1;
  /// Whole-file SHA-256 over pieces [0, cursor), computed while downloading
  /// so that little is left to hash when the last piece arrives.
  sha256_stream whole;
  uint32_t cursor = 0;
  /// Hashes written pieces from the cursor on; `index`/`data` is a piece
  /// still in memory. False on a read error.
  bool advance(uint32_t index, const std::vector<char>* data);
  ~piece_writer_state();
  static inline const char* name = "piece_writer";
};

writer_actor::behavior_type
piece_writer(writer_actor::stateful_pointer<piece_writer_state> self,
             writer_options opts, std::shared_ptr<library> lib);

} // namespace actorrent
