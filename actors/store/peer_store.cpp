#include "actors/store/peer_store.hpp"

#include "actors/core/file_io.hpp"


#include <sys/stat.h>

#include <cstdlib>
#include <random>
#include <stdexcept>

#include "actors/core/manifest.hpp"

namespace actorrent {

sqlite_peer_store::sqlite_peer_store(const std::string& path) : db_(path) {
  // It holds the peer's secret key (SQLite gives its -wal and -shm files
  // the same mode).
  ::chmod(path.c_str(), 0600);
  db_.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY,"
           " value TEXT NOT NULL)");
  db_.exec("CREATE TABLE IF NOT EXISTS hash_cache (path TEXT PRIMARY KEY,"
           " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
           " manifest BLOB NOT NULL)");
  db_.exec("CREATE TABLE IF NOT EXISTS published (name TEXT PRIMARY KEY,"
           " path TEXT NOT NULL)");
  db_.exec("CREATE TABLE IF NOT EXISTS group_shares (user TEXT NOT NULL,"
           " grp TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL,"
           " sha256 BLOB NOT NULL, PRIMARY KEY (user, grp, name))");
  db_.exec("CREATE TABLE IF NOT EXISTS downloads (name TEXT PRIMARY KEY,"
           " dest_dir TEXT NOT NULL, part_path TEXT NOT NULL,"
           " state TEXT NOT NULL, manifest BLOB, bitfield BLOB NOT NULL)");
}

signing_key sqlite_peer_store::identity(const random_source& random) {
  auto get = db_.prepare("SELECT value FROM meta WHERE key = 'identity'");
  if (get.step())
    return signing_key::from_seed(unhex(get.text_at(0)));
  auto key = signing_key::generate(random);
  db_.prepare("INSERT INTO meta (key, value) VALUES ('identity', ?)")
    .bind(1, hex(key.seed()))
    .run();
  return key;
}

std::optional<pb::Manifest>
sqlite_peer_store::cached_manifest(const std::string& path, uint64_t size,
                            int64_t mtime_ns) {
  auto st = db_.prepare("SELECT manifest FROM hash_cache WHERE path = ?"
                        " AND size = ? AND mtime_ns = ?");
  st.bind(1, path).bind(2, static_cast<int64_t>(size)).bind(3, mtime_ns);
  if (!st.step())
    return std::nullopt;
  pb::Manifest m;
  if (!m.ParseFromString(st.blob_at(0)))
    return std::nullopt;
  return m;
}

void sqlite_peer_store::cache_manifest(const std::string& path, uint64_t size,
                                int64_t mtime_ns, const pb::Manifest& m) {
  db_.prepare("INSERT OR REPLACE INTO hash_cache (path, size, mtime_ns,"
              " manifest) VALUES (?,?,?,?)")
    .bind(1, path)
    .bind(2, static_cast<int64_t>(size))
    .bind(3, mtime_ns)
    .bind_blob(4, m.SerializeAsString())
    .run();
}

void sqlite_peer_store::add_published(const std::string& name,
                               const std::string& path) {
  db_.prepare("INSERT OR REPLACE INTO published (name, path) VALUES (?,?)")
    .bind(1, name)
    .bind(2, path)
    .run();
}

void sqlite_peer_store::remove_published(const std::string& name) {
  db_.prepare("DELETE FROM published WHERE name = ?").bind(1, name).run();
}

std::vector<std::pair<std::string, std::string>> sqlite_peer_store::published() {
  std::vector<std::pair<std::string, std::string>> out;
  auto st = db_.prepare("SELECT name, path FROM published ORDER BY name");
  while (st.step())
    out.emplace_back(st.text_at(0), st.text_at(1));
  return out;
}

void sqlite_peer_store::add_group_share(const group_share& s) {
  db_.prepare("INSERT OR REPLACE INTO group_shares (user, grp, name, path,"
              " sha256) VALUES (?,?,?,?,?)")
    .bind(1, s.user)
    .bind(2, s.group)
    .bind(3, s.name)
    .bind(4, s.path)
    .bind_blob(5, s.file_sha256)
    .run();
}

void sqlite_peer_store::remove_group_share(const std::string& user,
                                    const std::string& group,
                                    const std::string& name) {
  db_.prepare("DELETE FROM group_shares WHERE user = ? AND grp = ?"
              " AND (name = ? OR ? = '')")
    .bind(1, user)
    .bind(2, group)
    .bind(3, name)
    .bind(4, name)
    .run();
}

std::vector<peer_store::group_share>
sqlite_peer_store::group_shares(const std::string& user) {
  std::vector<group_share> out;
  auto st = db_.prepare("SELECT user, grp, name, path, sha256 FROM"
                        " group_shares WHERE user = ? ORDER BY grp, name");
  st.bind(1, user);
  while (st.step())
    out.push_back(group_share{st.text_at(0), st.text_at(1), st.text_at(2),
                              st.text_at(3), st.blob_at(4)});
  return out;
}

void sqlite_peer_store::put_download(const download_record& rec) {
  db_.prepare("INSERT OR REPLACE INTO downloads (name, dest_dir, part_path,"
              " state, manifest, bitfield) VALUES (?,?,?,?,?,?)")
    .bind(1, rec.name)
    .bind(2, rec.dest_dir)
    .bind(3, rec.part_path)
    .bind(4, rec.state)
    .bind_blob(5, rec.manifest ? rec.manifest->SerializeAsString() : "")
    .bind_blob(6, rec.bitfield)
    .run();
}

void sqlite_peer_store::set_download_manifest(const std::string& name,
                                       const pb::Manifest& m) {
  db_.prepare("UPDATE downloads SET manifest = ? WHERE name = ?")
    .bind_blob(1, m.SerializeAsString())
    .bind(2, name)
    .run();
}

void sqlite_peer_store::set_download_bitfield(const std::string& name,
                                       const std::string& bits) {
  db_.prepare("UPDATE downloads SET bitfield = ? WHERE name = ?")
    .bind_blob(1, bits)
    .bind(2, name)
    .run();
}

void sqlite_peer_store::set_download_state(const std::string& name,
                                    const std::string& state) {
  db_.prepare("UPDATE downloads SET state = ? WHERE name = ?")
    .bind(1, state)
    .bind(2, name)
    .run();
}

std::vector<download_record> sqlite_peer_store::downloads() {
  std::vector<download_record> out;
  auto st = db_.prepare("SELECT name, dest_dir, part_path, state, manifest,"
                        " bitfield FROM downloads ORDER BY name");
  while (st.step()) {
    download_record r;
    r.name = st.text_at(0);
    r.dest_dir = st.text_at(1);
    r.part_path = st.text_at(2);
    r.state = st.text_at(3);
    if (auto blob = st.blob_at(4); !blob.empty()) {
      pb::Manifest m;
      if (m.ParseFromString(blob))
        r.manifest = std::move(m);
    }
    r.bitfield = st.blob_at(5);
    out.push_back(std::move(r));
  }
  return out;
}

// -- in memory ------------------------------------------------------------------

signing_key memory_peer_store::identity(const random_source& random) {
  if (!seed_.empty())
    return signing_key::from_seed(seed_);
  auto key = signing_key::generate(random);
  seed_ = key.seed();
  return key;
}

std::optional<pb::Manifest>
memory_peer_store::cached_manifest(const std::string& path, uint64_t size,
                                   int64_t mtime_ns) {
  auto i = hash_cache_.find(path);
  if (i == hash_cache_.end() || i->second.size != size
      || i->second.mtime_ns != mtime_ns)
    return std::nullopt;
  return i->second.manifest;
}

void memory_peer_store::cache_manifest(const std::string& path, uint64_t size,
                                       int64_t mtime_ns,
                                       const pb::Manifest& m) {
  hash_cache_[path] = cached{size, mtime_ns, m};
}

void memory_peer_store::add_published(const std::string& name,
                                      const std::string& path) {
  published_[name] = path;
}

void memory_peer_store::remove_published(const std::string& name) {
  published_.erase(name);
}

std::vector<std::pair<std::string, std::string>>
memory_peer_store::published() {
  return {published_.begin(), published_.end()};
}

void memory_peer_store::add_group_share(const group_share& s) {
  group_shares_[{s.user, s.group, s.name}] = s;
}

void memory_peer_store::remove_group_share(const std::string& user,
                                           const std::string& group,
                                           const std::string& name) {
  for (auto i = group_shares_.begin(); i != group_shares_.end();) {
    auto& [u, g, n] = i->first;
    if (u == user && g == group && (name.empty() || n == name))
      i = group_shares_.erase(i);
    else
      ++i;
  }
}

std::vector<peer_store::group_share>
memory_peer_store::group_shares(const std::string& user) {
  std::vector<group_share> out;
  for (auto& [key, s] : group_shares_)
    if (std::get<0>(key) == user)
      out.push_back(s);
  return out;
}

void memory_peer_store::put_download(const download_record& rec) {
  auto& kept = downloads_[rec.name] = rec;
  kept.manifest.reset();
  if (rec.manifest)
    manifests_.insert_or_assign(rec.name, shared_manifest{*rec.manifest});
  else
    manifests_.erase(rec.name);
}

void memory_peer_store::set_download_manifest(const std::string& name,
                                              const pb::Manifest& m) {
  if (downloads_.count(name) > 0)
    manifests_.insert_or_assign(name, shared_manifest{m});
}

void memory_peer_store::set_download_bitfield(const std::string& name,
                                              const std::string& bits) {
  if (auto i = downloads_.find(name); i != downloads_.end())
    i->second.bitfield = bits;
}

void memory_peer_store::set_download_state(const std::string& name,
                                           const std::string& state) {
  if (auto i = downloads_.find(name); i != downloads_.end())
    i->second.state = state;
}

std::vector<download_record> memory_peer_store::downloads() {
  std::vector<download_record> out;
  for (auto& kvp : downloads_) {
    out.push_back(kvp.second);
    if (auto i = manifests_.find(kvp.first); i != manifests_.end())
      out.back().manifest = *i->second;
  }
  return out;
}

std::unique_ptr<peer_store> open_peer_store(const std::string& path) {
  if (path == ":memory:")
    return std::make_unique<memory_peer_store>();
  return std::make_unique<sqlite_peer_store>(path);
}

std::string absolute(const std::string& path) {
  char* p = ::realpath(path.c_str(), nullptr);
  if (p == nullptr)
    return path;
  std::string out = p;
  free(p);
  return out;
}

std::string base_name(const std::string& path) {
  auto pos = path.find_last_of('/');
  return pos == std::string::npos ? path : path.substr(pos + 1);
}

pb::Manifest manifest_of(peer_store& store, file_io& io,
                         const std::string& path, const std::string& name,
                         uint32_t piece_size) {
  uint64_t size = 0;
  int64_t mtime = 0;
  if (!io.stat(path, size, mtime))
    throw std::runtime_error("not a readable regular file: " + path);
  // The same file shared under another name (publicly and in a group) is
  // not hashed again: only the name differs.
  if (auto m = store.cached_manifest(path, size, mtime);
      m && m->piece_size() == piece_size) {
    m->set_name(name);
    return *m;
  }
  auto m = build_manifest(io, path, name, piece_size);
  store.cache_manifest(path, size, mtime, m);
  return m;
}

} // namespace actorrent
