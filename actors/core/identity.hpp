// Who a peer is: an Ed25519 key pair it keeps in its state database. Its id
// is derived from the public key, so only the holder of the secret key can
// announce under that id: the tracker hands out a one-time challenge, the
// peer signs it together with where it serves, and the tracker answers with
// a session token that its heartbeats, haves and leaves then carry.
#pragma once

#include <string>

#include "actors/core/ticket.hpp"
#include "messages/actorrent.pb.h"

namespace actorrent {

/// The peer id of a public key: "p-" and the first 16 bytes of the key as
/// hex.
std::string peer_id_of(const std::string& public_key);

/// The bytes a peer signs in its announce: the challenge, its id and where
/// it serves (the files are not signed: the session is what is proven).
std::string announce_proof(const std::string& nonce, const std::string& peer_id,
                           const std::string& host, uint32_t port);

/// Fills an announce's identity fields: id, key, challenge and signature.
void sign_announce(const signing_key& key, const std::string& nonce,
                   pb::Announce& msg);

/// Empty when `msg` proves its peer id with a signature of `nonce`;
/// otherwise what is wrong.
std::string check_announce_proof(const pb::Announce& msg);

} // namespace actorrent
