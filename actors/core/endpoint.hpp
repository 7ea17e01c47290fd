// Where a node is reached: host and port.
#pragma once

#include <cstdint>
#include <string>

namespace actorrent {

struct endpoint {
  std::string host;
  uint16_t port = 0;
  std::string str() const { return host + ":" + std::to_string(port); }
};

} // namespace actorrent
