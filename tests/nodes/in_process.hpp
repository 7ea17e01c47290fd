// A peer wired in-process for deterministic tests: tracker at
// 127.0.0.1:6881 (in the local directory), downloads under /NAME/downloads
// (memory_io), its state database on disk in `dir`, window 4.
#pragma once

#include <string>

#include "actors/peer/peer.hpp"

namespace actorrent::test {

inline peer_options in_process_peer(const std::string& dir,
                                    const std::string& name,
                                    const std::string& share,
                                    uint32_t piece_size) {
  peer_options opts;
  opts.trackers = {{"127.0.0.1", 6881}};
  opts.share_dir = share;
  opts.download_dir = "/" + name + "/downloads";
  opts.state_db = dir + "/" + name + ".db";
  opts.piece_size = piece_size;
  opts.window = 4;
  return opts;
}

} // namespace actorrent::test
