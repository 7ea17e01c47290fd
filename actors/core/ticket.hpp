// Download tickets: the tracker signs (Ed25519, libsodium) that a user may
// fetch one file of one group until a deadline; serving peers check the
// signature with the tracker's public key before they send a single piece.
#pragma once

#include <cstdint>
#include <string>

#include "actors/core/random.hpp"
#include "messages/actorrent.pb.h"

namespace actorrent {

struct signing_key {
  std::string public_key;  // 32 bytes
  std::string secret_key;  // 64 bytes
  /// A fresh key pair from 32 bytes of `random`.
  static signing_key generate(const random_source& random);
  /// The key pair of a 32-byte seed (what a peer keeps in its database).
  static signing_key from_seed(const std::string& seed);
  /// The 32-byte seed this key pair was made from.
  std::string seed() const;
};

/// Ed25519 signature (64 bytes) of `bytes`.
std::string sign(const signing_key& key, const std::string& bytes);
/// True when `signature` is `public_key`'s signature of `bytes`.
bool verify(const std::string& public_key, const std::string& bytes,
            const std::string& signature);

pb::SignedTicket sign_ticket(const signing_key& key, const pb::Ticket& t);

/// Empty when `st` is a valid ticket for `group`/`name`/`file_sha256` at
/// `now_unix`, signed by `public_key`; otherwise says what is wrong.
std::string check_ticket(const std::string& public_key,
                         const pb::SignedTicket& st, const std::string& group,
                         const std::string& name,
                         const std::string& file_sha256, int64_t now_unix);

/// Argon2id hash of a password in libsodium's string format.
std::string hash_password(const std::string& password);
bool verify_password(const std::string& hash, const std::string& password);

/// 32 random bytes as hex: a session token.
std::string random_token(const random_source& random);

} // namespace actorrent
