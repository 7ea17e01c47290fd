#include "actors/transfer/piece_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/log.hpp"

namespace actorrent {

piece_writer_state::~piece_writer_state() {
  if (fd >= 0)
    ::close(fd);
}

bool piece_writer_state::advance(uint32_t index,
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
    auto off = static_cast<off_t>(uint64_t{cursor} * m.piece_size());
    if (::pread(fd, buf.data(), buf.size(), off)
        != static_cast<ssize_t>(buf.size()))
      return false;
    whole.update(buf.data(), buf.size());
  }
  return true;
}

writer_actor::behavior_type
piece_writer(writer_actor::stateful_pointer<piece_writer_state> self,
             writer_options opts, std::shared_ptr<library> lib) {
  auto& st = self->state;
  st.opts = std::move(opts);
  st.lib = std::move(lib);
  auto fail = [&](const std::string& what) {
    LOG_ERROR("piece_writer", what);
    self->quit(make_error(errc::io_failure, what));
    return writer_actor::behavior_type::make_empty_behavior();
  };
  try {
    st.store = std::make_unique<peer_store>(st.opts.state_db);
    // Resume needs the manifest and the pieces verified so far.
    st.store->set_download_manifest(st.opts.manifest.name(), st.opts.manifest);
    st.store->set_download_bitfield(st.opts.manifest.name(),
                                    st.opts.have.bytes());
  } catch (std::exception& e) {
    return fail(e.what());
  }
  st.fd = ::open(st.opts.part_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (st.fd < 0)
    return fail("cannot open " + st.opts.part_path + ": " + strerror(errno));
  // Preallocate so that pieces can be written in any order.
  auto size = static_cast<off_t>(st.opts.manifest.size());
  if (size > 0 && ::posix_fallocate(st.fd, 0, size) != 0
      && ::ftruncate(st.fd, size) != 0)
    return fail("cannot allocate " + st.opts.part_path + ": "
                + strerror(errno));
  return {
    [=](write_atom, uint32_t index, const std::vector<char>& data)
      -> caf::result<bool> {
      auto& st = self->state;
      auto& m = st.opts.manifest;
      if (index >= static_cast<uint32_t>(m.piece_sha256_size()))
        return make_error(errc::bad_piece, std::to_string(index));
      if (data.size() != piece_length(m, index)
          || sha256(data.data(), data.size()) != m.piece_sha256(index))
        return false;
      size_t done = 0;
      while (done < data.size()) {
        auto n = ::pwrite(st.fd, data.data() + done, data.size() - done,
                          static_cast<off_t>(uint64_t{index} * m.piece_size()
                                             + done));
        if (n < 0 && errno == EINTR)
          continue;
        if (n <= 0)
          return make_error(errc::io_failure, "cannot write "
                                                + st.opts.part_path + ": "
                                                + strerror(errno));
        done += static_cast<size_t>(n);
      }
      st.opts.have.set(index);
      try {
        st.store->set_download_bitfield(m.name(), st.opts.have.bytes());
      } catch (std::exception& e) {
        return make_error(errc::io_failure, e.what());
      }
      st.lib->set_have(m.name(), index);
      if (!st.advance(index, &data))
        return make_error(errc::io_failure, "cannot read back "
                                              + st.opts.part_path);
      return true;
    },
    [=](finish_atom) -> caf::result<std::string> {
      auto& st = self->state;
      auto& m = st.opts.manifest;
      try {
        if (!st.advance(0, nullptr)
            || st.cursor != static_cast<uint32_t>(m.piece_sha256_size()))
          return make_error(errc::io_failure, "cannot read back "
                                                + st.opts.part_path);
        if (st.whole.finish() != m.file_sha256())
          return make_error(errc::hash_mismatch,
                            "whole-file SHA-256 of " + m.name()
                              + " does not match its manifest");
        if (std::rename(st.opts.part_path.c_str(),
                        st.opts.final_path.c_str()) != 0)
          return make_error(errc::io_failure,
                            "cannot rename to " + st.opts.final_path + ": "
                              + strerror(errno));
        st.lib->set_path(m.name(), st.opts.final_path);
        st.store->set_download_state(m.name(), "complete");
      } catch (std::exception& e) {
        return make_error(errc::io_failure, e.what());
      }
      return st.opts.final_path;
    },
  };
}

} // namespace actorrent
