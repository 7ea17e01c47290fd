#include "actors/core/file_io.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <condition_variable>
#include <deque>
#include <thread>

namespace actorrent {

file_io::~file_io() = default;

std::string file_io::read_direct(const std::string& path, uint64_t offset,
                                 char* buf, size_t len) {
  return read(path, offset, buf, len);
}

std::string file_io::send_to(int sock, const std::string& path,
                             uint64_t offset, size_t len) {
  std::vector<char> buf(len);
  if (auto err = read(path, offset, buf.data(), len); !err.empty())
    return err;
  size_t done = 0;
  while (done < len) {
    auto n = ::send(sock, buf.data() + done, len - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return std::string{"cannot send "} + path + ": "
             + (n < 0 ? strerror(errno) : "connection closed");
    done += static_cast<size_t>(n);
  }
  return {};
}

void block_sigpipe_in_this_thread() {
  sigset_t pipe_sig;
  sigemptyset(&pipe_sig);
  sigaddset(&pipe_sig, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_sig, nullptr);
}

bool make_dirs(const std::string& dir) {
  if (dir.empty())
    return false;
  std::string cur;
  for (size_t i = 0; i <= dir.size(); ++i) {
    if ((i == dir.size() || dir[i] == '/') && !cur.empty()
        && ::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
      return false;
    if (i < dir.size())
      cur += dir[i];
  }
  struct ::stat sb;
  return ::stat(dir.c_str(), &sb) == 0 && S_ISDIR(sb.st_mode);
}

namespace {

std::string sys_error(const std::string& what, const std::string& path) {
  return std::string{"cannot "} + what + " " + path + ": " + strerror(errno);
}

// Calls `io(done)` (one pread or pwrite of the rest of `len` bytes, `done`
// of them moved so far) until all `len` have moved: 1 then, otherwise what
// the failing call returned (0, or -1 with errno set). Retries on EINTR.
template <class Io>
ssize_t move_all(size_t len, Io io) {
  size_t done = 0;
  while (done < len) {
    auto n = io(done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n;
    done += static_cast<size_t>(n);
  }
  return 1;
}

// An open descriptor, closed when its last user lets go of it (another
// thread may be reading through it while the cache forgets it).
struct open_file {
  int fd = -1;
  dev_t dev = 0;
  ino_t ino = 0;
  ~open_file() {
    if (fd >= 0)
      ::close(fd);
  }
};

using file_ptr = std::shared_ptr<open_file>;

// How a descriptor is opened: for reading, for buffered writing, or for
// writing with O_DIRECT.
enum class fd_mode { read, write, direct };

// O_DIRECT needs the buffer, the offset and the length aligned to the
// device's logical block; 4 KiB covers every common one.
constexpr size_t direct_align = 4096;

bool aligned(const void* p, uint64_t offset, size_t len) {
  return len > 0 && len % direct_align == 0 && offset % direct_align == 0
         && reinterpret_cast<uintptr_t>(p) % direct_align == 0;
}

// The file system, with a cache of open descriptors (pieces of one file are
// read and written many times). A cached descriptor is used only while the
// path still names the same file (a file replaced by a rename is opened
// anew).
//
// A write of whole aligned blocks from an aligned buffer (a piece in a
// piece_bytes block at a piece offset) goes to the disk with O_DIRECT: no
// copy into the page cache and no fresh page-cache pages to fault in. The
// bytes are on the device when the call returns, as with a buffered write
// followed by its writeback. A file system without O_DIRECT (tmpfs) answers
// EINVAL; from then on every write is buffered. Other writes (the last,
// shorter piece of a file) are buffered.
class disk_io : public file_io {
public:
  disk_io(bool direct, size_t write_behind)
    : direct_(direct), wb_limit_(write_behind) {}

  ~disk_io() override {
    {
      std::lock_guard<std::mutex> guard{wb_mtx_};
      wb_stop_ = true;
    }
    wb_cv_.notify_all();
    if (wb_thread_.joinable())
      wb_thread_.join();
  }

  std::string read(const std::string& path, uint64_t offset, char* buf,
                   size_t len) override {
    auto f = open_fd(path, fd_mode::read);
    if (!f)
      return sys_error("open", path);
    auto n = move_all(len, [&](size_t got) {
      return ::pread(f->fd, buf + got, len - got,
                     static_cast<off_t>(offset + got));
    });
    if (n <= 0) {
      forget(path);
      return n < 0 ? sys_error("read", path) : "short read of " + path;
    }
    return {};
  }

  std::string send_to(int sock, const std::string& path, uint64_t offset,
                      size_t len) override {
    // sendfile() takes no MSG_NOSIGNAL: a downloader that closed its end
    // must fail this send, not end the process.
    static thread_local bool blocked = (block_sigpipe_in_this_thread(), true);
    (void) blocked;
    auto f = open_fd(path, fd_mode::read);
    if (!f)
      return sys_error("open", path);
    auto n = move_all(len, [&](size_t done) {
      auto off = static_cast<off_t>(offset + done);
      return ::sendfile(sock, f->fd, &off, len - done);
    });
    if (n <= 0) {
      forget(path);
      return n < 0 ? sys_error("send", path) : "short read of " + path;
    }
    return {};
  }

  std::string read_direct(const std::string& path, uint64_t offset, char* buf,
                          size_t len) override {
    if (direct_ && aligned(buf, offset, len)) {
      if (auto f = open_fd(path, fd_mode::direct)) {
        // Whole blocks until the end of the file: a read that ends inside
        // a block (past the end of a shorter file) is short.
        size_t got = 0;
        ssize_t n = 0;
        while (got < len && got % direct_align == 0) {
          n = ::pread(f->fd, buf + got, len - got,
                      static_cast<off_t>(offset + got));
          if (n < 0 && errno == EINTR)
            continue;
          if (n <= 0)
            break;
          got += static_cast<size_t>(n);
        }
        if (got == len)
          return {};
        if (n >= 0 || got > 0)
          return "short read of " + path;
        if (errno != EINVAL)
          return sys_error("read", path);
      }
      if (errno == EINVAL)
        direct_ = false; // no O_DIRECT here: buffered from now on
    }
    return read(path, offset, buf, len);
  }

  std::string write(const std::string& path, uint64_t offset, const char* buf,
                    size_t len) override {
    // Write-behind: while fewer than `wb_limit_` bytes are on their way to
    // the disk, a whole piece goes into the page cache and the flusher
    // thread writes it out at once and drops it from the cache; past that,
    // with O_DIRECT. Either way the writer does not wait for the device
    // while the window has room.
    if (direct_ && aligned(buf, offset, len) && reserve(len)) {
      auto f = open_fd(path, fd_mode::write);
      if (!f || pwrite_all(*f, buf, offset, len) <= 0) {
        release(len);
        return sys_error("write", path);
      }
      {
        std::lock_guard<std::mutex> guard{wb_mtx_};
        wb_queue_.push_back(wb_item{f, offset, len});
      }
      wb_cv_.notify_one();
      return {};
    }
    if (direct_ && aligned(buf, offset, len)) {
      if (auto f = open_fd(path, fd_mode::direct)) {
        auto n = pwrite_all(*f, buf, offset, len);
        if (n > 0)
          return {};
        if (n == 0 || errno != EINVAL)
          return sys_error("write", path);
      }
      if (errno == EINVAL)
        direct_ = false; // no O_DIRECT here: buffered from now on
    }
    auto f = open_fd(path, fd_mode::write);
    if (!f)
      return sys_error("open", path);
    if (pwrite_all(*f, buf, offset, len) <= 0)
      return sys_error("write", path);
    return {};
  }

  std::string allocate(const std::string& path, uint64_t size) override {
    auto f = open_fd(path, fd_mode::write);
    if (!f)
      return sys_error("open", path);
    if (size > 0 && ::posix_fallocate(f->fd, 0, static_cast<off_t>(size)) != 0
        && ::ftruncate(f->fd, static_cast<off_t>(size)) != 0)
      return sys_error("allocate", path);
    return {};
  }

  std::string rename(const std::string& from, const std::string& to) override {
    if (std::rename(from.c_str(), to.c_str()) != 0)
      return sys_error("rename to " + to + ":", from);
    forget(from);
    forget(to);
    return {};
  }

  bool stat(const std::string& path, uint64_t& size, int64_t& mtime) override {
    struct ::stat sb;
    if (::stat(path.c_str(), &sb) != 0 || !S_ISREG(sb.st_mode))
      return false;
    size = static_cast<uint64_t>(sb.st_size);
    mtime = static_cast<int64_t>(sb.st_mtim.tv_sec) * 1000000000
            + sb.st_mtim.tv_nsec;
    return true;
  }

  bool list(const std::string& dir, std::vector<std::string>& names) override {
    auto d = ::opendir(dir.c_str());
    if (!d)
      return false;
    while (auto ent = ::readdir(d)) {
      std::string name = ent->d_name;
      uint64_t size;
      int64_t mtime;
      if (!name.empty() && name[0] != '.' && stat(dir + "/" + name, size, mtime))
        names.push_back(name);
    }
    ::closedir(d);
    return true;
  }

  bool make_dirs(const std::string& dir) override {
    return actorrent::make_dirs(dir);
  }


  std::string remove(const std::string& path) override {
    forget(path);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return sys_error("cannot remove", path);
    return {};
  }

  void forget(const std::string& path) override {
    std::unique_lock<std::shared_mutex> guard{mtx_};
    fds_.erase({path, fd_mode::read});
    fds_.erase({path, fd_mode::write});
    fds_.erase({path, fd_mode::direct});
  }

private:
  // The cached descriptor of `path`, or a new one; nullptr with errno set
  // when it cannot be opened.
  file_ptr open_fd(const std::string& path, fd_mode mode) {
    std::pair<std::string, fd_mode> key{path, mode};
    struct ::stat sb;
    bool exists = ::stat(path.c_str(), &sb) == 0;
    {
      std::shared_lock<std::shared_mutex> guard{mtx_};
      auto i = fds_.find(key);
      if (i != fds_.end() && exists && i->second->dev == sb.st_dev
          && i->second->ino == sb.st_ino)
        return i->second;
    }
    int flags = mode == fd_mode::read    ? O_RDONLY | O_CLOEXEC
                : mode == fd_mode::write ? O_RDWR | O_CREAT | O_CLOEXEC
                                         : O_RDWR | O_DIRECT | O_CLOEXEC;
    auto f = std::make_shared<open_file>();
    f->fd = ::open(path.c_str(), flags, 0644);
    if (f->fd < 0 || ::fstat(f->fd, &sb) != 0)
      return nullptr;
    f->dev = sb.st_dev;
    f->ino = sb.st_ino;
    std::unique_lock<std::shared_mutex> guard{mtx_};
    fds_[key] = f;
    return f;
  }

  static ssize_t pwrite_all(const open_file& f, const char* buf,
                            uint64_t offset, size_t len) {
    return move_all(len, [&](size_t done) {
      return ::pwrite(f.fd, buf + done, len - done,
                      static_cast<off_t>(offset + done));
    });
  }

  bool reserve(size_t len) {
    std::lock_guard<std::mutex> guard{wb_mtx_};
    if (wb_limit_ == 0 || wb_pending_ + len > wb_limit_)
      return false;
    wb_pending_ += len;
    if (!wb_thread_.joinable())
      wb_thread_ = std::thread{[this] { flush_loop(); }};
    return true;
  }

  void release(size_t len) {
    std::lock_guard<std::mutex> guard{wb_mtx_};
    wb_pending_ -= len;
  }

  // The flusher: starts the disk writes of everything queued, then waits
  // for each, drops its pages from the page cache (so that the next
  // writes reuse warm pages) and frees its room in the window.
  void flush_loop() {
    std::unique_lock<std::mutex> lk{wb_mtx_};
    for (;;) {
      wb_cv_.wait(lk, [&] { return wb_stop_ || !wb_queue_.empty(); });
      if (wb_queue_.empty())
        return;
      std::deque<wb_item> batch;
      batch.swap(wb_queue_);
      lk.unlock();
      for (auto& it : batch)
        ::sync_file_range(it.f->fd, static_cast<off_t>(it.offset),
                          static_cast<off_t>(it.len), SYNC_FILE_RANGE_WRITE);
      size_t done = 0;
      for (auto& it : batch) {
        ::sync_file_range(it.f->fd, static_cast<off_t>(it.offset),
                          static_cast<off_t>(it.len),
                          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE
                            | SYNC_FILE_RANGE_WAIT_AFTER);
        ::posix_fadvise(it.f->fd, static_cast<off_t>(it.offset),
                        static_cast<off_t>(it.len), POSIX_FADV_DONTNEED);
        done += it.len;
      }
      lk.lock();
      wb_pending_ -= done;
    }
  }

  struct wb_item {
    file_ptr f;
    uint64_t offset;
    size_t len;
  };

  std::shared_mutex mtx_;
  std::map<std::pair<std::string, fd_mode>, file_ptr> fds_;
  std::atomic<bool> direct_{true};
  std::mutex wb_mtx_;
  std::condition_variable wb_cv_;
  std::deque<wb_item> wb_queue_;
  size_t wb_pending_ = 0;
  size_t wb_limit_ = 0;
  bool wb_stop_ = false;
  std::thread wb_thread_;
};

} // namespace

std::shared_ptr<file_io> make_disk_io(bool direct, size_t write_behind) {
  return std::make_shared<disk_io>(direct, write_behind);
}

// -- memory_io ----------------------------------------------------------------

struct memory_io::impl {
  struct file {
    std::string bytes;          // stored content
    uint64_t size = 0;          // generated files: their size
    content_generator gen;      // set: bytes come from here
    int64_t writes = 0;         // stands in for a modification time
  };
  std::mutex mtx;
  std::map<std::string, file> files;
  std::map<std::string, bool> dirs;
};

memory_io::memory_io() : d_(std::make_unique<impl>()) {}
memory_io::~memory_io() = default;

std::string memory_io::read(const std::string& path, uint64_t offset,
                            char* buf, size_t len) {
  std::lock_guard<std::mutex> guard{d_->mtx};
  auto i = d_->files.find(path);
  if (i == d_->files.end())
    return "cannot open " + path + ": no such file";
  auto& f = i->second;
  auto size = f.gen ? f.size : f.bytes.size();
  if (offset + len > size)
    return "short read of " + path;
  if (f.gen)
    f.gen(path, offset, buf, len);
  else
    std::memcpy(buf, f.bytes.data() + offset, len);
  return {};
}

std::string memory_io::write(const std::string& path, uint64_t offset,
                             const char* buf, size_t len) {
  std::lock_guard<std::mutex> guard{d_->mtx};
  auto& f = d_->files[path];
  if (f.gen)
    return "cannot write " + path + ": read-only";
  if (f.bytes.size() < offset + len)
    f.bytes.resize(offset + len);
  std::memcpy(&f.bytes[offset], buf, len);
  ++f.writes;
  return {};
}

std::string memory_io::allocate(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> guard{d_->mtx};
  auto& f = d_->files[path];
  if (f.gen)
    return "cannot allocate " + path + ": read-only";
  if (f.bytes.size() < size)
    f.bytes.resize(size);
  return {};
}

std::string memory_io::rename(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> guard{d_->mtx};
  auto i = d_->files.find(from);
  if (i == d_->files.end())
    return "cannot rename " + from + ": no such file";
  auto f = std::move(i->second);
  d_->files.erase(i);
  d_->files[to] = std::move(f);
  return {};
}

bool memory_io::stat(const std::string& path, uint64_t& size, int64_t& mtime) {
  std::lock_guard<std::mutex> guard{d_->mtx};
  auto i = d_->files.find(path);
  if (i == d_->files.end())
    return false;
  size = i->second.gen ? i->second.size : i->second.bytes.size();
  mtime = i->second.writes;
  return true;
}

bool memory_io::list(const std::string& dir, std::vector<std::string>& names) {
  std::lock_guard<std::mutex> guard{d_->mtx};
  auto prefix = dir + "/";
  bool found = d_->dirs.count(dir) > 0;
  for (auto& kvp : d_->files) {
    if (kvp.first.compare(0, prefix.size(), prefix) != 0)
      continue;
    found = true;
    auto rest = kvp.first.substr(prefix.size());
    if (!rest.empty() && rest[0] != '.' && rest.find('/') == std::string::npos)
      names.push_back(rest);
  }
  return found;
}

bool memory_io::make_dirs(const std::string& dir) {
  std::lock_guard<std::mutex> guard{d_->mtx};
  d_->dirs[dir] = true;
  return true;
}

void memory_io::forget(const std::string&) {
  // nothing is cached
}

std::string memory_io::remove(const std::string& path) {
  std::lock_guard<std::mutex> guard{d_->mtx};
  d_->files.erase(path);
  return {};
}

void memory_io::put(const std::string& path, std::string bytes) {
  std::lock_guard<std::mutex> guard{d_->mtx};
  auto& f = d_->files[path];
  f = impl::file{std::move(bytes), 0, nullptr, f.writes + 1};
}

void memory_io::add_generated(const std::string& path, uint64_t size,
                              content_generator gen) {
  std::lock_guard<std::mutex> guard{d_->mtx};
  d_->files[path] = impl::file{{}, size, std::move(gen), 0};
}

bool memory_io::get(const std::string& path, std::string& bytes) {
  std::lock_guard<std::mutex> guard{d_->mtx};
  auto i = d_->files.find(path);
  if (i == d_->files.end())
    return false;
  if (i->second.gen) {
    bytes.resize(i->second.size);
    i->second.gen(path, 0, bytes.data(), bytes.size());
  } else {
    bytes = i->second.bytes;
  }
  return true;
}

} // namespace actorrent
