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

caf::expected<piece_bytes>
read_batch(const std::vector<batch_piece>& pieces, pb::PieceHeader& hdr,
           const std::function<std::string(size_t, char*)>& read) {
  if (pieces.empty())
    return make_error(errc::bad_message, "no piece asked for");
  size_t total = 0;
  for (auto& p : pieces)
    total += p.length;
  piece_bytes buf(total);
  size_t used = 0;
  hdr.set_index(pieces.front().index);
  hdr.clear_more();
  for (size_t i = 0; i < pieces.size(); ++i) {
    auto err = read(i, buf.data() + used);
    if (!err.empty()) {
      if (i == 0)
        return make_error(errc::io_failure, err);
      continue; // left out of the reply
    }
    if (i > 0)
      hdr.add_more(pieces[i].index);
    used += pieces[i].length;
  }
  if (used < total)
    return piece_bytes(buf.data(), used);
  return buf;
}

std::optional<piece_server_state::located>
piece_server_state::locate(const pb::PieceRequest& req, serve_refusal& no) {
  auto first = locate_requested(*lib, req, opts.unix_time(), no);
  if (!first)
    return std::nullopt;
  located out;
  uint64_t total = first->length;
  out.emplace_back(req.index(), std::move(*first));
  for (auto i : req.more()) {
    std::string why;
    int code = 0;
    auto loc = lib->locate(req.name(), i, req.file_sha256(), why, code);
    if (!loc || total + loc->length > piece_bytes::max_size)
      continue; // not here (or over the size of one reply): left out
    total += loc->length;
    out.emplace_back(i, std::move(*loc));
  }
  return out;
}

caf::expected<piece_bytes>
piece_server_state::read(const located& pieces, pb::PieceHeader& hdr) {
  serve_refusal no;
  if (pieces.size() == 1) {
    hdr.set_index(pieces.front().first);
    if (auto buf = read_located(*lib, *opts.io, pieces.front().second,
                                pieces.front().first, no))
      return std::move(*buf);
    return make_error(no.code, no.why);
  }
  std::vector<batch_piece> order;
  for (auto& [i, loc] : pieces)
    order.push_back({i, loc.length});
  return read_batch(order, hdr, [&](size_t k, char* dst) -> std::string {
    auto& [index, loc] = pieces[k];
    if (auto hit = cached_piece(*lib, loc, index)) {
      std::copy(hit->data(), hit->data() + hit->size(), dst);
      return {};
    }
    auto err = opts.io->read(loc.path, loc.offset, dst, loc.length);
    if (err.empty())
      lib->bytes_served += loc.length;
    return err;
  });
}

caf::result<pb::PieceHeader, piece_bytes>
piece_server_state::serve(const pb::PieceRequest& req) {
  serve_refusal no;
  auto pieces = locate(req, no);
  if (!pieces) {
    if (no.code == errc::denied)
      LOG_WARN("piece_server", "refused piece of " << req.name() << ": "
                                                   << no.why);
    return make_error(no.code, no.why);
  }
  uint64_t total = 0;
  for (auto& kvp : *pieces)
    total += kvp.second.length;
  auto now = self->clock().now();
  if (bucket.delay(total, now) > opts.max_wait)
    return make_error(errc::busy, "uploads paced: no budget within "
                                    + std::to_string(opts.max_wait.count()
                                                     / 1000000)
                                    + " ms; try another source");
  auto wait = bucket.take(total, now);
  if (wait.count() == 0) {
    pb::PieceHeader hdr;
    hdr.set_name(req.name());
    auto buf = read(*pieces, hdr);
    if (!buf)
      return buf.error();
    return {std::move(hdr), std::move(*buf)};
  }
  // Over budget: hold the reply; from here on the promise answers.
  auto rp = self->make_response_promise<pb::PieceHeader, piece_bytes>();
  held.push_back(held_reply{now + wait, rp, req});
  self->delayed_send(self, wait, tick_atom::value);
  return rp;
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
  if (req.file_sha256() != f->manifest->file_sha256())
    return make_error(errc::conflict,
                      "this peer holds another version of " + req.name());
  if (!f->group.empty()) {
    std::string group, file_name;
    split_group_key(req.name(), group, file_name);
    why = check_ticket(lib->tracker_key(), req.ticket(), f->group, file_name,
                       f->manifest->file_sha256(), opts.unix_time());
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
    serve_refusal no;
    pb::PieceHeader hdr;
    hdr.set_name(x.req.name());
    // Located again: a partial file may have been renamed meanwhile.
    auto pieces = locate(x.req, no);
    auto buf = pieces ? read(*pieces, hdr)
                      : caf::expected<piece_bytes>{make_error(no.code, no.why)};
    if (buf)
      x.rp.deliver(std::move(hdr), std::move(*buf));
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
