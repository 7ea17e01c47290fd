// The interactive console of `actorrent sim --console`: commands between
// events, read line by line (a terminal or a script on stdin). Every command
// enters the trace, so a deterministic session replays with its commands.
//   status | actors [NODE] | kill [--hard] NAME | restart NAME | hang NAME
//   slow NAME FACTOR | corrupt NAME | partition A,B / C,D | heal
//   step [N] | run-until TIME | run | report | help | quit
// End of input: `run`, then the run ends as without the console.
#pragma once

#include <iosfwd>
#include <string>

#include "simulations/sim/harness.hpp"

namespace actorrent::sim {

/// Runs the console until `quit`, `run` reached the end, or end of input.
/// `report` prints the summary so far (`summary` makes it).
void run_console(harness& h, std::istream& in, std::ostream& out,
                 const std::function<std::string()>& summary);

} // namespace actorrent::sim
