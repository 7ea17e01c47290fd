#include "actors/core/json.hpp"

#include <cstdio>

namespace actorrent {

std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

json_object& json_object::key(const std::string& k) {
  if (out_.size() > 1)
    out_ += ",";
  out_ += json_quote(k) + ":";
  return *this;
}

json_object& json_object::add(const std::string& k, const std::string& v) {
  key(k).out_ += json_quote(v);
  return *this;
}

json_object& json_object::add(const std::string& k, const char* v) {
  return add(k, std::string{v});
}

json_object& json_object::add(const std::string& k, uint64_t v) {
  key(k).out_ += std::to_string(v);
  return *this;
}

json_object& json_object::add(const std::string& k, int64_t v) {
  key(k).out_ += std::to_string(v);
  return *this;
}

json_object& json_object::add(const std::string& k, uint32_t v) {
  return add(k, uint64_t{v});
}

json_object& json_object::add(const std::string& k, double v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%.1f", v);
  key(k).out_ += buf;
  return *this;
}

json_object& json_object::add(const std::string& k, bool v) {
  key(k).out_ += v ? "true" : "false";
  return *this;
}

json_object& json_object::add_raw(const std::string& k, const std::string& raw) {
  key(k).out_ += raw;
  return *this;
}

std::string human_bytes(double n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int i = 0;
  while (n >= 1024 && i < 4) {
    n /= 1024;
    ++i;
  }
  char buf[32];
  snprintf(buf, sizeof(buf), i == 0 ? "%.0f %s" : "%.1f %s", n, units[i]);
  return buf;
}

std::string json_array(const std::vector<std::string>& raws) {
  std::string out = "[";
  for (size_t i = 0; i < raws.size(); ++i)
    out += (i ? "," : "") + raws[i];
  return out + "]";
}

} // namespace actorrent
