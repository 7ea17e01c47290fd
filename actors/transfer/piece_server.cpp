#include "actors/transfer/piece_server.hpp"

#include <algorithm>
#include <cmath>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/limits.hpp"
#include "actors/core/log.hpp"
#include "actors/core/ticket.hpp"

namespace actorrent {

// -- token_bucket ---------------------------------------------------------------

token_bucket::token_bucket(uint64_t rate, time_point now)
  : rate_(rate),
    tokens_(static_cast<double>(rate) / 4),
    burst_(static_cast<double>(rate) / 4),
    last_(now) {
  // A quarter of a second's worth may go out at once.
}

void token_bucket::refill(time_point now) {
  if (now > last_) {
    auto secs = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst_, tokens_ + secs * static_cast<double>(rate_));
    last_ = now;
  }
}

caf::timespan token_bucket::wait_for(double tokens) const {
  if (tokens >= 0)
    return caf::timespan{0};
  // Rounded up: never early.
  auto ns = std::ceil(-tokens * 1e9 / static_cast<double>(rate_));
  return caf::timespan{static_cast<int64_t>(ns)};
}

caf::timespan token_bucket::take(uint64_t bytes, time_point now) {
  if (rate_ == 0)
    return caf::timespan{0};
  refill(now);
  tokens_ -= static_cast<double>(bytes);
  return wait_for(tokens_);
}

caf::timespan token_bucket::delay(uint64_t bytes, time_point now) {
  if (rate_ == 0)
    return caf::timespan{0};
  refill(now);
  return wait_for(tokens_ - static_cast<double>(bytes));
}

// -- piece_server ---------------------------------------------------------------

std::optional<piece_location> locate_requested(const library& lib,
                                               const pb::PieceRequest& req,
                                               int64_t now_unix,
                                               serve_refusal& no) {
  if (auto too_large = check_sizes(req); !too_large.empty()) {
    no = {errc::bad_message, too_large};
    return std::nullopt;
  }
  if (!valid_name(req.name(), no.why)) {
    no.code = errc::bad_name;
    return std::nullopt;
  }
  int code = 0;
  auto loc = lib.locate(req.name(), req.index(), req.file_sha256(), no.why,
                        code);
  if (!loc) {
    no.code = static_cast<errc>(code);
    return std::nullopt;
  }
  if (!loc->group.empty()) {
    // A group's file: not a single piece without a valid ticket.
    no.why = check_ticket(lib.tracker_key(), req.ticket(), loc->group,
                          loc->file_name, loc->file_sha256, now_unix);
    if (!no.why.empty()) {
      no.code = errc::denied;
      return std::nullopt;
    }
  }
  return loc;
}

std::optional<piece_bytes> cached_piece(library& lib, const piece_location& loc,
                                        uint32_t index) {
  if (lib.cache)
    if (auto hit = lib.cache->get(loc.file_sha256, index);
        hit && hit->size() == loc.length) {
      lib.bytes_served += hit->size();
      return hit;
    }
  return std::nullopt;
}

std::optional<piece_bytes> read_located(library& lib, file_io& io,
                                        const piece_location& loc,
                                        uint32_t index, serve_refusal& no) {
  if (auto hit = cached_piece(lib, loc, index))
    return hit;
  piece_bytes buf(loc.length);
  if (auto err = io.read(loc.path, loc.offset, buf.data(), buf.size());
      !err.empty()) {
    no = {errc::io_failure, err};
    return std::nullopt;
  }
  lib.bytes_served += buf.size();
  return buf;
}

caf::result<pb::PieceHeader, piece_bytes>
piece_server_state::serve(const pb::PieceRequest& req) {
  serve_refusal no;
  auto loc = locate_requested(*lib, req, opts.unix_time(), no);
  if (!loc) {
    if (no.code == errc::denied)
      LOG_WARN("piece_server", "refused piece of " << req.name() << ": "
                                                   << no.why);
    return make_error(no.code, no.why);
  }
  pb::PieceHeader hdr;
  hdr.set_name(req.name());
  hdr.set_index(req.index());
  auto now = self->clock().now();
  if (bucket.delay(loc->length, now) > opts.max_wait)
    return make_error(errc::busy, "uploads paced: no budget within "
                                    + std::to_string(opts.max_wait.count()
                                                     / 1000000)
                                    + " ms; try another source");
  auto wait = bucket.take(loc->length, now);
  if (wait.count() == 0) {
    auto buf = read(*loc, req.index());
    if (!buf)
      return buf.error();
    return {std::move(hdr), std::move(*buf)};
  }
  // Over budget: hold the reply; from here on the promise answers.
  auto rp = self->make_response_promise<pb::PieceHeader, piece_bytes>();
  held.push_back(held_reply{now + wait, rp, std::move(hdr),
                            req.file_sha256()});
  self->delayed_send(self, wait, tick_atom::value);
  return rp;
}

caf::expected<piece_bytes>
piece_server_state::read_held(const held_reply& x) {
  std::string why;
  int code = 0;
  auto loc = lib->locate(x.hdr.name(), x.hdr.index(), x.file_sha256, why,
                         code);
  if (!loc)
    return make_error(static_cast<errc>(code), why);
  return read(*loc, x.hdr.index());
}

caf::expected<piece_bytes>
piece_server_state::read(const piece_location& loc, uint32_t index) {
  serve_refusal no;
  if (auto buf = read_located(*lib, *opts.io, loc, index, no))
    return std::move(*buf);
  return make_error(no.code, no.why);
}

caf::result<pb::StreamGrant>
piece_server_state::grant_stream(const pb::StreamRequest& req) {
  if (!opts.streams)
    return no_stream(stream_atom::value, req);
  if (auto too_large = check_sizes(req); !too_large.empty())
    return make_error(errc::bad_message, too_large);
  std::string why;
  if (!valid_name(req.name(), why))
    return make_error(errc::bad_name, why);
  // The checks of a piece request, for the file as a whole: a partial file
  // streams the pieces it has (each located again when asked for).
  auto f = lib->find(req.name());
  if (!f)
    return make_error(errc::unknown_file, req.name());
  if (req.file_sha256() != f->manifest.file_sha256())
    return make_error(errc::conflict,
                      "this peer holds another version of " + req.name());
  if (!f->group.empty()) {
    std::string group, file_name;
    split_group_key(req.name(), group, file_name);
    why = check_ticket(lib->tracker_key(), req.ticket(), f->group, file_name,
                       f->manifest.file_sha256(), opts.unix_time());
    if (!why.empty())
      return make_error(errc::denied, why);
  }
  pb::StreamGrant g;
  g.set_port(opts.streams->port());
  g.set_token(opts.streams->grant(
    stream_grant{req.name(), req.file_sha256(), req.ticket(), {}}));
  return g;
}

void piece_server_state::release() {
  auto now = self->clock().now();
  while (!held.empty() && held.front().due <= now) {
    auto& x = held.front();
    if (auto buf = read_held(x))
      x.rp.deliver(std::move(x.hdr), std::move(*buf));
    else
      x.rp.deliver(buf.error());
    held.pop_front();
  }
}

piece_server_state::~piece_server_state() {
  if (opts.streams)
    opts.streams->revoke_all();
  for (auto& x : held)
    x.rp.deliver(make_error(errc::no_such_actor, "piece server stopped"));
}

paced_piece_server_actor::behavior_type
piece_server(paced_piece_server_actor::stateful_pointer<piece_server_state> self,
             std::shared_ptr<library> lib, piece_server_options opts) {
  if (!opts.io || !opts.unix_time || !lib) {
    self->quit(make_error(errc::io_failure, "piece server without file "
                                            "access, clock or library"));
    return paced_piece_server_actor::behavior_type::make_empty_behavior();
  }
  auto& st = self->state;
  st.self = self;
  st.lib = std::move(lib);
  st.opts = std::move(opts);
  st.bucket = token_bucket{st.opts.upload_limit, self->clock().now()};
  return {
    [=](piece_atom, const pb::PieceRequest& req)
      -> caf::result<pb::PieceHeader, piece_bytes> {
      return self->state.serve(req);
    },
    [=](stream_atom, const pb::StreamRequest& req)
      -> caf::result<pb::StreamGrant> {
      return self->state.grant_stream(req);
    },
    [=](tick_atom) { self->state.release(); },
  };
}

} // namespace actorrent
