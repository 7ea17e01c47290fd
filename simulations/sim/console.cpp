#include "simulations/sim/console.hpp"

#include <iostream>
#include <sstream>
#include <vector>

namespace actorrent::sim {

namespace {

const char* help =
  "status                      clients, mirrors, faults so far\n"
  "actors [NODE]               a node's supervised actors (tracker, mirror-N, client-N)\n"
  "kill NAME | kill --hard NAME | restart NAME\n"
  "hang NAME | slow NAME FACTOR | corrupt NAME\n"
  "partition A,B / C,D | heal\n"
  "step [N]                    N events (deterministic; real time: N ms)\n"
  "run-until TIME              e.g. 12s, 1500ms (virtual)\n"
  "run                         to the end of the scenario\n"
  "report                      the summary so far\n"
  "quit                        end the run here\n";

} // namespace

void run_console(harness& h, std::istream& in, std::ostream& out,
                 const std::function<std::string()>& summary) {
  out << "actorrent sim console ('help' lists commands)\n";
  std::string line;
  for (;;) {
    out << "[" << std::chrono::duration_cast<std::chrono::milliseconds>(h.now()).count()
        << " ms] > " << std::flush;
    if (!std::getline(in, line)) {
      out << "\n";
      h.note("console: (end of input) run");
      h.run(caf::timespan::max());
      return;
    }
    std::istringstream words{line};
    std::vector<std::string> xs;
    for (std::string w; words >> w;)
      xs.push_back(w);
    if (xs.empty())
      continue;
    auto& cmd = xs[0];
    if (cmd == "help") {
      out << help;
      continue;
    }
    h.note("console: " + line);
    if (cmd == "status") {
      out << h.status();
    } else if (cmd == "actors") {
      out << h.actors(xs.size() > 1 ? xs[1] : "tracker");
    } else if (cmd == "kill" || cmd == "restart" || cmd == "hang"
               || cmd == "slow" || cmd == "corrupt" || cmd == "partition"
               || cmd == "heal") {
      auto text = line.substr(line.find(cmd));
      if (cmd == "kill" && xs.size() == 3 && xs[1] == "--hard")
        text = "kill-hard " + xs[2];
      if (auto err = h.inject(text); !err.empty())
        out << "error: " << err << "\n";
      else
        out << "ok\n";
    } else if (cmd == "step") {
      size_t n = 1;
      if (xs.size() > 1)
        try {
          n = std::stoul(xs[1]);
        } catch (...) {
          out << "error: step [N]\n";
          continue;
        }
      h.step(n);
    } else if (cmd == "run-until") {
      caf::timespan t;
      if (xs.size() != 2 || !parse_duration(xs[1], t)) {
        out << "error: run-until TIME (12s, 1500ms)\n";
        continue;
      }
      h.run(t);
    } else if (cmd == "run") {
      h.run(caf::timespan::max());
      return;
    } else if (cmd == "report") {
      out << summary();
    } else if (cmd == "quit" || cmd == "exit") {
      return;
    } else {
      out << "error: unknown command '" << cmd << "' ('help' lists them)\n";
    }
  }
}

} // namespace actorrent::sim
