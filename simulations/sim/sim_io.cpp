#include "simulations/sim/sim_io.hpp"

#include <cstring>

#include "actors/core/environment.hpp"

namespace actorrent::sim {

namespace {

uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::string base_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string{} : path.substr(0, slash);
}

// "/client-3/downloads/.f.part" -> "client-3"
std::string site_of(const std::string& path) {
  auto end = path.find('/', 1);
  return path.size() > 1 ? path.substr(1, end - 1) : path;
}

} // namespace

namespace {

// The file's bytes as 64-bit words: word w is a mix of its run of eight
// (one mix per 64 bytes) told apart by its place in the run, so that bytes
// moved to another offset never match.
class word_stream {
public:
  explicit word_stream(uint64_t key) : key_(key) {}
  uint64_t operator()(uint64_t w) {
    if (w >> 3 != run_) {
      run_ = w >> 3;
      mixed_ = mix(key_ + run_);
    }
    return mixed_ ^ ((w & 7) + 1) * 0x9e3779b97f4a7c15ull;
  }

private:
  uint64_t key_;
  uint64_t run_ = ~uint64_t{0};
  uint64_t mixed_ = 0;
};

// A partial first word, whole words, a partial last word.
void generate_with(word_stream& words, uint64_t offset, char* buf,
                   size_t len) {
  size_t i = 0;
  if (auto skip = offset % 8; skip != 0 && len > 0) {
    auto word = words(offset / 8);
    i = std::min<size_t>(8 - skip, len);
    std::memcpy(buf, reinterpret_cast<const char*>(&word) + skip, i);
  }
  for (; i + 8 <= len; i += 8) {
    auto word = words((offset + i) / 8);
    std::memcpy(buf + i, &word, 8);
  }
  if (i < len) {
    auto word = words((offset + i) / 8);
    std::memcpy(buf + i, &word, len - i);
  }
}

} // namespace

void generate(uint64_t seed, const std::string& name, uint64_t offset,
              char* buf, size_t len) {
  word_stream words{derive_seed(seed, name)};
  generate_with(words, offset, buf, len);
}

bool matches_generated(uint64_t seed, const std::string& name,
                       uint64_t offset, const char* buf, size_t len) {
  // Generated a block at a time and compared in bulk.
  word_stream words{derive_seed(seed, name)};
  char want[512];
  for (size_t i = 0; i < len; i += sizeof(want)) {
    auto n = std::min(sizeof(want), len - i);
    generate_with(words, offset + i, want, n);
    if (std::memcmp(want, buf + i, n) != 0)
      return false;
  }
  return true;
}

// One site's view of the shared disk.
class site_io : public file_io {
public:
  site_io(sim_disk& disk, std::string site,
          std::shared_ptr<std::atomic<bool>> corrupt)
    : disk_(disk), site_(std::move(site)), corrupt_(std::move(corrupt)) {}

  std::string read(const std::string& path, uint64_t offset, char* buf,
                   size_t len) override {
    auto err = read_plain(path, offset, buf, len);
    if (err.empty() && *corrupt_)
      for (size_t i = 0; i < len; i += 997)
        buf[i] = static_cast<char>(~buf[i]);
    return err;
  }

  std::string write(const std::string& path, uint64_t offset, const char* buf,
                    size_t len) override {
    bool ok = true;
    std::string name;
    {
      std::lock_guard<std::mutex> guard{disk_.mtx_};
      auto i = disk_.vfiles_.find(path);
      if (i == disk_.vfiles_.end())
        return disk_.other_->write(path, offset, buf, len);
      auto& f = i->second;
      if (offset + len > f.size)
        return "cannot write " + path + ": beyond its size";
      auto* kept = disk_.kept(f.name, offset, len);
      ok = kept != nullptr
             ? std::memcmp(kept, buf, len) == 0
             : matches_generated(disk_.seed_, f.name, offset, buf, len);
      if (ok)
        f.bad.erase(offset);
      else
        f.bad[offset] = std::string(buf, len);
      ++f.writes;
      name = f.name;
    }
    if (!ok)
      ++disk_.corrupt_writes_;
    if (disk_.obs_.written)
      disk_.obs_.written(site_of(path), name, offset, len, ok);
    return {};
  }

  std::string allocate(const std::string& path, uint64_t size) override {
    auto name = disk_.file_of(path);
    if (name.empty())
      return disk_.other_->allocate(path, size);
    std::lock_guard<std::mutex> guard{disk_.mtx_};
    auto& f = disk_.open_vfile(path);
    f.name = name;
    f.size = std::max(f.size, size);
    return {};
  }

  std::string rename(const std::string& from, const std::string& to) override {
    std::string name;
    {
      std::lock_guard<std::mutex> guard{disk_.mtx_};
      auto i = disk_.vfiles_.find(from);
      if (i == disk_.vfiles_.end())
        return disk_.other_->rename(from, to);
      auto f = std::move(i->second);
      disk_.erase_vfile(from);
      name = f.name;
      disk_.open_vfile(to) = std::move(f);
    }
    if (disk_.obs_.completed && disk_.file_of(to) == name)
      disk_.obs_.completed(site_of(to), name);
    return {};
  }

  bool stat(const std::string& path, uint64_t& size, int64_t& mtime) override {
    {
      std::lock_guard<std::mutex> guard{disk_.mtx_};
      auto i = disk_.vfiles_.find(path);
      if (i != disk_.vfiles_.end()) {
        size = i->second.size;
        mtime = i->second.writes;
        return true;
      }
    }
    return disk_.other_->stat(path, size, mtime);
  }

  bool list(const std::string& dir, std::vector<std::string>& names) override {
    bool found = disk_.other_->list(dir, names);
    std::lock_guard<std::mutex> guard{disk_.mtx_};
    auto prefix = dir + "/";
    for (auto i = disk_.paths_.lower_bound(prefix);
         i != disk_.paths_.end() && i->compare(0, prefix.size(), prefix) == 0;
         ++i) {
      found = true;
      auto rest = i->substr(prefix.size());
      if (!rest.empty() && rest[0] != '.' && rest.find('/') == std::string::npos)
        names.push_back(rest);
    }
    return found;
  }

  bool make_dirs(const std::string& dir) override {
    return disk_.other_->make_dirs(dir);
  }

  void forget(const std::string&) override {
    // nothing is cached
  }

  std::string remove(const std::string& path) override {
    {
      std::lock_guard<std::mutex> guard{disk_.mtx_};
      if (disk_.erase_vfile(path))
        return {};
    }
    return disk_.other_->remove(path);
  }

private:
  std::string read_plain(const std::string& path, uint64_t offset, char* buf,
                         size_t len) {
    std::lock_guard<std::mutex> guard{disk_.mtx_};
    auto i = disk_.vfiles_.find(path);
    if (i == disk_.vfiles_.end())
      return disk_.other_->read(path, offset, buf, len);
    auto& f = i->second;
    if (offset + len > f.size)
      return "short read of " + path;
    if (auto* kept = disk_.kept(f.name, offset, len))
      std::memcpy(buf, kept, len);
    else
      generate(disk_.seed_, f.name, offset, buf, len);
    // Bytes written wrong are read back as written.
    for (auto& [off, bytes] : f.bad) {
      auto b = std::max(off, offset);
      auto e = std::min(off + bytes.size(), offset + len);
      if (b < e)
        std::memcpy(buf + (b - offset), bytes.data() + (b - off), e - b);
    }
    return {};
  }

  sim_disk& disk_;
  std::string site_;
  std::shared_ptr<std::atomic<bool>> corrupt_;
};

sim_disk::sim_disk(uint64_t seed, std::map<std::string, uint64_t> files)
  : seed_(seed), sizes_(std::move(files)),
    other_(std::make_shared<memory_io>()) {
}

void sim_disk::add_file(const std::string& path, const std::string& name) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& f = open_vfile(path);
  f.name = name;
  f.size = sizes_.at(name);
  other_->make_dirs(dir_of(path));
}

sim_disk::vfile& sim_disk::open_vfile(const std::string& path) {
  auto [i, fresh] = vfiles_.try_emplace(path);
  if (fresh)
    paths_.insert(path);
  return i->second;
}

bool sim_disk::erase_vfile(const std::string& path) {
  if (vfiles_.erase(path) == 0)
    return false;
  paths_.erase(path);
  return true;
}

void sim_disk::set_observer(disk_observer obs) {
  obs_ = std::move(obs);
}

std::shared_ptr<file_io> sim_disk::io_of(const std::string& site) {
  auto& flag = corrupt_[site];
  if (!flag)
    flag = std::make_shared<std::atomic<bool>>(false);
  return std::make_shared<site_io>(*this, site, flag);
}

void sim_disk::set_corrupt(const std::string& site, bool on) {
  auto& flag = corrupt_[site];
  if (!flag)
    flag = std::make_shared<std::atomic<bool>>(false);
  *flag = on;
}

std::string sim_disk::file_of(const std::string& path) const {
  auto base = base_of(path);
  if (base.size() > 6 && base[0] == '.'
      && base.compare(base.size() - 5, 5, ".part") == 0)
    base = base.substr(1, base.size() - 6);
  return sizes_.count(base) > 0 ? base : std::string{};
}

const char* sim_disk::kept(const std::string& name, uint64_t offset,
                           size_t len) {
  auto i = generated_.find(name);
  if (i == generated_.end()) {
    auto size = sizes_.find(name);
    if (size == sizes_.end() || size->second > cache_budget - generated_bytes_)
      return nullptr;
    std::string bytes(size->second, '\0');
    generate(seed_, name, 0, bytes.data(), bytes.size());
    generated_bytes_ += bytes.size();
    i = generated_.emplace(name, std::move(bytes)).first;
  }
  auto& bytes = i->second;
  return offset + len <= bytes.size() ? bytes.data() + offset : nullptr;
}

} // namespace actorrent::sim
