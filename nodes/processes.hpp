// Node processes started by `actorrent cluster`: each in its own session,
// recognised later by its command line (a pid alone may have been reused).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace actorrent {

enum class process_state { running, stopped, dead };

/// "running", "stopped" (SIGSTOP) or "dead".
const char* to_string(process_state x);

/// The path of the running executable.
std::string self_exe();

/// Starts `exe args...` in a new session with `cwd` as working directory,
/// stdin from /dev/null and stdout/stderr appended to `log`. Returns the pid,
/// or -1 (and `error` says why) when it could not fork.
pid_t spawn_detached(const std::string& exe,
                     const std::vector<std::string>& args,
                     const std::string& cwd, const std::string& log,
                     std::string& error);

/// The state of `pid` if it is still the process whose command line holds
/// `arg` as one of its words; `dead` when it is gone, a zombie, or the pid
/// now belongs to another process.
process_state state_of(pid_t pid, const std::string& arg);

/// Sends `sig` to `pid` only if it is still the process whose command line
/// holds `arg`; false otherwise.
bool signal_if_ours(pid_t pid, const std::string& arg, int sig);

/// Polls (every 20 ms, at most `timeout`) until `state_of(pid, arg)` is
/// `want`; reaps our own children that ended.
bool wait_state(pid_t pid, const std::string& arg, process_state want,
                std::chrono::milliseconds timeout);

/// The exit status of a child of this process that ended, as text
/// ("exited with code 2", "killed by signal 9"), or empty while it runs.
std::string child_exit(pid_t pid);

/// The last `n` lines of a file (empty when unreadable).
std::string tail_of(const std::string& path, size_t n);

} // namespace actorrent
