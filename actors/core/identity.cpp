#include "actors/core/identity.hpp"

#include "actors/core/manifest.hpp"

namespace actorrent {

std::string peer_id_of(const std::string& public_key) {
  return "p-" + hex(public_key.substr(0, 16));
}

std::string announce_proof(const std::string& nonce, const std::string& peer_id,
                           const std::string& host, uint32_t port) {
  return std::string{"actorrent announce\n"} + nonce + "\n" + peer_id + "\n"
         + host + "\n" + std::to_string(port);
}

void sign_announce(const signing_key& key, const std::string& nonce,
                   pb::Announce& msg) {
  msg.set_peer_id(peer_id_of(key.public_key));
  msg.set_public_key(key.public_key);
  msg.set_nonce(nonce);
  msg.set_signature(
    sign(key, announce_proof(nonce, msg.peer_id(), msg.host(), msg.port())));
}

std::string check_announce_proof(const pb::Announce& msg) {
  if (msg.public_key().size() != 32)
    return "announce without the peer's public key";
  if (peer_id_of(msg.public_key()) != msg.peer_id())
    return "peer id is not the one of the announced key";
  if (!verify(msg.public_key(),
              announce_proof(msg.nonce(), msg.peer_id(), msg.host(), msg.port()),
              msg.signature()))
    return "announce signature does not verify";
  return {};
}

} // namespace actorrent
