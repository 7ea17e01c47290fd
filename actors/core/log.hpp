// One line per event: time, level, node, actor, text. Written to stderr.
#pragma once

#include <sstream>
#include <string>

namespace actorrent::log {

enum class level { debug, info, warn, error };

/// Sets the node name printed on every line and the minimum level.
void setup(std::string node, level min);
bool parse_level(const std::string& text, level& out);
bool enabled(level lvl);
void write(level lvl, const char* actor, const std::string& text);

} // namespace actorrent::log

#define ACTORRENT_LOG(lvl, actor, expr)                                        \
  do {                                                                         \
    if (::actorrent::log::enabled(lvl)) {                                      \
      std::ostringstream actorrent_log_os;                                     \
      actorrent_log_os << expr;                                                \
      ::actorrent::log::write(lvl, actor, actorrent_log_os.str());             \
    }                                                                          \
  } while (false)
#define LOG_DEBUG(actor, expr) ACTORRENT_LOG(::actorrent::log::level::debug, actor, expr)
#define LOG_INFO(actor, expr) ACTORRENT_LOG(::actorrent::log::level::info, actor, expr)
#define LOG_WARN(actor, expr) ACTORRENT_LOG(::actorrent::log::level::warn, actor, expr)
#define LOG_ERROR(actor, expr) ACTORRENT_LOG(::actorrent::log::level::error, actor, expr)
