#include "actors/transfer/stream_source.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <caf/actor_system.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/log.hpp"
#include "actors/transfer/piece_server.hpp"
#include "actors/transfer/piece_stream.hpp"

namespace actorrent {

namespace {

constexpr auto connect_timeout_ms = 5000;
constexpr auto write_timeout_ms = 5000;

// Connects fd to host:port within connect_timeout_ms; "" or why not.
std::string connect_to(int& fd, const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  auto service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
      rc != 0)
    return std::string{"cannot resolve the host: "} + gai_strerror(rc);
  fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
                0);
  if (fd < 0) {
    freeaddrinfo(res);
    return std::strerror(errno);
  }
  int rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (rc != 0 && errno != EINPROGRESS)
    return std::strerror(errno);
  pollfd p{fd, POLLOUT, 0};
  if (rc != 0 && ::poll(&p, 1, connect_timeout_ms) != 1)
    return "connect timed out";
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0)
    return std::strerror(err);
  // Blocking from here on; writes give up after write_timeout_ms.
  ::fcntl(fd, F_SETFL, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{write_timeout_ms / 1000, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return {};
}

// The reader: connects, says hello, then reads replies until the stream
// ends, handing each to the source actor.
void stream_reader(caf::blocking_actor* self, std::shared_ptr<stream_socket> sock,
                   stream_source_options opts, stream_source_actor parent) {
  auto fd = -1;
  if (auto err = connect_to(fd, opts.host, opts.port); !err.empty()) {
    if (fd >= 0)
      ::close(fd);
    self->send(parent, closed_atom::value,
               "cannot connect to " + opts.host + ":"
                 + std::to_string(opts.port) + ": " + err);
    return;
  }
  sock->fd = fd;
  if (sock->closing)
    return; // the source ended while this connected
  char hello[stream_wire::hello_size];
  std::memcpy(hello, stream_wire::magic, 4);
  stream_wire::put_u32(reinterpret_cast<unsigned char*>(hello) + 4,
                       stream_wire::version);
  std::memcpy(hello + 8, opts.token.data(), stream_wire::token_size);
  if (!stream_wire::write_exact(fd, hello, sizeof hello)) {
    self->send(parent, closed_atom::value, std::string{"hello not sent"});
    return;
  }
  self->send(parent, caf::ok_atom::value);
  unsigned char hdr[stream_wire::reply_header_size];
  for (;;) {
    if (!stream_wire::read_exact(fd, hdr, sizeof hdr)) {
      self->send(parent, closed_atom::value,
                 std::string{"closed by the source"});
      return;
    }
    auto index = stream_wire::get_u32(hdr);
    auto status = stream_wire::get_u32(hdr + 4);
    auto len = stream_wire::get_u32(hdr + 8);
    if (len > opts.max_piece || (status != 0 && len != 0)) {
      self->send(parent, closed_atom::value,
                 "a reply of " + std::to_string(len) + " bytes (at most "
                   + std::to_string(opts.max_piece) + ")");
      return;
    }
    piece_bytes bytes(len);
    if (len > 0 && !stream_wire::read_exact(fd, bytes.data(), len)) {
      self->send(parent, closed_atom::value,
                 std::string{"closed by the source within a piece"});
      return;
    }
    self->send(parent, piece_atom::value, index, status, std::move(bytes));
  }
}

} // namespace

const char* to_string(stream_phase x) {
  static const char* names[] = {"connecting", "open", "closed"};
  return names[static_cast<int>(x)];
}

stream_socket::stream_socket() = default;

stream_socket::~stream_socket() {
  if (fd >= 0)
    ::close(fd);
}

void stream_socket::shutdown() {
  closing = true;
  if (fd >= 0)
    ::shutdown(fd, SHUT_RDWR);
}

caf::result<pb::PieceHeader, piece_bytes>
stream_source_state::request(uint32_t index) {
  if (phase == stream_phase::closed)
    return make_error(errc::no_such_actor, "piece stream closed");
  auto rp = self->make_response_promise<pb::PieceHeader, piece_bytes>();
  pending.push_back(waiting{index, rp});
  if (phase == stream_phase::open && !flush())
    close("cannot write to the stream");
  return rp;
}

bool stream_source_state::flush() {
  // The reader set the socket before it said the stream is open.
  for (; written < pending.size(); ++written) {
    unsigned char req[stream_wire::request_size];
    stream_wire::put_u32(req, pending[written].index);
    if (!stream_wire::write_exact(sock->fd, req, sizeof req))
      return false;
  }
  return true;
}

void stream_source_state::on_reply(uint32_t index, uint32_t status,
                                   piece_bytes& bytes) {
  if (pending.empty() || written == 0 || pending.front().index != index) {
    close("a reply for piece " + std::to_string(index)
          + " that was not asked for next");
    return;
  }
  auto rp = std::move(pending.front().rp);
  pending.pop_front();
  --written;
  if (status == 0) {
    pb::PieceHeader hdr;
    hdr.set_name(opts.name);
    hdr.set_index(index);
    rp.deliver(std::move(hdr), std::move(bytes));
  } else if (status <= static_cast<uint32_t>(errc::unsupported)) {
    rp.deliver(make_error(static_cast<errc>(status), "from the piece stream"));
  } else {
    rp.deliver(make_error(errc::bad_message, "from the piece stream"));
    close("an unknown status " + std::to_string(status));
  }
}

void stream_source_state::close(const std::string& why) {
  if (phase == stream_phase::closed)
    return;
  LOG_DEBUG("stream_source", opts.host << ":" << opts.port << ": "
                                       << to_string(phase) << " -> closed ("
                                       << why << ")");
  phase = stream_phase::closed;
  for (auto& w : pending)
    w.rp.deliver(make_error(errc::no_such_actor, "piece stream: " + why));
  pending.clear();
  written = 0;
  sock->shutdown();
  self->quit(make_error(errc::no_such_actor, "piece stream: " + why));
}

stream_source_state::~stream_source_state() {
  if (sock)
    sock->shutdown();
}

stream_source_actor::behavior_type
stream_source(stream_source_actor::stateful_pointer<stream_source_state> self,
              stream_source_options opts) {
  auto& st = self->state;
  st.self = self;
  st.opts = std::move(opts);
  st.sock = std::make_shared<stream_socket>();
  if (auto owner = caf::actor_cast<caf::actor>(st.opts.owner))
    self->monitor(owner);
  self->set_down_handler([self](caf::down_msg&) {
    self->state.close("its download ended");
  });
  self->spawn<caf::detached>(stream_reader, st.sock, st.opts,
                             stream_source_actor{self});
  return {
    [self](piece_atom, const pb::PieceRequest& req)
      -> caf::result<pb::PieceHeader, piece_bytes> {
      return self->state.request(req.index());
    },
    no_stream,
    [self](caf::ok_atom) {
      auto& st = self->state;
      if (st.phase != stream_phase::connecting)
        return;
      st.phase = stream_phase::open;
      if (!st.flush())
        st.close("cannot write to the stream");
    },
    [self](piece_atom, uint32_t index, uint32_t status, piece_bytes& bytes) {
      self->state.on_reply(index, status, bytes);
    },
    [self](closed_atom, const std::string& why) { self->state.close(why); },
  };
}

} // namespace actorrent
