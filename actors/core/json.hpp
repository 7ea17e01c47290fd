// A minimal JSON writer for `ctl --json` replies.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace actorrent {

std::string json_quote(const std::string& s);

class json_object {
public:
  json_object& add(const std::string& key, const std::string& value);
  json_object& add(const std::string& key, const char* value);
  json_object& add(const std::string& key, uint64_t value);
  json_object& add(const std::string& key, int64_t value);
  json_object& add(const std::string& key, uint32_t value);
  json_object& add(const std::string& key, double value);
  json_object& add(const std::string& key, bool value);
  /// `raw` is already JSON (an object or array).
  json_object& add_raw(const std::string& key, const std::string& raw);
  std::string str() const { return out_ + "}"; }

private:
  json_object& key(const std::string& k);
  std::string out_ = "{";
};

/// `[a,b,...]` of values that are already JSON.
std::string json_array(const std::vector<std::string>& raws);

/// "1.5 MiB" and the like.
std::string human_bytes(double n);

} // namespace actorrent
