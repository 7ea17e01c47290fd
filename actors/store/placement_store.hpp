// Placement's durable state: the mirrors it knows, the files published to
// them (manifest and part size) and which mirror holds which part. An
// interface, so that another database can stand in for SQLite. Every call is
// one transaction; database failures throw std::runtime_error.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "messages/actorrent.pb.h"

namespace actorrent {

struct placement_record {
  struct mirror {
    pb::MirrorAddress address;
    uint64_t capacity = 0;
  };
  struct file {
    pb::Manifest manifest;
    uint64_t part_size = 0;
  };
  struct replica {
    std::string file_sha256;
    uint32_t part = 0;
    std::string mirror_id;
  };
  std::vector<mirror> mirrors;
  std::vector<file> files;
  std::vector<replica> replicas;
};

class placement_store {
public:
  virtual ~placement_store();
  virtual placement_record load() = 0;
  virtual void put_mirror(const pb::MirrorAddress& a, uint64_t capacity) = 0;
  virtual void put_file(const pb::Manifest& m, uint64_t part_size) = 0;
  virtual void add_replica(const std::string& file_sha256, uint32_t part,
                           const std::string& mirror_id) = 0;
  virtual void drop_replica(const std::string& file_sha256, uint32_t part,
                            const std::string& mirror_id) = 0;
  /// Replaces what a mirror holds (it registered with this list).
  virtual void set_replicas(const std::string& mirror_id,
                            const std::vector<pb::PartRef>& parts) = 0;

  // -- several trackers on one database (PostgreSQL) ------------------------

  /// True when other trackers' placements may share this database.
  virtual bool shared() const = 0;
  /// Records that `mirror_ids` are alive, registered with `tracker`, now
  /// (the database's clock: trackers' clocks need not agree).
  virtual void seen(const std::vector<std::string>& mirror_ids,
                    const std::string& tracker) = 0;
  /// Mirrors registered with other trackers than `tracker`: how many
  /// milliseconds ago each was last recorded alive, and by which tracker.
  struct seen_elsewhere {
    std::string mirror_id;
    std::string tracker;
    int64_t silent_ms = 0;
  };
  virtual std::vector<seen_elsewhere> seen_by_others(
    const std::string& tracker) = 0;
};

/// The store in SQLite or PostgreSQL (`tracker.db`: tables beside the
/// catalog's in the tracker's database).
std::unique_ptr<placement_store> open_placement_store(const std::string& db);

} // namespace actorrent
