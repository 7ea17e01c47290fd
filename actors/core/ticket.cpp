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
  init_sodium();
  signing_key k;
  k.public_key.resize(crypto_sign_PUBLICKEYBYTES);
  k.secret_key.resize(crypto_sign_SECRETKEYBYTES);
  std::string seed(crypto_sign_SEEDBYTES, '\0');
  random(seed.data(), seed.size());
  crypto_sign_seed_keypair(
    reinterpret_cast<unsigned char*>(k.public_key.data()),
    reinterpret_cast<unsigned char*>(k.secret_key.data()),
    reinterpret_cast<const unsigned char*>(seed.data()));
  sodium_memzero(seed.data(), seed.size());
  return k;
}

pb::SignedTicket sign_ticket(const signing_key& key, const pb::Ticket& t) {
  init_sodium();
  pb::SignedTicket out;
  out.set_ticket(t.SerializeAsString());
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(out.ticket().data()),
                       out.ticket().size(),
                       reinterpret_cast<const unsigned char*>(
                         key.secret_key.data()));
  out.set_signature(std::move(sig));
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
  if (crypto_sign_verify_detached(
        reinterpret_cast<const unsigned char*>(st.signature().data()),
        reinterpret_cast<const unsigned char*>(st.ticket().data()),
        st.ticket().size(),
        reinterpret_cast<const unsigned char*>(public_key.data()))
      != 0)
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
