// Serves verified pieces of the node's library to other peers. Runs detached
// (it reads from disk); keeps its files open between requests. With an upload
// limit it paces its replies (its own thread sleeps, nobody else's).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "actors/interfaces.hpp"
#include "actors/peer/library.hpp"

namespace actorrent {

struct piece_server_state {
  std::shared_ptr<library> lib;
  std::map<std::string, int> fds;  // path -> open descriptor
  uint64_t upload_limit = 0;       // bytes per second, 0: unlimited
  std::chrono::steady_clock::time_point next_free;
  ~piece_server_state();
  static inline const char* name = "piece_server";
};

piece_server_actor::behavior_type
piece_server(piece_server_actor::stateful_pointer<piece_server_state> self,
             std::shared_ptr<library> lib, uint64_t upload_limit);

} // namespace actorrent
