#include "actors/store/placement_store.hpp"

#include "actors/store/sql.hpp"

namespace actorrent {

placement_store::~placement_store() = default;

namespace {

const char* add_replica_sql = "INSERT INTO replicas (file_sha256, part,"
                              " mirror_id) VALUES (?, ?, ?)"
                              " ON CONFLICT DO NOTHING";

class sql_placement_store : public placement_store {
public:
  explicit sql_placement_store(const std::string& location) : db_(location) {
    db_.schema({"CREATE TABLE IF NOT EXISTS mirrors ("
                " mirror_id TEXT PRIMARY KEY, host TEXT NOT NULL,"
                " port INTEGER NOT NULL, capacity INTEGER NOT NULL)",
                "CREATE TABLE IF NOT EXISTS mirror_files ("
                " file_sha256 BLOB PRIMARY KEY, manifest BLOB NOT NULL,"
                " part_size INTEGER NOT NULL)",
                "CREATE TABLE IF NOT EXISTS replicas ("
                " file_sha256 BLOB NOT NULL, part INTEGER NOT NULL,"
                " mirror_id TEXT NOT NULL,"
                " PRIMARY KEY (file_sha256, part, mirror_id))",
                "CREATE TABLE IF NOT EXISTS mirror_seen ("
                " mirror_id TEXT PRIMARY KEY, tracker TEXT NOT NULL,"
                " seen_ms INTEGER NOT NULL)"});
  }

  bool shared() const override {
    return db_.postgres();
  }

  // PostgreSQL's clock in milliseconds (only used on a shared database).
  static constexpr const char* now_ms
    = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

  void seen(const std::vector<std::string>& mirror_ids,
            const std::string& tracker) override {
    if (mirror_ids.empty())
      return;
    db_.transact([&] {
      auto st = db_.prepare(std::string{"INSERT INTO mirror_seen (mirror_id,"
                                        " tracker, seen_ms) VALUES (?, ?, "}
                            + now_ms
                            + ") ON CONFLICT (mirror_id) DO UPDATE SET"
                              " tracker = excluded.tracker,"
                              " seen_ms = excluded.seen_ms");
      for (auto& id : mirror_ids)
        st.bind(1, id).bind(2, tracker).run();
    });
  }

  std::vector<seen_elsewhere>
  seen_by_others(const std::string& tracker) override {
    std::vector<seen_elsewhere> out;
    auto st = db_.prepare(std::string{"SELECT mirror_id, tracker, "} + now_ms
                          + " - seen_ms FROM mirror_seen WHERE tracker <> ?");
    st.bind(1, tracker);
    while (st.step())
      out.push_back({st.text_at(0), st.text_at(1), st.int_at(2)});
    return out;
  }

  placement_record load() override {
    placement_record out;
    auto ms = db_.prepare("SELECT mirror_id, host, port, capacity FROM mirrors");
    while (ms.step()) {
      placement_record::mirror m;
      m.address.set_mirror_id(ms.text_at(0));
      m.address.set_host(ms.text_at(1));
      m.address.set_port(static_cast<uint32_t>(ms.int_at(2)));
      m.capacity = static_cast<uint64_t>(ms.int_at(3));
      out.mirrors.push_back(std::move(m));
    }
    auto fs = db_.prepare("SELECT manifest, part_size FROM mirror_files");
    while (fs.step()) {
      placement_record::file f;
      if (!f.manifest.ParseFromString(fs.blob_at(0)))
        continue;
      f.part_size = static_cast<uint64_t>(fs.int_at(1));
      out.files.push_back(std::move(f));
    }
    auto rs = db_.prepare("SELECT file_sha256, part, mirror_id FROM replicas");
    while (rs.step())
      out.replicas.push_back({rs.blob_at(0), static_cast<uint32_t>(rs.int_at(1)),
                              rs.text_at(2)});
    return out;
  }

  void put_mirror(const pb::MirrorAddress& a, uint64_t capacity) override {
    db_.transact([&] {
      db_.prepare("INSERT INTO mirrors (mirror_id, host, port, capacity)"
                  " VALUES (?, ?, ?, ?) ON CONFLICT (mirror_id) DO UPDATE"
                  " SET host = excluded.host, port = excluded.port,"
                  " capacity = excluded.capacity")
        .bind(1, a.mirror_id())
        .bind(2, a.host())
        .bind(3, static_cast<int64_t>(a.port()))
        .bind(4, static_cast<int64_t>(capacity))
        .run();
    });
  }

  void put_file(const pb::Manifest& m, uint64_t part_size) override {
    db_.transact([&] {
      db_.prepare("INSERT INTO mirror_files (file_sha256, manifest,"
                  " part_size) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
        .bind_blob(1, m.file_sha256())
        .bind_blob(2, m.SerializeAsString())
        .bind(3, static_cast<int64_t>(part_size))
        .run();
    });
  }

  void add_replica(const std::string& sha, uint32_t part,
                   const std::string& mirror_id) override {
    db_.transact([&] {
      db_.prepare(add_replica_sql)
        .bind_blob(1, sha)
        .bind(2, static_cast<int64_t>(part))
        .bind(3, mirror_id)
        .run();
    });
  }

  void drop_replica(const std::string& sha, uint32_t part,
                    const std::string& mirror_id) override {
    db_.transact([&] {
      db_.prepare("DELETE FROM replicas WHERE file_sha256 = ? AND part = ?"
                  " AND mirror_id = ?")
        .bind_blob(1, sha)
        .bind(2, static_cast<int64_t>(part))
        .bind(3, mirror_id)
        .run();
    });
  }

  void set_replicas(const std::string& mirror_id,
                    const std::vector<pb::PartRef>& parts) override {
    db_.transact([&] {
      db_.prepare("DELETE FROM replicas WHERE mirror_id = ?")
        .bind(1, mirror_id)
        .run();
      auto ins = db_.prepare(add_replica_sql);
      for (auto& p : parts) {
        ins.bind_blob(1, p.file_sha256())
          .bind(2, static_cast<int64_t>(p.part()))
          .bind(3, mirror_id)
          .run();
      }
    });
  }

private:
  sql::database db_;
};

} // namespace

std::unique_ptr<placement_store> open_placement_store(const std::string& db) {
  return std::make_unique<sql_placement_store>(db);
}

} // namespace actorrent
