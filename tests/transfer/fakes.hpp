// Stand-ins for the transfer actors' tests under the deterministic
// scheduler: files in memory, an in-process directory, a peer agent that
// answers `info` from a FileInfo, and piece servers that serve, hold or
// corrupt pieces and record what they were asked.
#pragma once

#include <cstring>
#include <memory>
#include <optional>
#include <utility>
#include <random>
#include <string>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/environment.hpp"
#include "actors/core/manifest.hpp"
#include "actors/interfaces.hpp"
#include "actors/peer/library.hpp"
#include "actors/transfer/piece_server.hpp"
#include "tests/fixtures.hpp"

namespace actorrent::test {

constexpr uint32_t piece = 16 * 1024;  // 16 KiB: four times the smallest

/// `size` pseudo-random bytes (seeded).
inline std::string random_bytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng{seed};
  std::string out(size, '\0');
  for (auto& c : out)
    c = static_cast<char>(rng());
  return out;
}

/// The manifest of `bytes`, as a sharing peer would build it.
inline pb::Manifest manifest_of_bytes(const std::string& name,
                                      const std::string& bytes,
                                      uint32_t piece_size = piece) {
  pb::Manifest m;
  m.set_name(name);
  m.set_size(bytes.size());
  m.set_piece_size(piece_size);
  for (size_t off = 0; off < bytes.size(); off += piece_size) {
    auto len = std::min<size_t>(piece_size, bytes.size() - off);
    m.add_piece_sha256(sha256(bytes.data() + off, len));
  }
  m.set_file_sha256(sha256(bytes.data(), bytes.size()));
  return m;
}

inline piece_bytes piece_of(const std::string& bytes, uint32_t index,
                            uint32_t piece_size = piece) {
  auto off = size_t{index} * piece_size;
  auto len = std::min<size_t>(piece_size, bytes.size() - off);
  return piece_bytes{bytes.data() + off, len};
}

// -- a peer agent that answers info from a FileInfo ----------------------------

/// What the fake peer answers and what it was told (read by the test; the
/// deterministic scheduler runs one actor at a time).
struct peer_record {
  pb::FileInfo info;                     // no manifest: unknown_file
  std::vector<pb::Manifest> manifests;   // manifest_atom
  std::vector<uint32_t> haves;           // have_atom
  std::vector<pb::BadPieceReport> reports;  // corrupt_atom
  pb::DownloadStatus last;               // last status report
  size_t info_asked = 0;                 // info_atom requests
};

inline peer_actor::behavior_type fake_peer(peer_actor::pointer,
                                           std::shared_ptr<peer_record> rec) {
  return {
    [](command_atom, const pb::PeerRequest&) { return pb::PeerReply{}; },
    [rec](info_atom, const pb::FileQuery& q) -> caf::result<pb::FileInfo> {
      ++rec->info_asked;
      if (!rec->info.has_manifest())
        return make_error(errc::unknown_file, q.name());
      return rec->info;
    },
    [rec](manifest_atom, const pb::Manifest& m) {
      rec->manifests.push_back(m);
    },
    [rec](have_atom, const std::string&, const std::vector<uint32_t>& ps) {
      rec->haves.insert(rec->haves.end(), ps.begin(), ps.end());
    },
    [rec](corrupt_atom, const pb::BadPieceReport& r) {
      rec->reports.push_back(r);
    },
    [rec](status_atom, const pb::DownloadStatus& s) { rec->last = s; },
    [rec](status_atom) {
      pb::DownloadList out;
      *out.add_downloads() = rec->last;
      return out;
    },
    [](reconnect_atom) {},
    [](heartbeat_atom) {},
    [](flush_atom) {},
  };
}

// -- piece servers that serve, hold or corrupt ---------------------------------

/// serve: every piece asked for; single: the first of a request only (a
/// server that does not batch); hold: never answers; corrupt: damaged
/// bytes; busy: refuses; short: a reply a byte shorter than its pieces.
enum class source_mode { serve, single, hold, corrupt, busy, short_reply };

struct source_record {
  source_mode mode = source_mode::serve;
  std::string bytes;
  std::vector<uint32_t> requests;  // every piece asked for, in order
  size_t calls = 0;                // requests (of one or more pieces)
};

struct fake_source_state {
  std::vector<caf::typed_response_promise<pb::PieceHeader, piece_bytes>>
    held;  // never answered
};

inline piece_server_actor::behavior_type
fake_source(piece_server_actor::stateful_pointer<fake_source_state> self,
            std::shared_ptr<source_record> rec) {
  return {
    [self, rec](piece_atom, const pb::PieceRequest& req)
      -> caf::result<pb::PieceHeader, piece_bytes> {
      ++rec->calls;
      rec->requests.push_back(req.index());
      for (auto i : req.more())
        rec->requests.push_back(i);
      if (rec->mode == source_mode::busy)
        return make_error(errc::busy, "uploads paced");
      if (rec->mode == source_mode::hold) {
        auto rp = self->make_response_promise<pb::PieceHeader,
                                              piece_bytes>();
        self->state.held.push_back(rp);
        return rp;
      }
      // Every piece asked for (a batch: end to end), as a peer serves them.
      pb::PieceHeader hdr;
      hdr.set_name(req.name());
      hdr.set_index(req.index());
      if (rec->mode != source_mode::single)
        *hdr.mutable_more() = req.more();
      std::string joined;
      for (int k = -1; k < hdr.more_size(); ++k) {
        auto data = piece_of(rec->bytes, k < 0 ? req.index() : req.more(k));
        if (rec->mode == source_mode::corrupt)
          data[0] = static_cast<char>(data[0] ^ 0x5a);
        joined.append(data.data(), data.size());
      }
      if (rec->mode == source_mode::short_reply)
        joined.pop_back();
      return {std::move(hdr), piece_bytes{joined.data(), joined.size()}};
    },
    no_stream,
  };
}

// -- a client of a piece server ------------------------------------------------

struct client_record {
  std::vector<uint32_t> pieces;     // replies, in order of arrival
  std::vector<std::vector<uint32_t>> more;  // each reply's further pieces
  std::vector<std::string> bytes;   // their bytes
  std::vector<caf::error> errors;
};

/// Forwards every PieceRequest it is sent to `srv` and records the answers.
inline caf::behavior piece_client(caf::event_based_actor* self,
                                  piece_server_actor srv,
                                  std::shared_ptr<client_record> rec) {
  return {
    [=](pb::PieceRequest& req) {
      self->request(srv, std::chrono::seconds(3600), piece_atom::value,
                    std::move(req))
        .then([=](const pb::PieceHeader& hdr, piece_bytes& data) {
                rec->pieces.push_back(hdr.index());
                rec->more.emplace_back(hdr.more().begin(), hdr.more().end());
                rec->bytes.emplace_back(data.data(), data.size());
              },
              [=](caf::error& err) { rec->errors.push_back(err); });
    },
  };
}

// -- the fixture ----------------------------------------------------------------

/// Deterministic scheduler, files in memory, an in-process directory; every
/// actor a test spawns through `track` is stopped at the end.
struct transfer_fixture : deterministic_fixture {
  std::shared_ptr<memory_io> io = std::make_shared<memory_io>();
  std::shared_ptr<directory> dir = make_local_directory(sys);
  std::shared_ptr<library> lib = std::make_shared<library>();
  std::vector<caf::actor_addr> spawned;

  template <class Handle>
  Handle track(Handle h) {
    spawned.push_back(h.address());
    return h;
  }

  ~transfer_fixture() {
    for (auto& a : spawned)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// Publishes a source at HOST:port (picked) and returns its FileInfo entry.
  pb::Source publish(const std::string& id, const piece_server_actor& h,
                     uint32_t pieces) {
    uint16_t port = 0;
    BOOST_REQUIRE_EQUAL(dir->publish(sys, h, "10.0.0." + id, port), "");
    pb::Source s;
    s.set_peer_id(id);
    s.set_host("10.0.0." + id);
    s.set_port(port);
    s.set_bitfield(bitfield{pieces, true}.bytes());
    s.set_pieces_held(pieces);
    return s;
  }

  /// Sends a request, runs every actor until idle and returns the reply
  /// (or the error). Only for actors that answer at once.
  template <class T, class Handle, class... Xs>
  std::pair<std::optional<T>, caf::error> ask(const Handle& h, Xs&&... xs) {
    auto rh = self->request(h, std::chrono::seconds(3600), std::forward<Xs>(xs)...);
    sched.run();
    std::pair<std::optional<T>, caf::error> out;
    rh.receive([&](T& x) { out.first = std::move(x); },
               [&](caf::error& err) { out.second = std::move(err); });
    return out;
  }
};

} // namespace actorrent::test
