// The guard in front of a node's published ports. CAF 0.17's transport
// allocates the payload length a BASP header announces (up to 4 GiB) before
// any handshake, and never closes a connection that does not finish its
// handshake; the library cannot be changed here. So CAF listens on a
// loopback port of its own and the guard, one thread per node, accepts on
// the public port and forwards each connection to it, after checking:
//
//   - connections from one remote address and in all, at most
//     max_per_address and max_connections (beyond them: closed at once);
//   - the client's first message is a BASP client handshake of at most
//     64 KiB, complete within handshake_ms of the accept;
//   - every later header announces at most max_message payload bytes;
//   - messages over 64 KiB in transit to CAF hold at most in_flight bytes
//     of CAF's read buffers together (a header that would exceed it waits,
//     unread, until others complete), and each must arrive at 1 MiB/s
//     after a grace of handshake_ms;
//
// and closes a connection that breaks one. The server-to-client direction
// (CAF's replies, piece bytes) is forwarded unparsed with splice().
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace actorrent {

/// The largest legitimate message (max_message_bytes of limits.hpp).
uint64_t default_max_message();

struct guard_options {
  /// Off: CAF listens on the public port itself (guard.enabled = false).
  bool enabled = true;
  uint32_t max_per_address = 256;
  uint32_t max_connections = 1024;
  std::chrono::milliseconds handshake_ms{5000};
  uint64_t max_message = default_max_message();
  uint64_t in_flight = uint64_t{256} << 20;
};

/// What the guard did since it started.
struct guard_counts {
  uint64_t accepted = 0;
  uint64_t refused_per_address = 0;
  uint64_t refused_total = 0;
  uint64_t closed_no_handshake = 0;
  uint64_t closed_bad_header = 0;
  uint64_t closed_too_slow = 0;
  uint32_t open = 0;
};

/// One BASP header as CAF 0.17.6 writes it: 32 bytes, network byte order
/// (operation, two padding bytes, flags, payload length, operation data,
/// source and destination actor ids).
struct basp_header {
  uint8_t operation = 0;
  uint8_t flags = 0;
  uint32_t payload_len = 0;
  uint64_t operation_data = 0;
  uint64_t source_actor = 0;
  uint64_t dest_actor = 0;
};
constexpr size_t basp_header_size = 32;
constexpr uint8_t basp_client_handshake = 0x01;
constexpr uint8_t basp_last_operation = 0x06; // heartbeat
basp_header parse_basp_header(const unsigned char* bytes);

class guard {
public:
  explicit guard(guard_options opts);
  ~guard();
  guard(const guard&) = delete;
  guard& operator=(const guard&) = delete;

  /// Listens on host:port (port 0 picks a free one, stored back) and
  /// forwards every connection it accepts there to 127.0.0.1:upstream.
  /// Returns "" or why not, naming the address.
  std::string open(const std::string& host, uint16_t& port, uint16_t upstream);
  /// Stops listening on `port` and closes the connections accepted there.
  void close(uint16_t port);

  guard_counts counts() const;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace actorrent
