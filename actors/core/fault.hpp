// Fault points for crash tests: a process started with the environment
// variable ACTORRENT_TEST_FAULT=NAME kills itself (SIGKILL, nothing
// flushed) when it reaches fault point NAME. Unset, a fault point costs one
// comparison. Points: before_rename, after_rename (the piece writer
// finishing a download).
#pragma once

namespace actorrent {

/// Kills the process at once when ACTORRENT_TEST_FAULT names `point`.
void fault_point(const char* point);

} // namespace actorrent
