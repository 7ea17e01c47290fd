// `actorrent sim --scenario FILE [--seed N] [--set KEY=VALUE ...]
// [--report DIR] [--console]`: reads the scenario, runs the harness,
// prints the summary, writes the report. Exit 0 when every invariant
// holds, 1 when one fails, 2 for bad usage or a bad scenario.
#include "nodes/sim.hpp"

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "actors/core/log.hpp"
#include "simulations/sim/console.hpp"
#include "simulations/sim/harness.hpp"
#include "simulations/sim/report.hpp"
#include "simulations/sim/scenario.hpp"

namespace actorrent {

namespace {

const char* sim_usage =
  "usage: actorrent sim --scenario FILE [--seed N] [--set CATEGORY.KEY=VALUE ...]\n"
  "                     [--report DIR] [--console]\n\n"
  "Runs a simulated cluster (tracker, placement, mirrors, clients) in this\n"
  "process with the scenario's faults; prints a summary and checks the\n"
  "invariants. Deterministic by default (virtual time, one thread: the same\n"
  "seed gives the same trace digest). Exit 0: every invariant holds; 1: one\n"
  "failed; 2: bad usage or scenario. Scenario keys:\n";

} // namespace

int run_sim(std::vector<std::string> args) {
  std::string scenario, seed, report;
  std::vector<std::string> sets;
  bool console = false;
  auto need = [&](size_t& i, const std::string& what) -> std::string {
    if (i + 1 >= args.size())
      return {};
    return args[++i];
  };
  for (size_t i = 0; i < args.size(); ++i) {
    auto& a = args[i];
    if (a == "-h" || a == "--help") {
      sim::scenario_config cfg;
      std::cout << sim_usage;
      for (auto& opt : cfg.options()) {
        std::string cat{opt.category().data(), opt.category().size()};
        auto cats = sim::scenario_categories();
        if (std::find(cats.begin(), cats.end(), cat) == cats.end())
          continue;
        std::cout << "  " << cat << "."
                  << std::string{opt.long_name().data(), opt.long_name().size()}
                  << ": "
                  << std::string{opt.description().data(),
                                 opt.description().size()}
                  << "\n";
      }
      return 0;
    }
    std::string v;
    if (a == "--scenario" || a == "--seed" || a == "--set" || a == "--report") {
      v = need(i, a);
      if (v.empty()) {
        std::cerr << "error: " << a << " needs a value\n";
        return 2;
      }
    }
    if (a == "--scenario")
      scenario = v;
    else if (a == "--seed")
      seed = v;
    else if (a == "--set")
      sets.push_back(v);
    else if (a == "--report")
      report = v;
    else if (a == "--console")
      console = true;
    else {
      std::cerr << "error: unexpected argument '" << a << "'\n" << sim_usage;
      return 2;
    }
  }
  if (scenario.empty()) {
    std::cerr << "error: --scenario FILE is required\n" << sim_usage;
    return 2;
  }
  if (!seed.empty()
      && (seed.find_first_not_of("0123456789") != std::string::npos
          || seed.size() > 19)) {
    std::cerr << "error: --seed: expected a number, got '" << seed << "'\n";
    return 2;
  }
  sim::scenario_config cfg;
  if (auto err = sim::load_scenario(cfg, scenario, sets, seed); !err.empty()) {
    std::cerr << "error: " << err << "\n";
    return 2;
  }
  log::level lvl;
  if (!log::parse_level(cfg.log_level, lvl)) {
    std::cerr << "error: log.level: expected debug, info, warn or error\n";
    return 2;
  }
  log::setup("sim", lvl);
  auto wall0 = std::chrono::steady_clock::now();
  sim::harness h{cfg};
  if (auto err = h.setup(); !err.empty()) {
    std::cerr << "error: " << err << "\n";
    return 2;
  }
  auto name = scenario.substr(scenario.rfind('/') + 1);
  auto wall = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0)
      .count();
  };
  if (console) {
    sim::run_console(h, std::cin, std::cout, [&] {
      sim::outcome o;
      o.virtual_end = h.now();
      o.wall_seconds = wall();
      return h.status();
    });
  } else {
    h.run(caf::timespan::max());
  }
  auto out = h.finish();
  out.wall_seconds = wall();
  // The teardown's connection losses are not news.
  log::setup("sim", log::level::error);
  std::cout << sim::summary_text(h, out, name) << std::flush;
  int code = out.passed() ? 0 : 1;
  if (!report.empty())
    if (auto err = sim::write_report(report, h, out, name); !err.empty()) {
      std::cerr << "error: " << err << "\n";
      code = 1;
    }
  // Taking every actor of a large run apart one by one takes seconds (6 %
  // of a 10,000-client run) and shows nothing: the process ends here, its
  // scratch directory removed first.
  h.remove_scratch();
  std::cout.flush();
  std::cerr.flush();
  std::_Exit(code);
}

} // namespace actorrent
