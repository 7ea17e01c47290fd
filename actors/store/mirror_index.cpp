#include "actors/store/mirror_index.hpp"

namespace actorrent {

mirror_index::mirror_index(const std::string& path) : db_(path) {
  db_.exec("CREATE TABLE IF NOT EXISTS files ("
           " file_sha256 BLOB PRIMARY KEY, manifest BLOB NOT NULL)");
  db_.exec("CREATE TABLE IF NOT EXISTS parts ("
           " file_sha256 BLOB NOT NULL REFERENCES files(file_sha256),"
           " part INTEGER NOT NULL, part_size INTEGER NOT NULL,"
           " PRIMARY KEY (file_sha256, part))");
}

std::map<std::string, pb::Manifest> mirror_index::manifests() {
  std::map<std::string, pb::Manifest> out;
  auto st = db_.prepare("SELECT file_sha256, manifest FROM files");
  while (st.step()) {
    pb::Manifest m;
    if (m.ParseFromString(st.blob_at(1)))
      out.emplace(st.blob_at(0), std::move(m));
  }
  return out;
}

std::vector<stored_part> mirror_index::parts() {
  std::vector<stored_part> out;
  auto st = db_.prepare("SELECT file_sha256, part, part_size FROM parts");
  while (st.step())
    out.push_back({st.blob_at(0), static_cast<uint32_t>(st.int_at(1)),
                   static_cast<uint32_t>(st.int_at(2))});
  return out;
}

void mirror_index::add(const pb::Manifest& m, uint32_t part,
                       uint32_t part_size) {
  sql::transaction tx{db_};
  db_.prepare("INSERT OR IGNORE INTO files (file_sha256, manifest)"
              " VALUES (?, ?)")
    .bind_blob(1, m.file_sha256())
    .bind_blob(2, m.SerializeAsString())
    .run();
  db_.prepare("INSERT OR REPLACE INTO parts (file_sha256, part, part_size)"
              " VALUES (?, ?, ?)")
    .bind_blob(1, m.file_sha256())
    .bind(2, static_cast<int64_t>(part))
    .bind(3, static_cast<int64_t>(part_size))
    .run();
  tx.commit();
}

void mirror_index::drop(const std::string& file_sha256, uint32_t part) {
  sql::transaction tx{db_};
  db_.prepare("DELETE FROM parts WHERE file_sha256 = ? AND part = ?")
    .bind_blob(1, file_sha256)
    .bind(2, static_cast<int64_t>(part))
    .run();
  db_.prepare("DELETE FROM files WHERE file_sha256 = ? AND NOT EXISTS"
              " (SELECT 1 FROM parts WHERE parts.file_sha256 = ?)")
    .bind_blob(1, file_sha256)
    .bind_blob(2, file_sha256)
    .run();
  tx.commit();
}

} // namespace actorrent
