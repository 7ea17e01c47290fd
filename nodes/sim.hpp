// `actorrent sim`: a simulated cluster in this process (simulations/sim).
#pragma once

#include <string>
#include <vector>

namespace actorrent {

int run_sim(std::vector<std::string> args);

} // namespace actorrent
