#include "actors/peer/library.hpp"

#include <mutex>

#include "actors/types.hpp"

namespace actorrent {

void library::put(local_file f) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  auto name = f.manifest->name();
  files_[name] = std::move(f);
}

bool library::remove(const std::string& name) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  return files_.erase(name) > 0;
}

bool library::contains(const std::string& name) const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  return files_.count(name) > 0;
}

std::optional<local_file> library::find(const std::string& name) const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  auto i = files_.find(name);
  if (i == files_.end())
    return std::nullopt;
  return i->second;
}

void library::set_have(const std::string& name, uint32_t piece) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  if (auto i = files_.find(name); i != files_.end())
    i->second.have.set(piece);
}

void library::set_path(const std::string& name, const std::string& path) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  if (auto i = files_.find(name); i != files_.end())
    i->second.path = path;
}

std::vector<local_file> library::snapshot() const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  std::vector<local_file> out;
  for (auto& kvp : files_)
    out.push_back(kvp.second);
  return out;
}

std::optional<piece_location>
library::locate(const std::string& name, uint32_t index,
                const std::string& file_sha256, std::string& why,
                int& code) const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  auto i = files_.find(name);
  if (i == files_.end()) {
    code = static_cast<int>(errc::unknown_file);
    why = name;
    return std::nullopt;
  }
  auto& f = i->second;
  if (!file_sha256.empty() && file_sha256 != f.manifest->file_sha256()) {
    code = static_cast<int>(errc::conflict);
    why = "this peer holds another version of " + name;
    return std::nullopt;
  }
  if (index >= f.have.size() || !f.have.test(index)) {
    code = static_cast<int>(errc::bad_piece);
    why = index >= f.have.size()
            ? "piece " + std::to_string(index) + " out of range for " + name
            : "piece " + std::to_string(index) + " of " + name + " not held";
    return std::nullopt;
  }
  piece_location loc{f.path, uint64_t{index} * f.manifest->piece_size(),
                     piece_length(f.manifest, index), f.group, {},
                     f.manifest->file_sha256()};
  std::string group;
  if (!f.group.empty())
    split_group_key(name, group, loc.file_name);
  return loc;
}

void library::set_tracker_key(std::string key) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  tracker_key_ = std::move(key);
}

std::string library::tracker_key() const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  return tracker_key_;
}

} // namespace actorrent
