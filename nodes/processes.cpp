#include "nodes/processes.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <thread>

namespace actorrent {

namespace {

std::string read_all(const std::string& path) {
  std::ifstream f{path, std::ios::binary};
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Runs in the forked child: only async-signal-safe calls until execv.
[[noreturn]] void exec_child(const char* exe, char* const* argv,
                             const char* cwd, const char* log) {
  ::setsid();
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGPIPE, &dfl, nullptr);
  if (::chdir(cwd) != 0)
    ::_exit(127);
  int in = ::open("/dev/null", O_RDONLY);
  int out = ::open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (in < 0 || out < 0)
    ::_exit(127);
  ::dup2(in, 0);
  ::dup2(out, 1);
  ::dup2(out, 2);
  // Nothing else of this process (sockets, pipes) goes to the node.
  if (::close_range(3, ~0u, 0) != 0)
    for (int fd = 3; fd < 1024; ++fd)
      ::close(fd);
  ::execv(exe, argv);
  ::_exit(127);
}

// The words of /proc/PID/cmdline (empty for a zombie or a gone process).
std::vector<std::string> cmdline_of(pid_t pid) {
  auto text = read_all("/proc/" + std::to_string(pid) + "/cmdline");
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\0') {
      out.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  return out;
}

// The state letter of /proc/PID/stat (after the command name in parentheses),
// or 0 when there is no such process.
char stat_letter(pid_t pid) {
  auto text = read_all("/proc/" + std::to_string(pid) + "/stat");
  auto close = text.rfind(')');
  if (close == std::string::npos || close + 2 >= text.size())
    return 0;
  return text[close + 2];
}

} // namespace

const char* to_string(process_state x) {
  switch (x) {
    case process_state::running:
      return "running";
    case process_state::stopped:
      return "stopped";
    case process_state::dead:
      break;
  }
  return "dead";
}

std::string self_exe() {
  char buf[PATH_MAX];
  auto n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string{};
}

pid_t spawn_detached(const std::string& exe,
                     const std::vector<std::string>& args,
                     const std::string& cwd, const std::string& log,
                     std::string& error) {
  // Everything the child needs is prepared before fork.
  std::vector<std::string> words{exe};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& w : words)
    argv.push_back(w.data());
  argv.push_back(nullptr);
  auto pid = ::fork();
  if (pid == 0)
    exec_child(exe.c_str(), argv.data(), cwd.c_str(), log.c_str());
  if (pid < 0)
    error = std::string{"fork failed: "} + std::strerror(errno);
  return pid;
}

process_state state_of(pid_t pid, const std::string& arg) {
  if (pid <= 0)
    return process_state::dead;
  auto words = cmdline_of(pid);
  if (std::find(words.begin(), words.end(), arg) == words.end())
    return process_state::dead;
  switch (stat_letter(pid)) {
    case 'T':
    case 't':
      return process_state::stopped;
    case 0:
    case 'Z':
    case 'X':
    case 'x':
      return process_state::dead;
    default:
      return process_state::running;
  }
}

bool signal_if_ours(pid_t pid, const std::string& arg, int sig) {
  if (state_of(pid, arg) == process_state::dead)
    return false;
  return ::kill(pid, sig) == 0;
}

bool wait_state(pid_t pid, const std::string& arg, process_state want,
                std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    ::waitpid(pid, nullptr, WNOHANG);
    if (state_of(pid, arg) == want)
      return true;
    if (std::chrono::steady_clock::now() >= until)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string child_exit(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) != pid)
    return {};
  if (WIFEXITED(status))
    return WEXITSTATUS(status) == 127
             ? "could not be executed (exit code 127)"
             : "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "killed by signal " + std::to_string(WTERMSIG(status));
  return "ended";
}

std::string tail_of(const std::string& path, size_t n) {
  std::ifstream f{path};
  std::deque<std::string> lines;
  std::string line;
  while (std::getline(f, line)) {
    lines.push_back(std::move(line));
    if (lines.size() > n)
      lines.pop_front();
  }
  std::string out;
  for (auto& l : lines)
    out += "  | " + l + "\n";
  return out;
}

} // namespace actorrent
