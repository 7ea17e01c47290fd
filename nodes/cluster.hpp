// `actorrent cluster`: a tracker, mirror processes and peers on loopback for
// people and tests. `up` writes a config per node, starts each node as its
// own process (own session, log DIR/NODE.log) and waits until every control
// port answers; `status`, `kill`, `start` and `down` act on exactly the
// processes DIR/cluster.json lists, checked by their command line.
#pragma once

#include <string>
#include <vector>

namespace actorrent {

/// `actorrent cluster up|status|kill|start|down ...`; exit code 0 ok, 1 the
/// operation failed, 2 usage.
int run_cluster(std::vector<std::string> args);

} // namespace actorrent
