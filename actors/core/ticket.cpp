#include "actors/core/ticket.hpp"

#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>

#include <sodium.h>

#include "actors/core/manifest.hpp"

namespace actorrent {

namespace {

void init_sodium() {
  if (sodium_init() < 0)
    throw std::runtime_error("libsodium failed to initialize");
}

} // namespace

random_source system_random() {
  init_sodium();
  return [](char* out, size_t n) { randombytes_buf(out, n); };
}

random_source seeded_random(uint64_t seed) {
  auto rng = std::make_shared<std::mt19937_64>(seed);
  auto mtx = std::make_shared<std::mutex>();
  return [rng, mtx](char* out, size_t n) {
    std::lock_guard<std::mutex> guard{*mtx};
    for (size_t i = 0; i < n; ++i)
      out[i] = static_cast<char>((*rng)());
  };
}

signing_key signing_key::generate(const random_source& random) {
  std::string seed(crypto_sign_SEEDBYTES, '\0');
  random(seed.data(), seed.size());
  auto k = from_seed(seed);
  sodium_memzero(seed.data(), seed.size());
  return k;
}

signing_key signing_key::from_seed(const std::string& seed) {
  init_sodium();
  if (seed.size() != crypto_sign_SEEDBYTES)
    throw std::invalid_argument("a key seed has 32 bytes");
  signing_key k;
  k.public_key.resize(crypto_sign_PUBLICKEYBYTES);
  k.secret_key.resize(crypto_sign_SECRETKEYBYTES);
  crypto_sign_seed_keypair(
    reinterpret_cast<unsigned char*>(k.public_key.data()),
    reinterpret_cast<unsigned char*>(k.secret_key.data()),
    reinterpret_cast<const unsigned char*>(seed.data()));
  return k;
}

std::string signing_key::seed() const {
  return secret_key.substr(0, crypto_sign_SEEDBYTES);
}

std::string sign(const signing_key& key, const std::string& bytes) {
  init_sodium();
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(bytes.data()),
                       bytes.size(),
                       reinterpret_cast<const unsigned char*>(
                         key.secret_key.data()));
  return sig;
}

bool verify(const std::string& public_key, const std::string& bytes,
            const std::string& signature) {
  init_sodium();
  return public_key.size() == crypto_sign_PUBLICKEYBYTES
         && signature.size() == crypto_sign_BYTES
         && crypto_sign_verify_detached(
              reinterpret_cast<const unsigned char*>(signature.data()),
              reinterpret_cast<const unsigned char*>(bytes.data()),
              bytes.size(),
              reinterpret_cast<const unsigned char*>(public_key.data()))
              == 0;
}

pb::SignedTicket sign_ticket(const signing_key& key, const pb::Ticket& t) {
  pb::SignedTicket out;
  out.set_ticket(t.SerializeAsString());
  out.set_signature(sign(key, out.ticket()));
  return out;
}

std::string check_ticket(const std::string& public_key,
                         const pb::SignedTicket& st, const std::string& group,
                         const std::string& name,
                         const std::string& file_sha256, int64_t now_unix) {
  init_sodium();
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES)
    return "no tracker key to check tickets with";
  if (st.signature().size() != crypto_sign_BYTES)
    return "ticket missing or without signature";
  if (!verify(public_key, st.ticket(), st.signature()))
    return "ticket signature does not verify (forged or tampered)";
  pb::Ticket t;
  if (!t.ParseFromString(st.ticket()))
    return "malformed ticket";
  if (t.group() != group || t.name() != name)
    return "ticket is for another file (" + t.group() + "/" + t.name() + ")";
  if (t.file_sha256() != file_sha256)
    return "ticket is for another version of " + name;
  if (t.expires_unix() < now_unix)
    return "ticket expired";
  return {};
}

std::string hash_password(const std::string& password) {
  init_sodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(),
                            crypto_pwhash_OPSLIMIT_INTERACTIVE,
                            crypto_pwhash_MEMLIMIT_INTERACTIVE,
                            crypto_pwhash_ALG_ARGON2ID13)
      != 0)
    throw std::runtime_error("out of memory hashing a password");
  return out;
}

bool verify_password(const std::string& hash, const std::string& password) {
  init_sodium();
  return crypto_pwhash_str_verify(hash.c_str(), password.data(),
                                  password.size())
         == 0;
}

std::string random_token(const random_source& random) {
  std::string raw(32, '\0');
  random(raw.data(), raw.size());
  return hex(raw);
}

} // namespace actorrent
