// The report of a run: summary.txt (also printed), report.json and
// report.html with hand-written SVG pictures (completion-time CDF,
// throughput over time with the faults marked, replicas of every part over
// time) and a table of when each client arrived and finished each file.
#pragma once

#include <string>

#include "simulations/sim/harness.hpp"

namespace actorrent::sim {

std::string summary_text(const harness& h, const outcome& o,
                         const std::string& scenario);
std::string report_json(const harness& h, const outcome& o,
                        const std::string& scenario);
std::string report_html(const harness& h, const outcome& o,
                        const std::string& scenario);
/// Writes the three files into `dir` (made if missing); "" or what failed.
std::string write_report(const std::string& dir, const harness& h,
                         const outcome& o, const std::string& scenario);

} // namespace actorrent::sim
