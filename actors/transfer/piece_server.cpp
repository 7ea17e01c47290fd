#include "actors/transfer/piece_server.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <thread>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/log.hpp"
#include "actors/core/ticket.hpp"

namespace actorrent {

piece_server_state::~piece_server_state() {
  for (auto& kvp : fds)
    ::close(kvp.second);
}

piece_server_actor::behavior_type
piece_server(piece_server_actor::stateful_pointer<piece_server_state> self,
             std::shared_ptr<library> lib, uint64_t upload_limit) {
  self->state.lib = std::move(lib);
  self->state.upload_limit = upload_limit;
  return {
    [=](piece_atom, const pb::PieceRequest& req)
      -> caf::result<pb::PieceHeader, std::vector<char>> {
      auto& st = self->state;
      std::string why;
      if (!valid_name(req.name(), why))
        return make_error(errc::bad_name, why);
      int code = 0;
      auto loc = st.lib->locate(req.name(), req.index(), req.file_sha256(),
                                why, code);
      if (!loc)
        return make_error(static_cast<errc>(code), why);
      if (!loc->group.empty()) {
        // A group's file: not a single piece without a valid ticket.
        why = check_ticket(st.lib->tracker_key(), req.ticket(), loc->group,
                           loc->file_name, loc->file_sha256,
                           static_cast<int64_t>(std::time(nullptr)));
        if (!why.empty()) {
          LOG_WARN("piece_server", "refused piece of " << req.name() << ": "
                                                       << why);
          return make_error(errc::denied, why);
        }
      }
      auto i = st.fds.find(loc->path);
      if (i == st.fds.end()) {
        int fd = ::open(loc->path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
          return make_error(errc::io_failure, "cannot open " + loc->path
                                                + ": " + strerror(errno));
        i = st.fds.emplace(loc->path, fd).first;
      }
      std::vector<char> buf(loc->length);
      size_t got = 0;
      while (got < buf.size()) {
        auto n = ::pread(i->second, buf.data() + got, buf.size() - got,
                         static_cast<off_t>(loc->offset + got));
        if (n < 0 && errno == EINTR)
          continue;
        if (n <= 0) {
          ::close(i->second);
          st.fds.erase(i);
          return make_error(errc::io_failure,
                            "short read of " + loc->path);
        }
        got += static_cast<size_t>(n);
      }
      if (st.upload_limit > 0) {
        auto now = std::chrono::steady_clock::now();
        st.next_free = std::max(st.next_free, now)
                       + std::chrono::nanoseconds(got * 1000000000ull
                                                  / st.upload_limit);
        std::this_thread::sleep_until(st.next_free);
      }
      st.lib->bytes_served += got;
      pb::PieceHeader hdr;
      hdr.set_name(req.name());
      hdr.set_index(req.index());
      return {std::move(hdr), std::move(buf)};
    },
  };
}

} // namespace actorrent
