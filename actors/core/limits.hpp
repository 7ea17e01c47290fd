// Bounds on what a message from the network may carry. Every handler that
// takes a message from another node checks them first, before any work
// that grows with the message (hashing, signatures, SQLite, logging).
//
//   peer id                 at most 64 bytes ("p-" and 32 hex digits)
//   host                    at most 253 bytes (a DNS name)
//   file and group names    at most 255 bytes (valid_name, check_name)
//   any other text or bytes at most 1024 bytes (tokens, passwords, keys,
//                           tickets, hashes)
//   files in one announce   at most 10,000
//   pieces of one file      at most max_pieces, and the file at most
//                           max_file_size (configurable on the tracker)
//   piece hashes in one announce, in all   at most 4,194,304 (128 MiB)
//   pieces in one have      at most max_pieces
//   pieces in one request   at most max_batch_pieces (a reply at most
//                           piece_bytes::max_size bytes)
//   one transport message   at most max_message_bytes (the guard in front
//                           of every published port closes a connection
//                           whose BASP header announces more)
#pragma once

#include <cstdint>
#include <string>

#include <google/protobuf/message.h>

#include "messages/actorrent.pb.h"

namespace actorrent {

/// The configurable bounds (tracker.max-file-size, tracker.max-pieces).
struct limits {
  uint64_t max_file_size = uint64_t{64} << 30;  // 64 GiB
  uint32_t max_pieces = uint32_t{1} << 20;      // 32 MiB of hashes
};

constexpr size_t max_peer_id_bytes = 64;
constexpr size_t max_host_bytes = 253;
constexpr size_t max_field_bytes = 1024;
constexpr size_t max_files_per_announce = 10000;
constexpr size_t max_announce_pieces = size_t{1} << 22;
/// Pieces one PieceRequest may ask for (its index and `more`).
constexpr size_t max_batch_pieces = 16;

/// The largest message a node sends another: an announce with every piece
/// hash it may carry (32 bytes and a bitfield bit each) and the largest
/// fields of its files, and a margin for the rest. Piece replies (at most
/// 16 MiB) and manifests (at most max_announce_pieces hashes) are smaller.
constexpr uint64_t max_message_bytes
  = uint64_t{max_announce_pieces} * 33
    + uint64_t{max_files_per_announce} * 2 * max_field_bytes
    + (uint64_t{1} << 20);

/// Empty when every text and bytes field of `m` (and of the messages in it)
/// has at most max_field_bytes and no field repeats; otherwise names the
/// first field that does not fit.
std::string check_sizes(const google::protobuf::Message& m);

/// Empty when the announce is within the message-wide bounds (id, host,
/// identity fields, number of files and of piece hashes in all); otherwise
/// what is too large.
std::string check_sizes(const pb::Announce& a);

/// Empty when one file of an announce fits `l`; otherwise why not.
std::string check_sizes(const pb::Manifest& m, const pb::Holding* h,
                        const limits& l);

/// Empty when a piece request's fields fit (the generic bounds) and it asks
/// for at most max_batch_pieces; otherwise what is too large.
std::string check_sizes(const pb::PieceRequest& r);

/// Empty when a have fits `l`; otherwise what is too large.
std::string check_sizes(const pb::Have& h, const limits& l);

} // namespace actorrent
