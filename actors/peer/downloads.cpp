#include "actors/peer/downloads.hpp"

#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/log.hpp"
#include "actors/peer/peer.hpp"
#include "actors/transfer/piece_fetcher.hpp"

namespace actorrent {

bool finished(const pb::DownloadStatus& s) {
  return s.state() == pb::COMPLETE || s.state() == pb::FAILED;
}

download_manager::download_manager(peer_self self)
  : self_(self),
    children_(std::make_shared<std::vector<caf::actor_addr>>()) {
  // The fetchers end with the peer (monitored, not linked: one that fails
  // must not take the peer along; on_down records why).
  self_->attach_functor([children = children_] {
    for (auto& addr : *children)
      caf::anon_send_exit(addr, caf::exit_reason::user_shutdown);
  });
}

download_manager::~download_manager() = default;

void download_manager::load() {
  auto& st = self_->state;
  for (auto& rec : st.store->downloads()) {
    if (rec.manifest)
      verified_[rec.name] = verified_pieces{
        rec.manifest->file_sha256(),
        bitfield{static_cast<uint32_t>(rec.manifest->piece_sha256_size()),
                 rec.bitfield}};
    if (rec.state == "downloading" && finished_on_disk(rec)) {
      LOG_INFO("peer", rec.name << " was renamed into place before the peer"
                                   " stopped: complete");
      complete_record(rec);
    } else if (rec.state == "downloading") {
      LOG_INFO("peer", "resuming download of " << rec.name);
      spawn(rec);
    } else if (rec.state == "complete") {
      load_complete(rec);
    }
  }
}

void download_manager::load_complete(const download_record& rec) {
  std::string group, name = rec.name;
  split_group_key(rec.name, group, name);
  auto path = rec.dest_dir + "/" + name;
  std::string why;
  // A group's file is shared again when its user logs in.
  if (group.empty() && !self_->state.shares.share(path, rec.name, "", why))
    LOG_WARN("peer", "no longer sharing download " << rec.name << ": " << why);
  auto& s = statuses_[rec.name];
  s.set_name(rec.name);
  s.set_dest(path);
  s.set_state(pb::COMPLETE);
  if (rec.manifest) {
    s.set_size(rec.manifest->size());
    s.set_bytes_done(rec.manifest->size());
  }
}

bool download_manager::finished_on_disk(const download_record& rec) {
  if (!rec.manifest)
    return false;
  auto& io = *self_->state.env.io;
  std::string group, name = rec.name;
  split_group_key(rec.name, group, name);
  auto final_path = rec.dest_dir + "/" + name;
  uint64_t size = 0;
  int64_t mtime = 0;
  if (io.stat(part_path(rec.dest_dir, name), size, mtime)
      || !io.stat(final_path, size, mtime) || size != rec.manifest->size())
    return false;
  try {
    auto m = build_manifest(io, final_path, rec.name,
                            rec.manifest->piece_size());
    return m.file_sha256() == rec.manifest->file_sha256();
  } catch (std::exception&) {
    return false;
  }
}

void download_manager::complete_record(const download_record& rec) {
  try {
    self_->state.store->set_download_state(rec.name, "complete");
  } catch (std::exception& e) {
    LOG_ERROR("peer", "cannot record " << rec.name << " as complete: "
                                       << e.what());
  }
  auto done = rec;
  done.state = "complete";
  load_complete(done);
}

void download_manager::spawn(const download_record& rec) {
  auto& st = self_->state;
  fetch_options fo;
  fo.name = rec.name;
  fo.dest_dir = rec.dest_dir;
  fo.self_id = st.peer_id;
  fo.window = st.opts.window;
  fo.request_timeout = std::chrono::milliseconds(st.opts.request_timeout_ms);
  fo.fail_when_stalled = st.opts.one_shot;
  fo.manifest = rec.manifest;
  fo.have = rec.bitfield;
  fo.connector = st.env.dir->connector();
  fo.io = st.env.io;
  fo.blocking = st.env.blocking;
  fo.streams = st.env.streams;
  fo.seed = derive_seed(st.env.seed, st.peer_id + "/" + rec.name);
  auto f = self_->spawn<caf::monitored>(piece_fetcher, std::move(fo),
                                        peer_actor{self_}, st.lib);
  fetchers_[rec.name] = f;
  children_->push_back(f.address());
  pb::DownloadStatus s;
  s.set_name(rec.name);
  s.set_dest(rec.dest_dir);
  s.set_state(pb::FETCHING_INFO);
  statuses_[rec.name] = s;
}

bool download_manager::active(const std::string& key) const {
  return fetchers_.count(key) > 0;
}

std::string download_manager::start(const std::string& key,
                                    const std::string& dest,
                                    const local_file* partial) {
  auto& st = self_->state;
  std::string group, name = key;
  split_group_key(key, group, name);
  download_record rec;
  rec.name = key;
  rec.dest_dir = dest;
  rec.part_path = part_path(dest, name);
  rec.state = "downloading";
  if (partial != nullptr) {
    rec.manifest = partial->manifest;
    rec.bitfield = partial->have.bytes();
  }
  try {
    st.store->put_download(rec);
  } catch (std::exception& e) {
    return e.what();
  }
  verified_.erase(key);
  spawn(rec);
  return {};
}

namespace {

/// Where a download of catalog name `key` into `dest` keeps its pieces.
std::string part_of(const std::string& key, const std::string& dest) {
  std::string group, name = key;
  split_group_key(key, group, name);
  return part_path(dest, name);
}

} // namespace

pb::PeerReply download_manager::fetch(const pb::FetchFiles& rq) {
  auto& st = self_->state;
  auto dest = rq.dest().empty() ? st.opts.download_dir : rq.dest();
  if (!st.env.io->make_dirs(dest))
    return make_reply(1, "cannot create directory " + dest);
  dest = absolute(dest);
  auto out = make_reply(0);
  for (auto& name : rq.names()) {
    std::string why;
    if (!valid_name(name, why)) {
      out.add_lines("refused: " + why);
      out.set_code(1);
    } else if (active(name)) {
      out.add_lines(name + ": already downloading");
    } else if (auto held = st.lib->find(name);
               held && !held->have.all() && held->path == part_of(name, dest)) {
      // Part of it, from a download this agent no longer knows (it lost
      // its state): resumed with the verified pieces.
      if (auto err = start(name, dest, &*held); !err.empty()) {
        out.add_lines(name + ": " + err);
        out.set_code(1);
      } else {
        out.add_lines("resuming " + name + " to " + dest + " ("
                      + std::to_string(held->have.count()) + " pieces held)");
      }
    } else if (held) {
      out.add_lines(name + ": already held by this peer");
    } else if (auto err = start(name, dest); !err.empty()) {
      out.add_lines(name + ": " + err);
      out.set_code(1);
    } else {
      out.add_lines("fetching " + name + " to " + dest);
    }
  }
  return out;
}

void download_manager::on_manifest(const pb::Manifest& m) {
  // Another version of the file than the one recorded starts from nothing
  // (the fetcher does the same).
  auto i = verified_.find(m.name());
  bool other = i == verified_.end() || i->second.file_sha256 != m.file_sha256();
  if (other)
    verified_[m.name()] = verified_pieces{
      m.file_sha256(),
      bitfield{static_cast<uint32_t>(m.piece_sha256_size())}};
  // No pieces recorded for it before its manifest is: the old version's
  // pieces never count for the new one, even if the peer dies right here.
  if (other) {
    unrecorded_.erase(m.name());
    record(m.name());
  }
  try {
    self_->state.store->set_download_manifest(m.name(), m);
  } catch (std::exception& e) {
    LOG_ERROR("peer", "cannot record the manifest of " << m.name() << ": "
                                                       << e.what());
  }
}

void download_manager::on_have(const std::string& name, uint32_t piece) {
  auto i = verified_.find(name);
  if (i != verified_.end() && piece < i->second.pieces.size()) {
    // Recorded with the next flush of haves (one transaction per file and
    // flush interval, or per `record_every` pieces, not per piece): a
    // killed peer fetches again at most the pieces in flight and the last
    // `record_every` - 1 it verified.
    i->second.pieces.set(piece);
    unrecorded_.insert(name);
    if (++unrecorded_pieces_ >= record_every)
      flush();
  }
  self_->state.tracker.have(name, piece); // arms the flush
}

void download_manager::flush() {
  auto names = std::move(unrecorded_);
  unrecorded_.clear();
  unrecorded_pieces_ = 0;
  for (auto& name : names)
    record(name);
}

void download_manager::record(const std::string& name) {
  try {
    self_->state.store->set_download_bitfield(name,
                                             verified_[name].pieces.bytes());
  } catch (std::exception& e) {
    LOG_ERROR("peer", "cannot record pieces of " << name << ": " << e.what());
  }
}

void download_manager::on_status(const pb::DownloadStatus& s) {
  auto& old = statuses_[s.name()];
  bool completed = s.state() == pb::COMPLETE && old.state() != pb::COMPLETE;
  old = s;
  if (!completed)
    return;
  if (unrecorded_.erase(s.name()) > 0)
    record(s.name());
  try {
    self_->state.store->set_download_state(s.name(), "complete");
  } catch (std::exception& e) {
    LOG_ERROR("peer", "cannot record " << s.name() << " as complete: "
                                       << e.what());
  }
}

bool download_manager::on_down(const caf::down_msg& dm) {
  for (auto i = fetchers_.begin(); i != fetchers_.end(); ++i) {
    if (i->second.address() != dm.source)
      continue;
    auto& s = statuses_[i->first];
    if (dm.reason && !finished(s)) {
      s.set_state(pb::FAILED);
      s.set_reason(render(dm.reason));
    }
    fetchers_.erase(i);
    return true;
  }
  return false;
}

pb::DownloadList download_manager::list() const {
  pb::DownloadList out;
  out.set_session(self_->state.tracker.session());
  for (auto& kvp : statuses_)
    *out.add_downloads() = kvp.second;
  return out;
}

size_t download_manager::count_active() const {
  size_t n = 0;
  for (auto& kvp : statuses_)
    n += finished(kvp.second) ? 0 : 1;
  return n;
}

} // namespace actorrent
