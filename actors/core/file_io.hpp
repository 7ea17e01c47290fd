// Disk access behind one small interface: file-backed in nodes, in memory in
// tests and simulations (where a file's bytes may also be generated on
// demand). Every actor that touches file contents (piece server, writer,
// hashing of shared files) goes through it. Implementations are thread-safe.
// Every call returns "" on success, otherwise a text naming the path and
// what went wrong.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace actorrent {

class file_io {
public:
  virtual ~file_io();
  /// Reads exactly `len` bytes at `offset` of `path` into `buf`.
  virtual std::string read(const std::string& path, uint64_t offset, char* buf,
                           size_t len) = 0;
  /// As `read`, for data read once (a mirror serving a part it wrote with
  /// O_DIRECT): the disk reads whole aligned blocks into an aligned buffer
  /// with O_DIRECT, past the page cache (no fresh page-cache pages to fill
  /// and copy out of); anything else, or a file system without O_DIRECT, is
  /// read as `read` does.
  virtual std::string read_direct(const std::string& path, uint64_t offset,
                                  char* buf, size_t len);
  /// Sends `len` bytes at `offset` of `path` to the connected blocking
  /// socket `sock`: "" or why not (then an unknown part was sent). The disk
  /// uses sendfile(): the socket takes the page-cache pages themselves, no
  /// copy in user space (SIGPIPE blocked in the calling thread for it);
  /// others read and send.
  virtual std::string send_to(int sock, const std::string& path,
                              uint64_t offset, size_t len);
  /// Writes `len` bytes at `offset` of `path` (which must exist).
  virtual std::string write(const std::string& path, uint64_t offset,
                            const char* buf, size_t len) = 0;
  /// Creates `path` if missing and makes it `size` bytes long, so that
  /// pieces can be written in any order. Existing bytes stay.
  virtual std::string allocate(const std::string& path, uint64_t size) = 0;
  /// Renames atomically (replaces `to`).
  virtual std::string rename(const std::string& from, const std::string& to) = 0;
  /// Size and modification time (nanoseconds; in memory: a count of
  /// writes); false: no such regular file.
  virtual bool stat(const std::string& path, uint64_t& size,
                    int64_t& mtime_ns) = 0;
  /// Names of the regular, non-hidden files directly in `dir`; false when
  /// `dir` cannot be read.
  virtual bool list(const std::string& dir, std::vector<std::string>& names) = 0;
  /// Creates a directory and its parents; false on failure.
  virtual bool make_dirs(const std::string& dir) = 0;
  /// Forgets cached handles of `path` (after it was renamed or replaced).
  virtual void forget(const std::string& path) = 0;
  /// Deletes a file; a missing file is not an error.
  virtual std::string remove(const std::string& path) = 0;
};

/// mkdir -p on the real file system; false when `dir` is not a directory
/// afterwards.
bool make_dirs(const std::string& dir);

/// The real file system (pread/pwrite, an open-descriptor cache). `direct`:
/// whole aligned blocks are written (and `read_direct` read) with O_DIRECT,
/// past the page cache; false: everything goes through the page cache.
/// `write_behind` (with `direct`): up to that many bytes of whole blocks
/// are written into the page cache instead and pushed to the disk by a
/// thread of its own at once, so that a write does not wait for the device.
std::shared_ptr<file_io> make_disk_io(bool direct = true,
                                      size_t write_behind = 0);

/// Blocks SIGPIPE in the calling thread, so that a write to a socket whose
/// other end has gone fails with EPIPE instead of ending the process: for
/// threads that write to sockets with calls that take no MSG_NOSIGNAL
/// (sendfile, splice).
void block_sigpipe_in_this_thread();

/// Generates the bytes of a file that is not stored: (path, offset, buf, len).
using content_generator
  = std::function<void(const std::string&, uint64_t, char*, size_t)>;

/// Files in memory. `add_generated` declares a file whose bytes come from a
/// generator (a simulated seeder needs no memory for its files).
class memory_io : public file_io {
public:
  memory_io();
  ~memory_io() override;
  std::string read(const std::string& path, uint64_t offset, char* buf,
                   size_t len) override;
  std::string write(const std::string& path, uint64_t offset, const char* buf,
                    size_t len) override;
  std::string allocate(const std::string& path, uint64_t size) override;
  std::string rename(const std::string& from, const std::string& to) override;
  bool stat(const std::string& path, uint64_t& size, int64_t& mtime) override;
  bool list(const std::string& dir, std::vector<std::string>& names) override;
  bool make_dirs(const std::string& dir) override;
  void forget(const std::string& path) override;
  std::string remove(const std::string& path) override;

  /// Stores a file with the given bytes.
  void put(const std::string& path, std::string bytes);
  /// Declares a read-only file of `size` bytes produced by `gen`.
  void add_generated(const std::string& path, uint64_t size,
                     content_generator gen);
  /// The whole content of a file; false when there is none.
  bool get(const std::string& path, std::string& bytes);

private:
  struct impl;
  std::unique_ptr<impl> d_;
};

} // namespace actorrent
