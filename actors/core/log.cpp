#include "actors/core/log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace actorrent::log {

namespace {
std::mutex mtx;
std::string node_name = "-";
level min_level = level::info;
const char* names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
} // namespace

void setup(std::string node, level min) {
  std::lock_guard<std::mutex> guard{mtx};
  node_name = std::move(node);
  min_level = min;
}

bool parse_level(const std::string& text, level& out) {
  for (int i = 0; i < 4; ++i) {
    std::string n = names[i];
    for (auto& c : n)
      c = static_cast<char>(tolower(c));
    if (n == text) {
      out = static_cast<level>(i);
      return true;
    }
  }
  return false;
}

bool enabled(level lvl) {
  return lvl >= min_level;
}

void write(level lvl, const char* actor, const std::string& text) {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto t = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[32];
  strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
  std::lock_guard<std::mutex> guard{mtx};
  fprintf(stderr, "%s.%03d %-5s %s %s: %s\n", ts, static_cast<int>(ms),
          names[static_cast<int>(lvl)], node_name.c_str(), actor, text.c_str());
  fflush(stderr);
}

} // namespace actorrent::log
