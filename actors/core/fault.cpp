#include "actors/core/fault.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace actorrent {

void fault_point(const char* point) {
  static const char* armed = std::getenv("ACTORRENT_TEST_FAULT");
  if (armed && std::strcmp(armed, point) == 0)
    ::kill(::getpid(), SIGKILL);
}

} // namespace actorrent
