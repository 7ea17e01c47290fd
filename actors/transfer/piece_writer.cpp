#include "actors/transfer/piece_writer.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/fault.hpp"
#include "actors/core/log.hpp"

namespace actorrent {

std::string piece_writer_state::advance(uint32_t index,
                                        const std::vector<char>* data) {
  auto& m = opts.manifest;
  auto n = static_cast<uint32_t>(m.piece_sha256_size());
  std::vector<char> buf;
  for (; cursor < n && opts.have.test(cursor); ++cursor) {
    if (data != nullptr && cursor == index) {
      whole.update(data->data(), data->size());
      continue;
    }
    buf.resize(piece_length(m, cursor));
    auto off = uint64_t{cursor} * m.piece_size();
    if (auto err = opts.io->read(opts.part_path, off, buf.data(), buf.size());
        !err.empty())
      return err;
    whole.update(buf.data(), buf.size());
  }
  return {};
}

caf::result<bool> piece_writer_state::write(uint32_t index,
                                            const std::vector<char>& data) {
  auto& m = opts.manifest;
  if (index >= static_cast<uint32_t>(m.piece_sha256_size()))
    return make_error(errc::bad_piece, std::to_string(index));
  if (data.size() != piece_length(m, index)
      || sha256(data.data(), data.size()) != m.piece_sha256(index))
    return false;
  if (opts.have.test(index))
    return true; // written already (a duplicate from endgame)
  auto off = uint64_t{index} * m.piece_size();
  if (auto err = opts.io->write(opts.part_path, off, data.data(), data.size());
      !err.empty())
    return make_error(errc::io_failure, err);
  opts.have.set(index);
  lib->set_have(m.name(), index);
  if (auto err = advance(index, &data); !err.empty())
    return make_error(errc::io_failure, err);
  return true;
}

caf::result<std::string> piece_writer_state::finish() {
  auto& m = opts.manifest;
  if (auto err = advance(0, nullptr); !err.empty())
    return make_error(errc::io_failure, err);
  if (cursor != static_cast<uint32_t>(m.piece_sha256_size()))
    return make_error(errc::io_failure, "pieces missing in "
                                          + opts.part_path);
  if (whole.finish() != m.file_sha256()) {
    LOG_ERROR("piece_writer", "whole-file SHA-256 of " << m.name()
                                                       << " does not match");
    return make_error(errc::hash_mismatch, "whole-file SHA-256 of " + m.name()
                                             + " does not match its manifest");
  }
  // A crash on either side of the rename is finished at the next start
  // (download_manager::load): the pieces are all recorded as verified, or
  // the final file is in place with the manifest's SHA-256.
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
  // Preallocate so that pieces can be written in any order.
  std::string err = st.opts.io ? st.opts.io->allocate(st.opts.part_path,
                                                      st.opts.manifest.size())
                               : "piece writer without file access";
  if (!err.empty()) {
    LOG_ERROR("piece_writer", err);
    self->quit(make_error(errc::io_failure, err));
    return writer_actor::behavior_type::make_empty_behavior();
  }
  return {
    [=](write_atom, uint32_t index, const std::vector<char>& data) {
      return self->state.write(index, data);
    },
    [=](finish_atom) { return self->state.finish(); },
  };
}

} // namespace actorrent
