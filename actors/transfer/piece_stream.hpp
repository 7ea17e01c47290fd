// A piece stream: the bytes of one file's pieces over a TCP connection of
// their own, beside CAF. A piece that travels as a CAF message is copied
// into the BASP buffer, out of it, through CAF's read buffer and into a
// block, and passes the middleman and the front on both sides; on a stream
// the source's thread sends the block itself and the receiver reads it
// straight into a pooled block.
//
// Who may stream is decided in CAF: a downloader asks the piece server for a
// grant (stream_atom), which runs the checks of a piece request (name, file
// version, group ticket) and answers with the stream port and a one-time
// token of 32 random bytes that expires after `grant_lifetime`. The
// downloader then connects to that port and sends:
//
//   hello:    "ACTS" (4 bytes), version (u32), token (32 bytes)
//   request:  piece index (u32)          ... any number, pipelined
//
// and the server answers each request, in order, with
//
//   reply:    index (u32), status (u32: 0 or an errc), length (u32), bytes
//
// (all integers big-endian). Every piece is located again per request
// (verified pieces only) and a group file's ticket checked again, so a
// stream serves exactly what piece requests would. Streams live as long as
// the piece server that granted them: when it ends (an operator kills it,
// it crashes), its streams end at their next request. The server closes a
// connection whose hello is wrong, late (`hello_timeout`) or names no
// live grant, that is idle for `idle_timeout`, or that does not take its
// bytes within `send_timeout`; at most `max_connections` are open. Uploads
// are paced to `upload_limit` like the piece server's replies.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "actors/core/file_io.hpp"
#include "actors/core/random.hpp"
#include "actors/peer/library.hpp"
#include "actors/transfer/token_bucket.hpp"
#include "messages/actorrent.pb.h"

namespace actorrent {

namespace stream_wire {
constexpr char magic[4] = {'A', 'C', 'T', 'S'};
constexpr uint32_t version = 1;
constexpr size_t token_size = 32;
constexpr size_t hello_size = 4 + 4 + token_size;
constexpr size_t request_size = 4;
constexpr size_t reply_header_size = 12;
void put_u32(unsigned char* out, uint32_t x);
uint32_t get_u32(const unsigned char* in);
/// Exactly n bytes from a blocking socket; false on end of stream, error
/// or its receive timeout.
bool read_exact(int fd, void* out, size_t n);
/// All n bytes to a blocking socket (`flags` for send(), e.g. MSG_MORE);
/// false on error or its send timeout.
bool write_exact(int fd, const void* data, size_t n, int flags = 0);
} // namespace stream_wire

/// What a grant lets its holder stream: one version of one file.
struct stream_grant {
  std::string name;         // catalog name, as in a piece request
  std::string file_sha256;
  pb::SignedTicket ticket;  // group files: checked again per piece
  std::chrono::steady_clock::time_point expires;
  uint64_t epoch = 0;       // of the piece server that granted it
};

/// Grants handed out by the piece server and redeemed by the stream
/// server's connections (shared by both; thread-safe). Bounded: at most
/// `max_grants` unredeemed, the oldest dropped first.
class stream_grants {
public:
  static constexpr size_t max_grants = 4096;
  static constexpr auto grant_lifetime = std::chrono::seconds(10);
  stream_grants(uint16_t port, random_source random);
  /// A token for `g` (its expiry is set here).
  std::string grant(stream_grant g);
  /// The grant of `token`, removed (a token serves one connection), if it
  /// exists and has not expired.
  std::optional<stream_grant> redeem(const std::string& token);
  uint16_t port() const { return port_; }
  void set_port(uint16_t p) { port_ = p; }
  /// The piece server that granted them ended (killed, restarting): every
  /// grant and stream it gave ends too (a stream at its next request).
  void revoke_all();
  /// Whether streams of grant `g` may still serve.
  bool valid(const stream_grant& g) const { return g.epoch == epoch_; }

private:
  std::mutex mtx_;
  uint16_t port_;
  random_source random_;
  std::map<std::string, stream_grant> grants_;
  std::list<std::string> order_;  // oldest first
  std::atomic<uint64_t> epoch_{0};
};

struct piece_stream_options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: a free one
  uint32_t max_connections = 64;
  std::chrono::milliseconds hello_timeout{5000};
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds send_timeout{10000};
  /// Bytes per second all connections together send at most (0: no
  /// limit): a connection waits for budget before each piece, as the
  /// piece server holds its replies (peer.upload-limit; each way of
  /// serving has a budget of that size).
  uint64_t upload_limit = 0;
  /// Seconds since the Unix epoch (ticket expiry).
  std::function<int64_t()> unix_time;
};

/// Counts since the server started.
struct piece_stream_counts {
  uint64_t accepted = 0;
  uint64_t refused = 0;      // over max_connections
  uint64_t bad_hello = 0;    // wrong magic or version, late, unknown token
  uint64_t pieces = 0;
  uint64_t bytes = 0;
  uint32_t open = 0;
};

/// The server: a thread that accepts, and one thread per connection (its
/// reads block on the disk and its sends on the peer).
class piece_stream_server {
public:
  piece_stream_server(std::shared_ptr<library> lib, std::shared_ptr<file_io> io,
                      piece_stream_options opts, random_source random);
  /// Closes the port and every connection; waits for their threads.
  ~piece_stream_server();
  piece_stream_server(const piece_stream_server&) = delete;
  piece_stream_server& operator=(const piece_stream_server&) = delete;

  /// Listens on opts.host:opts.port; "" or why not (naming the address).
  std::string open();
  uint16_t port() const { return grants_->port(); }
  std::shared_ptr<stream_grants> grants() const { return grants_; }
  piece_stream_counts counts() const;

  struct connection;

private:
  void accept_loop();
  void serve(connection& c);
  void reap();
  /// Waits until `bytes` may go out under the upload limit; false when
  /// the server stops meanwhile.
  bool pace(size_t bytes);
  /// Answers one request of connection `c`; false when the connection must
  /// end (a send failed, the server stops).
  bool serve_piece(connection& c, const pb::PieceRequest& req);
  std::shared_ptr<library> lib_;
  std::shared_ptr<file_io> io_;
  piece_stream_options opts_;
  std::shared_ptr<stream_grants> grants_;
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable std::mutex mtx_;
  std::list<std::unique_ptr<connection>> conns_;
  piece_stream_counts counts_;
  std::mutex pace_mtx_;
  token_bucket bucket_;
};

} // namespace actorrent
