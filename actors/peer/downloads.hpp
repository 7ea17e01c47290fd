// A peer's downloads: one piece fetcher each (monitored, never linked), the
// progress they report, and the resume records in the state database (the
// manifest, and the verified pieces recorded per flush of haves).
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "actors/core/manifest.hpp"
#include "actors/peer/self.hpp"

namespace actorrent {

struct download_record;
struct local_file;

class download_manager {
public:
  explicit download_manager(peer_self self);
  ~download_manager();

  /// Resumes unfinished downloads, lists finished ones.
  void load();

  /// `fetch NAME... [--to DIR]`
  pb::PeerReply fetch(const pb::FetchFiles& rq);
  /// Starts downloading catalog name `key` (a group key for a group's file)
  /// into `dest`; "" or why not.
  std::string start(const std::string& key, const std::string& dest,
                    const local_file* partial = nullptr);
  bool active(const std::string& key) const;

  // -- what fetchers report ------------------------------------------------------
  void on_manifest(const pb::Manifest& m);
  void on_have(const std::string& name, uint32_t piece);
  void on_status(const pb::DownloadStatus& s);
  /// Records the pieces verified since the last flush (the peer's flush
  /// timer, armed by each have, or `record_every` haves, whichever comes
  /// first).
  void flush();
  /// At most this many verified pieces wait for their record: a fast
  /// download verifies tens of pieces per flush interval.
  static constexpr size_t record_every = 8;
  /// True when the down message was about a fetcher.
  bool on_down(const caf::down_msg& dm);

  pb::DownloadList list() const;
  size_t count_active() const;

private:
  void spawn(const download_record& rec);
  /// A finished download: shared again (public files) and listed.
  void load_complete(const download_record& rec);
  /// True when a download recorded as running was already renamed into
  /// place, whole and verified, before the peer stopped.
  bool finished_on_disk(const download_record& rec);
  void complete_record(const download_record& rec);
  /// Writes the verified pieces of `name` to the state database.
  void record(const std::string& name);

  peer_self self_;
  std::map<std::string, fetcher_actor> fetchers_;
  /// Every fetcher spawned: they end with the peer (shared with a cleanup
  /// functor that outlives the state).
  std::shared_ptr<std::vector<caf::actor_addr>> children_;
  std::map<std::string, pb::DownloadStatus> statuses_;
  /// Verified pieces per download, of which version of the file.
  struct verified_pieces {
    std::string file_sha256;
    bitfield pieces;
  };
  std::map<std::string, verified_pieces> verified_;
  /// Downloads with verified pieces not recorded yet.
  std::set<std::string> unrecorded_;
  size_t unrecorded_pieces_ = 0;
};

/// True when the download ended (complete or failed).
bool finished(const pb::DownloadStatus& s);

} // namespace actorrent
