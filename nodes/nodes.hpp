// The node kinds of the `actorrent` executable. Each wires actors together
// and nothing else; exit codes: 0 ok, 1 the operation failed, 2 usage/config.
#pragma once

#include <string>
#include <vector>

namespace actorrent {

int run_tracker(std::vector<std::string> args);
int run_peer(std::vector<std::string> args);
int run_fetch(std::vector<std::string> args);
int run_ctl(std::vector<std::string> args);

} // namespace actorrent
