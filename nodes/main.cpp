// actorrent: one executable, a subcommand per node kind.
#include <iostream>
#include <string>
#include <vector>

#include <gperftools/malloc_extension.h>

#include "nodes/cluster.hpp"
#include "nodes/nodes.hpp"
#include "nodes/sim.hpp"

namespace {

const char* usage =
  "usage: actorrent SUBCOMMAND [OPTIONS]\n\n"
  "  tracker --config FILE   run a tracker node (catalog of files and peers)\n"
  "  peer --config FILE      run a peer node (shares and downloads files)\n"
  "  mirror --config FILE    run a mirror node (hosts mirror servers)\n"
  "  mirror-put --tracker HOST:PORT FILE...\n"
  "                          publish files to the mirror cluster\n"
  "  fetch --tracker HOST:PORT NAME... [--to DIR]\n"
  "                          download files once and exit (0: verified)\n"
  "  ctl --node HOST:PORT COMMAND...\n"
  "                          send a command to a node's control port\n"
  "  cluster up|status|kill|start|down --dir DIR ...\n"
  "                          a tracker, mirrors and peers on loopback\n"
  "  sim --scenario FILE [--seed N] [--report DIR] [--console]\n"
  "                          a simulated cluster with faults, in this process\n\n"
  "`actorrent SUBCOMMAND --help` lists a subcommand's options. Any config key\n"
  "can be given on the command line: --tracker.port=6881.\n"
  "Exit codes: 0 ok, 1 the operation failed, 2 bad usage or config.\n";

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << usage;
    return 2;
  }
  auto sub = args.front();
  args.erase(args.begin());
  // The binary runs on tcmalloc (CMakeLists.txt). Freed memory stays with
  // the process for reuse instead of going back to the kernel bit by bit:
  // piece-sized blocks and CAF's message buffers come and go all the time,
  // and a fresh page costs a fault and a clearing (on a VM whose free
  // memory goes back to the host, a host fault too). A process keeps at
  // most its peak.
  MallocExtension::instance()->SetMemoryReleaseRate(0);
  if (sub == "-h" || sub == "--help" || sub == "help") {
    std::cout << usage;
    return 0;
  }
  if (sub == "tracker")
    return actorrent::run_tracker(std::move(args));
  if (sub == "peer")
    return actorrent::run_peer(std::move(args));
  if (sub == "mirror")
    return actorrent::run_mirror(std::move(args));
  if (sub == "mirror-put")
    return actorrent::run_mirror_put(std::move(args));
  if (sub == "fetch")
    return actorrent::run_fetch(std::move(args));
  if (sub == "ctl")
    return actorrent::run_ctl(std::move(args));
  if (sub == "cluster")
    return actorrent::run_cluster(std::move(args));
  if (sub == "sim")
    return actorrent::run_sim(std::move(args));
  std::cerr << "error: unknown subcommand '" << sub << "'\n" << usage;
  return 2;
}
