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
};

/// The store in SQLite or PostgreSQL (`tracker.db`: tables beside the
/// catalog's in the tracker's database).
std::unique_ptr<placement_store> open_placement_store(const std::string& db);

} // namespace actorrent
