#include "actors/core/limits.hpp"

#include <google/protobuf/descriptor.h>

namespace actorrent {

namespace {

using google::protobuf::FieldDescriptor;

std::string too_long(const std::string& what, size_t n, size_t max) {
  return what + " has " + std::to_string(n) + " bytes, at most "
         + std::to_string(max);
}

std::string too_many(const std::string& what, size_t n, size_t max) {
  return what + ": " + std::to_string(n) + ", at most " + std::to_string(max);
}

// The bytes of the id fields every peer message carries.
std::string check_peer(const std::string& peer_id, const std::string& session) {
  if (peer_id.size() > max_peer_id_bytes)
    return too_long("peer_id", peer_id.size(), max_peer_id_bytes);
  if (session.size() > max_field_bytes)
    return too_long("session", session.size(), max_field_bytes);
  return {};
}

} // namespace

std::string check_sizes(const google::protobuf::Message& m) {
  auto* d = m.GetDescriptor();
  auto* r = m.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    auto* f = d->field(i);
    if (f->is_repeated()) {
      if (r->FieldSize(m, f) > 0)
        return d->name() + "." + f->name() + " may not repeat here";
      continue;
    }
    if (f->type() == FieldDescriptor::TYPE_STRING
        || f->type() == FieldDescriptor::TYPE_BYTES) {
      std::string scratch;
      auto& v = r->GetStringReference(m, f, &scratch);
      if (v.size() > max_field_bytes)
        return too_long(d->name() + "." + f->name(), v.size(),
                        max_field_bytes);
    } else if (f->type() == FieldDescriptor::TYPE_MESSAGE && r->HasField(m, f)) {
      if (auto why = check_sizes(r->GetMessage(m, f)); !why.empty())
        return why;
    }
  }
  return {};
}

std::string check_sizes(const pb::Announce& a) {
  if (auto why = check_peer(a.peer_id(), {}); !why.empty())
    return why;
  if (a.host().size() > max_host_bytes)
    return too_long("host", a.host().size(), max_host_bytes);
  for (auto* x : {&a.public_key(), &a.nonce(), &a.signature()})
    if (x->size() > max_field_bytes)
      return too_long("a key, nonce or signature", x->size(), max_field_bytes);
  if (static_cast<size_t>(a.files_size()) > max_files_per_announce)
    return too_many("files in one announce", a.files_size(),
                    max_files_per_announce);
  if (a.holdings_size() > a.files_size())
    return "more holdings than files";
  size_t pieces = 0;
  for (auto& m : a.files())
    pieces += static_cast<size_t>(m.piece_sha256_size());
  if (pieces > max_announce_pieces)
    return too_many("piece hashes in one announce", pieces,
                    max_announce_pieces);
  return {};
}

std::string check_sizes(const pb::Manifest& m, const pb::Holding* h,
                        const limits& l) {
  if (m.size() > l.max_file_size)
    return "file of " + std::to_string(m.size())
           + " bytes, larger than tracker.max-file-size ("
           + std::to_string(l.max_file_size) + ")";
  if (static_cast<uint32_t>(m.piece_sha256_size()) > l.max_pieces)
    return too_many("piece hashes", m.piece_sha256_size(), l.max_pieces);
  if (m.file_sha256().size() > 32)
    return too_long("file_sha256", m.file_sha256().size(), 32);
  if (h && h->bitfield().size() > (l.max_pieces + 7) / 8)
    return too_long("bitfield", h->bitfield().size(), (l.max_pieces + 7) / 8);
  return {};
}

std::string check_sizes(const pb::PieceRequest& r) {
  if (static_cast<size_t>(r.more_size()) >= max_batch_pieces)
    return too_many("pieces in one request", r.more_size() + 1,
                    max_batch_pieces);
  for (auto* x : {&r.name(), &r.file_sha256()})
    if (x->size() > max_field_bytes)
      return too_long("a name or SHA-256", x->size(), max_field_bytes);
  return r.has_ticket() ? check_sizes(r.ticket()) : std::string{};
}

std::string check_sizes(const pb::Have& h, const limits& l) {
  if (auto why = check_peer(h.peer_id(), h.session()); !why.empty())
    return why;
  if (static_cast<uint32_t>(h.pieces_size()) > l.max_pieces)
    return too_many("pieces in one have", h.pieces_size(), l.max_pieces);
  if (h.name().size() > max_field_bytes)
    return too_long("name", h.name().size(), max_field_bytes);
  return {};
}

} // namespace actorrent
