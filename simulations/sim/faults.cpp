#include "simulations/sim/faults.hpp"

#include <algorithm>
#include <sstream>

namespace actorrent::sim {

namespace {

bool number(const std::string& s, double& out) {
  try {
    size_t used = 0;
    out = std::stod(s, &used);
    return used == s.size() && out >= 0;
  } catch (...) {
    return false;
  }
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

} // namespace

bool parse_duration(const std::string& text, caf::timespan& out) {
  double v = 0;
  auto unit = [&](const char* suffix, double scale) {
    auto n = std::string{suffix}.size();
    if (text.size() <= n || text.compare(text.size() - n, n, suffix) != 0)
      return false;
    if (!number(text.substr(0, text.size() - n), v))
      return false;
    out = std::chrono::duration_cast<caf::timespan>(
      std::chrono::duration<double>(v * scale));
    return true;
  };
  return unit("ms", 1e-3) || unit("s", 1) || unit("m", 60);
}

std::string target_kind(const std::string& t) {
  if (t == "tracker")
    return "tracker";
  if (t == "random-mirror")
    return "mirror";
  if (t == "random-client")
    return "client";
  for (auto kind : {"mirror", "client"}) {
    auto prefix = std::string{kind} + "-";
    if (t.size() > prefix.size() && t.compare(0, prefix.size(), prefix) == 0
        && std::all_of(t.begin() + prefix.size(), t.end(), ::isdigit))
      return kind;
  }
  return {};
}

std::string parse_fault(const std::string& text, fault& f) {
  f = fault{};
  f.text = text;
  std::istringstream in{text};
  std::string when;
  in >> when >> f.action;
  if (when.empty() || f.action.empty())
    return "fault '" + text + "': expected WHEN ACTION [TARGET...]";
  if (auto at = when.find('@'); at != std::string::npos) {
    f.when_client = when.substr(0, at);
    auto pct = when.substr(at + 1);
    if (target_kind(f.when_client) != "client" || f.when_client == "random-client"
        || pct.empty() || pct.back() != '%'
        || !number(pct.substr(0, pct.size() - 1), f.when_percent)
        || f.when_percent > 100)
      return "fault '" + text + "': a condition is client-N@P% (0..100)";
  } else if (when[0] == '+') {
    f.after_arrivals = true;
    if (!parse_duration(when.substr(1), f.at))
      return "fault '" + text + "': bad time '" + when + "' (+5s, +1500ms)";
  } else if (!parse_duration(when, f.at)) {
    return "fault '" + text + "': bad time '" + when + "' (5s, 1500ms, +2s or client-N@P%)";
  }
  std::string rest;
  std::getline(in, rest);
  auto check_targets = [&](const std::vector<std::string>& xs) -> std::string {
    for (auto& t : xs)
      if (target_kind(t).empty())
        return "fault '" + text + "': unknown target '" + t
               + "' (tracker, mirror-N, client-N, random-mirror, random-client)";
    return {};
  };
  std::istringstream args{rest};
  std::vector<std::string> xs;
  for (std::string x; args >> x;)
    xs.push_back(x);
  auto& a = f.action;
  if (a == "heal") {
    if (!xs.empty())
      return "fault '" + text + "': heal takes no target";
    return {};
  }
  if (a == "partition") {
    auto slash = rest.find('/');
    if (slash == std::string::npos)
      return "fault '" + text + "': partition A,B / C,D";
    f.targets = split(rest.substr(0, slash), ',');
    f.side_b = split(rest.substr(slash + 1), ',');
    if (auto e = check_targets(f.targets); !e.empty())
      return e;
    return check_targets(f.side_b);
  }
  if (xs.empty())
    return "fault '" + text + "': " + a + " needs a target";
  f.targets = {xs[0]};
  if (auto e = check_targets(f.targets); !e.empty())
    return e;
  if (a == "kill" || a == "kill-hard" || a == "restart" || a == "hang"
      || a == "corrupt") {
    if (xs.size() != 1)
      return "fault '" + text + "': " + a + " takes one target";
    return {};
  }
  if (a == "slow") {
    if (xs.size() != 2 || !number(xs[1], f.factor) || f.factor <= 0)
      return "fault '" + text + "': slow TARGET FACTOR (above 0)";
    return {};
  }
  if (a == "crash-loop") {
    double every = 0, times = 0;
    if (xs.size() != 3 || !number(xs[1], every) || !number(xs[2], times)
        || every < 1 || times < 1)
      return "fault '" + text + "': crash-loop TARGET EVERY_MS TIMES";
    f.every_ms = static_cast<uint32_t>(every);
    f.times = static_cast<uint32_t>(times);
    return {};
  }
  return "fault '" + text + "': unknown action '" + a
         + "' (kill, kill-hard, restart, crash-loop, hang, slow, corrupt,"
           " partition, heal)";
}

} // namespace actorrent::sim
