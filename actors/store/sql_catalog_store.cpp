#include "actors/store/sql_catalog_store.hpp"

#include <map>

#include "actors/core/manifest.hpp"

namespace actorrent {

namespace {

// Records what a peer holds of a file (replacing what was known).
const char* put_holding
  = "INSERT INTO holdings (peer_id, name, bitfield) VALUES (?,?,?)"
    " ON CONFLICT (peer_id, name) DO UPDATE SET bitfield = excluded.bitfield";

std::string join_hashes(const pb::Manifest& m) {
  std::string out;
  out.reserve(static_cast<size_t>(m.piece_sha256_size()) * 32);
  for (auto& h : m.piece_sha256())
    out += h;
  return out;
}

} // namespace

sql_catalog_store::sql_catalog_store(const std::string& location,
                                     std::string tracker)
  : db_(location), tracker_(std::move(tracker)) {
  db_.schema({"CREATE TABLE IF NOT EXISTS files ("
              " name TEXT PRIMARY KEY, size INTEGER NOT NULL,"
              " piece_size INTEGER NOT NULL, piece_hashes BLOB NOT NULL,"
              " file_sha256 BLOB NOT NULL)",
              // `tracker`: which tracker holds the peer's session.
              "CREATE TABLE IF NOT EXISTS peers ("
              " peer_id TEXT PRIMARY KEY, host TEXT NOT NULL,"
              " port INTEGER NOT NULL, online INTEGER NOT NULL DEFAULT 0,"
              " tracker TEXT NOT NULL DEFAULT '',"
              " session TEXT NOT NULL DEFAULT '')",
              "CREATE TABLE IF NOT EXISTS holdings ("
              " peer_id TEXT NOT NULL REFERENCES peers(peer_id)"
              " ON DELETE CASCADE, name TEXT NOT NULL REFERENCES files(name),"
              " bitfield BLOB NOT NULL, PRIMARY KEY (peer_id, name))",
              // Group files a peer may hold, granted by the group manager
              // for members.
              "CREATE TABLE IF NOT EXISTS permits ("
              " peer_id TEXT NOT NULL, name TEXT NOT NULL,"
              " PRIMARY KEY (peer_id, name))",
              // Trackers sharing this catalog, with when each was last alive
              // (milliseconds of the database's clock).
              "CREATE TABLE IF NOT EXISTS trackers ("
              " id TEXT PRIMARY KEY, seen_ms INTEGER NOT NULL)",
              // A file's holders in peer id order (bounded source lists).
              "CREATE INDEX IF NOT EXISTS holdings_by_name"
              " ON holdings (name, peer_id)"});
  // A catalog of an older version has no `tracker` and `session` columns.
  for (auto column : {"tracker", "session"}) {
    try {
      db_.prepare(std::string{"SELECT "} + column + " FROM peers LIMIT 0")
        .run();
    } catch (sql::error&) {
      db_.exec(std::string{"ALTER TABLE peers ADD COLUMN "} + column
               + " TEXT NOT NULL DEFAULT ''");
    }
  }
}

void sql_catalog_store::batch(const std::function<void()>& fn) {
  db_.transact(fn);
}

bool sql_catalog_store::shared() const {
  return db_.postgres();
}

bool sql_catalog_store::permitted(const std::string& peer_id,
                                     const std::string& name) {
  if (!is_group_key(name))
    return true;
  auto st = db_.prepare("SELECT 1 FROM permits WHERE peer_id = ? AND name = ?");
  st.bind(1, peer_id).bind(2, name);
  return st.step();
}

void sql_catalog_store::permit(const std::string& peer_id,
                               const std::string& key) {
  db_.transact([&] {
    db_.prepare("INSERT INTO permits (peer_id, name) VALUES (?,?)"
                " ON CONFLICT DO NOTHING")
      .bind(1, peer_id)
      .bind(2, key)
      .run();
  });
}

void sql_catalog_store::withdraw(const std::string& peer_id,
                                    const std::string& key) {
  db_.transact([&] {
    for (auto table : {"holdings", "permits"})
      db_.prepare(std::string{"DELETE FROM "} + table
                  + " WHERE peer_id = ? AND name = ?")
        .bind(1, peer_id)
        .bind(2, key)
        .run();
  });
}

std::optional<pb::Manifest> sql_catalog_store::manifest(const std::string& name) {
  auto st = db_.prepare("SELECT size, piece_size, piece_hashes, file_sha256"
                        " FROM files WHERE name = ?");
  st.bind(1, name);
  if (!st.step())
    return std::nullopt;
  pb::Manifest m;
  m.set_name(name);
  m.set_size(static_cast<uint64_t>(st.int_at(0)));
  m.set_piece_size(static_cast<uint32_t>(st.int_at(1)));
  auto hashes = st.blob_at(2);
  for (size_t i = 0; i + 32 <= hashes.size(); i += 32)
    m.add_piece_sha256(hashes.substr(i, 32));
  m.set_file_sha256(st.blob_at(3));
  return m;
}

std::vector<std::string> sql_catalog_store::announce(const pb::Announce& msg) {
  return db_.transact([&] { return announce_once(msg); });
}

std::vector<std::string>
sql_catalog_store::announce_once(const pb::Announce& msg) {
  std::vector<std::string> rejected;
  db_.prepare("INSERT INTO peers (peer_id, host, port, online, tracker)"
              " VALUES (?,?,?,1,?)"
              " ON CONFLICT(peer_id) DO UPDATE SET host=excluded.host,"
              " port=excluded.port, online=1, tracker=excluded.tracker")
    .bind(1, msg.peer_id())
    .bind(2, msg.host())
    .bind(3, int64_t{msg.port()})
    .bind(4, tracker_)
    .run();
  db_.prepare("DELETE FROM holdings WHERE peer_id = ?")
    .bind(1, msg.peer_id())
    .run();
  auto add_file = db_.prepare("INSERT INTO files (name, size,"
                              " piece_size, piece_hashes, file_sha256)"
                              " VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING");
  auto add_holding = db_.prepare(put_holding);
  for (int i = 0; i < msg.files_size(); ++i) {
    auto& m = msg.files(i);
    std::string why;
    if (!valid_manifest(m, why)) {
      rejected.push_back(m.name() + ": " + why);
      continue;
    }
    if (!permitted(msg.peer_id(), m.name())) {
      rejected.push_back(m.name() + ": a group's file enters the catalog only"
                                    " through the group manager (upload_file"
                                    " by a member)");
      continue;
    }
    if (auto known = manifest(m.name());
        known && known->file_sha256() != m.file_sha256()) {
      rejected.push_back(m.name()
                         + ": a different file with this name is shared");
      continue;
    }
    add_file.bind(1, m.name())
      .bind(2, static_cast<int64_t>(m.size()))
      .bind(3, int64_t{m.piece_size()})
      .bind_blob(4, join_hashes(m))
      .bind_blob(5, m.file_sha256());
    add_file.run();
    auto n = static_cast<uint32_t>(m.piece_sha256_size());
    std::string bits = i < msg.holdings_size() ? msg.holdings(i).bitfield()
                                               : std::string{};
    add_holding.bind(1, msg.peer_id())
      .bind(2, m.name())
      .bind_blob(3, bitfield{n, bits}.bytes());
    add_holding.run();
  }
  return rejected;
}

void sql_catalog_store::have(const pb::Have& msg) {
  db_.transact([&] { have_once(msg); });
}

void sql_catalog_store::have_once(const pb::Have& msg) {
  if (!permitted(msg.peer_id(), msg.name()))
    throw refusal(errc::denied, "no permit for group file " + msg.name());
  auto count = db_.prepare("SELECT length(piece_hashes) / 32 FROM files"
                           " WHERE name = ?");
  count.bind(1, msg.name());
  if (!count.step())
    throw refusal(errc::unknown_file, "unknown file " + msg.name());
  auto n = static_cast<uint32_t>(count.int_at(0));
  count.reset();
  for (auto p : msg.pieces())
    if (p >= n)
      throw refusal(errc::bad_piece, "piece " + std::to_string(p)
                                       + " out of range for " + msg.name());
  auto get = db_.prepare("SELECT bitfield FROM holdings WHERE peer_id = ?"
                         " AND name = ?");
  get.bind(1, msg.peer_id()).bind(2, msg.name());
  bitfield b{n};
  if (get.step())
    b = bitfield{n, get.blob_at(0)};
  get.reset();
  for (auto p : msg.pieces())
    b.set(p);
  db_.prepare(put_holding)
    .bind(1, msg.peer_id())
    .bind(2, msg.name())
    .bind_blob(3, b.bytes())
    .run();
}

void sql_catalog_store::leave(const std::string& peer_id,
                                 const std::string& name) {
  db_.transact([&] {
    if (name.empty()) {
      db_.prepare("DELETE FROM holdings WHERE peer_id = ?")
        .bind(1, peer_id)
        .run();
      db_.prepare("UPDATE peers SET online = 0 WHERE peer_id = ?")
        .bind(1, peer_id)
        .run();
    } else {
      db_.prepare("DELETE FROM holdings WHERE peer_id = ? AND name = ?")
        .bind(1, peer_id)
        .bind(2, name)
        .run();
    }
  });
}

void sql_catalog_store::open_session(const std::string& peer_id,
                                     const std::string& token) {
  db_.transact([&] {
    db_.prepare("UPDATE peers SET session = ?, tracker = ? WHERE peer_id = ?")
      .bind(1, token)
      .bind(2, tracker_)
      .bind(3, peer_id)
      .run();
  });
}

bool sql_catalog_store::adopt_session(const std::string& peer_id,
                                      const std::string& token) {
  if (token.empty())
    return false;
  return db_.transact([&] {
    auto st = db_.prepare("UPDATE peers SET online = 1, tracker = ?"
                          " WHERE peer_id = ? AND session = ?"
                          " RETURNING peer_id");
    st.bind(1, tracker_).bind(2, peer_id).bind(3, token);
    bool adopted = st.step();
    st.reset();
    return adopted;
  });
}

// Another tracker may hold the peer's session by now: only this tracker's
// own sessions end here.
void sql_catalog_store::set_offline(const std::string& peer_id) {
  db_.transact([&] {
    db_.prepare("UPDATE peers SET online = 0 WHERE peer_id = ? AND tracker = ?")
      .bind(1, peer_id)
      .bind(2, tracker_)
      .run();
  });
}

// One tracker (SQLite): nobody; several: the sessions this tracker held.
void sql_catalog_store::set_all_offline() {
  db_.transact([&] {
    if (!shared())
      db_.exec("UPDATE peers SET online = 0");
    else
      db_.prepare("UPDATE peers SET online = 0 WHERE tracker = ?")
        .bind(1, tracker_)
        .run();
  });
}

void sql_catalog_store::alive(uint32_t dead_after_ms) {
  if (!shared())
    return;
  db_.transact([&] {
    auto now = "(extract(epoch from clock_timestamp()) * 1000)::bigint";
    db_.prepare(std::string{"INSERT INTO trackers (id, seen_ms) VALUES (?, "}
                + now + ") ON CONFLICT (id) DO UPDATE SET seen_ms = "
                + "excluded.seen_ms")
      .bind(1, tracker_)
      .run();
    db_.prepare(std::string{"UPDATE peers SET online = 0 WHERE online = 1"
                            " AND tracker IN (SELECT id FROM trackers"
                            " WHERE seen_ms < "}
                + now + " - ?)")
      .bind(1, int64_t{dead_after_ms})
      .run();
  });
}

bool sql_catalog_store::known_peer(const std::string& peer_id) {
  auto st = db_.prepare("SELECT 1 FROM peers WHERE peer_id = ?");
  st.bind(1, peer_id);
  return st.step();
}

pb::FileList sql_catalog_store::list() {
  pb::FileList out;
  auto st = db_.prepare(
    "SELECT f.name, f.size, f.piece_size, length(f.piece_hashes) / 32,"
    " (SELECT count(*) FROM holdings h JOIN peers p USING (peer_id)"
    "   WHERE h.name = f.name AND p.online = 1)"
    " FROM files f WHERE f.name NOT LIKE 'g:%' ORDER BY f.name");
  while (st.step()) {
    auto& f = *out.add_files();
    f.set_name(st.text_at(0));
    f.set_size(static_cast<uint64_t>(st.int_at(1)));
    f.set_pieces(static_cast<uint32_t>(st.int_at(3)));
    f.set_online_sources(static_cast<uint32_t>(st.int_at(4)));
    f.set_complete_sources(0);
  }
  // Complete sources: count in a second pass over holdings.
  auto full = db_.prepare(
    "SELECT h.name, h.bitfield, length(f.piece_hashes) / 32 FROM holdings h"
    " JOIN peers p USING (peer_id) JOIN files f ON f.name = h.name"
    " WHERE p.online = 1");
  std::map<std::string, uint32_t> complete;
  while (full.step()) {
    auto n = static_cast<uint32_t>(full.int_at(2));
    if (bitfield{n, full.blob_at(1)}.all())
      ++complete[full.text_at(0)];
  }
  for (auto& f : *out.mutable_files())
    f.set_complete_sources(complete[f.name()]);
  return out;
}

std::shared_ptr<const pb::Manifest>
sql_catalog_store::known_manifest(const std::string& name) {
  // At most this many bytes of piece hashes (a million pieces' worth);
  // past it the cache starts over.
  constexpr size_t budget = size_t{32} << 20;
  if (auto i = manifests_.find(name); i != manifests_.end())
    return i->second;
  auto m = manifest(name);
  if (!m)
    return nullptr;
  auto bytes = static_cast<size_t>(m->piece_sha256_size()) * 32;
  auto ptr = std::make_shared<const pb::Manifest>(std::move(*m));
  if (bytes > budget)
    return ptr; // kept by no cache
  if (manifest_bytes_ + bytes > budget) {
    manifests_.clear();
    manifest_bytes_ = 0;
  }
  manifests_.emplace(name, ptr);
  manifest_bytes_ += bytes;
  return ptr;
}

std::optional<pb::FileInfo> sql_catalog_store::info(const std::string& name,
                                                    uint32_t max_sources,
                                                    const std::string& from) {
  auto m = known_manifest(name);
  if (!m)
    return std::nullopt;
  pb::FileInfo out;
  auto n = static_cast<uint32_t>(m->piece_sha256_size());
  auto add = [&](sql::statement& st) {
    while (st.step()) {
      bitfield b{n, st.blob_at(3)};
      if (b.count() == 0)
        continue;
      auto& s = *out.add_sources();
      s.set_peer_id(st.text_at(0));
      s.set_host(st.text_at(1));
      s.set_port(static_cast<uint32_t>(st.int_at(2)));
      s.set_bitfield(b.bytes());
      s.set_pieces_held(b.count());
    }
  };
  const std::string select = "SELECT p.peer_id, p.host, p.port, h.bitfield"
                             " FROM holdings h JOIN peers p USING (peer_id)"
                             " WHERE h.name = ? AND p.online = 1";
  if (max_sources == 0) {
    auto st = db_.prepare(select);
    st.bind(1, name);
    add(st);
  } else {
    // A window of the holders in peer id order from `from`, wrapping
    // around: the index on (name, peer_id) finds it, however many hold
    // the file.
    auto after = db_.prepare(select + " AND h.peer_id >= ?"
                             " ORDER BY h.peer_id LIMIT ?");
    after.bind(1, name).bind(2, from).bind(3, int64_t{max_sources});
    add(after);
    auto left = max_sources - static_cast<uint32_t>(out.sources_size());
    if (left > 0 && !from.empty()) {
      auto before = db_.prepare(select + " AND h.peer_id < ?"
                                " ORDER BY h.peer_id LIMIT ?");
      before.bind(1, name).bind(2, from).bind(3, int64_t{left});
      add(before);
    }
  }
  *out.mutable_manifest() = *m;
  return out;
}

} // namespace actorrent
