#include "actors/transfer/piece_writer.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/fault.hpp"
#include "actors/core/log.hpp"

namespace actorrent {

bool written_set::mark(uint32_t i) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (have_.test(i))
    return false;
  have_.set(i);
  return true;
}

bool written_set::test(uint32_t i) const {
  std::lock_guard<std::mutex> guard{mtx_};
  return have_.test(i);
}

bool written_set::all() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return have_.all();
}

caf::result<std::vector<uint32_t>>
piece_writer_state::write(const std::vector<uint32_t>& indices,
                          piece_bytes& data) {
  auto& m = *opts.manifest;
  size_t total = 0;
  for (auto index : indices) {
    if (index >= static_cast<uint32_t>(m.piece_sha256_size()))
      return make_error(errc::bad_piece, std::to_string(index));
    total += piece_length(m, index);
  }
  std::vector<uint32_t> bad;
  if (total != data.size())
    return indices; // bytes that are no such pieces
  size_t at = 0;
  for (auto index : indices) {
    auto len = piece_length(m, index);
    auto* bytes = data.data() + at;
    at += len;
    if (sha256(bytes, len) != m.piece_sha256(index)) {
      bad.push_back(index);
      continue;
    }
    if (opts.written->test(index))
      continue; // written already (a duplicate from endgame)
    auto off = uint64_t{index} * m.piece_size();
    if (auto err = opts.io->write(opts.part_path, off, bytes, len);
        !err.empty())
      return make_error(errc::io_failure, err);
    if (opts.written->mark(index)) {
      // Cached before it is announced: the first request for it finds it.
      if (lib->cache)
        lib->cache->put(m.file_sha256(), index,
                        indices.size() == 1 ? std::move(data)
                                            : piece_bytes(bytes, len));
      lib->set_have(m.name(), index);
    }
  }
  return bad;
}

caf::result<std::string> piece_writer_state::finish() {
  auto& m = *opts.manifest;
  // Every piece passed its SHA-256 against the manifest before it was
  // written: that is the file's check.
  if (!opts.written->all())
    return make_error(errc::io_failure, "pieces missing in "
                                          + opts.part_path);
  // A crash on either side of the rename is finished at the next start
  // (download_manager::load): the pieces are all recorded as verified, or
  // the final file is in place.
  fault_point("before_rename");
  if (auto err = opts.io->rename(opts.part_path, opts.final_path);
      !err.empty())
    return make_error(errc::io_failure, err);
  fault_point("after_rename");
  lib->set_path(m.name(), opts.final_path);
  return opts.final_path;
}

writer_actor::behavior_type
piece_writer(writer_actor::stateful_pointer<piece_writer_state> self,
             writer_options opts, std::shared_ptr<library> lib) {
  auto& st = self->state;
  st.opts = std::move(opts);
  st.lib = std::move(lib);
  if (!st.opts.written)
    st.opts.written = std::make_shared<written_set>(st.opts.have);
  // Preallocate so that pieces can be written in any order.
  std::string err = !st.opts.io         ? "piece writer without file access"
                    : !st.opts.manifest ? "piece writer without a manifest"
                                        : st.opts.io->allocate(st.opts.part_path,
                                                               st.opts.manifest->size());
  if (!err.empty()) {
    LOG_ERROR("piece_writer", err);
    self->quit(make_error(errc::io_failure, err));
    return writer_actor::behavior_type::make_empty_behavior();
  }
  return {
    [=](write_atom, const std::vector<uint32_t>& indices, piece_bytes& data) {
      return self->state.write(indices, data);
    },
    [=](finish_atom) { return self->state.finish(); },
  };
}

} // namespace actorrent
