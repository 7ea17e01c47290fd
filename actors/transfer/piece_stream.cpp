#include "actors/transfer/piece_stream.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "actors/core/log.hpp"
#include "actors/transfer/piece_server.hpp"

namespace actorrent {

namespace stream_wire {

void put_u32(unsigned char* out, uint32_t x) {
  out[0] = static_cast<unsigned char>(x >> 24);
  out[1] = static_cast<unsigned char>(x >> 16);
  out[2] = static_cast<unsigned char>(x >> 8);
  out[3] = static_cast<unsigned char>(x);
}

uint32_t get_u32(const unsigned char* in) {
  return (uint32_t{in[0]} << 24) | (uint32_t{in[1]} << 16)
         | (uint32_t{in[2]} << 8) | uint32_t{in[3]};
}

namespace {
// Repeats `op(pointer, left)` (a recv or send) until n bytes went through.
template <class Ptr, class Op>
bool exactly(Ptr p, size_t n, Op op) {
  while (n > 0) {
    auto r = op(p, n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}
} // namespace

bool read_exact(int fd, void* out, size_t n) {
  return exactly(static_cast<char*>(out), n, [fd](char* p, size_t k) {
    return ::recv(fd, p, k, 0);
  });
}

bool write_exact(int fd, const void* data, size_t n, int flags) {
  return exactly(static_cast<const char*>(data), n,
                 [fd, flags](const char* p, size_t k) {
                   return ::send(fd, p, k, MSG_NOSIGNAL | flags);
                 });
}

} // namespace stream_wire

// -- stream_grants ------------------------------------------------------------

stream_grants::stream_grants(uint16_t port, random_source random)
  : port_(port), random_(std::move(random)) {
}

std::string stream_grants::grant(stream_grant g) {
  std::string token(stream_wire::token_size, '\0');
  random_(token.data(), token.size());
  g.expires = std::chrono::steady_clock::now() + grant_lifetime;
  std::lock_guard<std::mutex> guard{mtx_};
  g.epoch = epoch_;
  while (grants_.size() >= max_grants && !order_.empty()) {
    grants_.erase(order_.front());
    order_.pop_front();
  }
  grants_[token] = std::move(g);
  order_.push_back(token);
  return token;
}

void stream_grants::revoke_all() {
  std::lock_guard<std::mutex> guard{mtx_};
  ++epoch_;
  grants_.clear();
  order_.clear();
}

std::optional<stream_grant> stream_grants::redeem(const std::string& token) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto now = std::chrono::steady_clock::now();
  // Expired grants go first (the oldest are at the front).
  while (!order_.empty()) {
    auto i = grants_.find(order_.front());
    if (i != grants_.end() && i->second.expires > now)
      break;
    if (i != grants_.end())
      grants_.erase(i);
    order_.pop_front();
  }
  auto i = grants_.find(token);
  if (i == grants_.end())
    return std::nullopt;
  auto g = std::move(i->second);
  grants_.erase(i);
  order_.remove(token);
  return g;
}

// -- piece_stream_server --------------------------------------------------------

namespace {

void set_timeout(int fd, int opt, std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv);
}

// Sends a reply header and its bytes; false on error or timeout.
bool send_reply(int fd, const unsigned char* hdr, const char* data,
                size_t len) {
  iovec iov[2] = {{const_cast<unsigned char*>(hdr),
                   stream_wire::reply_header_size},
                  {const_cast<char*>(data), len}};
  int cnt = len > 0 ? 2 : 1;
  size_t left = stream_wire::reply_header_size + len;
  int first = 0;
  while (left > 0) {
    msghdr msg{};
    msg.msg_iov = iov + first;
    msg.msg_iovlen = static_cast<size_t>(cnt - first);
    auto r = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return false;
    auto sent = static_cast<size_t>(r);
    left -= sent;
    while (first < cnt && sent >= iov[first].iov_len) {
      sent -= iov[first].iov_len;
      ++first;
    }
    if (first < cnt) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + sent;
      iov[first].iov_len -= sent;
    }
  }
  return true;
}

} // namespace

struct piece_stream_server::connection {
  int fd = -1;
  std::string peer;  // remote address, for the log
  std::atomic<bool> done{false};
  std::thread worker;
};

piece_stream_server::piece_stream_server(std::shared_ptr<library> lib,
                                         std::shared_ptr<file_io> io,
                                         piece_stream_options opts,
                                         random_source random)
  : lib_(std::move(lib)),
    io_(std::move(io)),
    opts_(std::move(opts)),
    grants_(std::make_shared<stream_grants>(opts_.port, std::move(random))),
    bucket_(opts_.upload_limit, std::chrono::steady_clock::now()) {
}

bool piece_stream_server::serve_piece(connection& c,
                                      const pb::PieceRequest& req) {
  auto index = req.index();
  unsigned char hdr[stream_wire::reply_header_size];
  stream_wire::put_u32(hdr, index);
  serve_refusal no;
  auto loc = locate_requested(*lib_, req, opts_.unix_time(), no);
  if (!loc) {
    stream_wire::put_u32(hdr + 4, static_cast<uint32_t>(no.code));
    stream_wire::put_u32(hdr + 8, 0);
    return send_reply(c.fd, hdr, nullptr, 0);
  }
  if (!pace(loc->length))
    return false;
  stream_wire::put_u32(hdr + 4, 0);
  stream_wire::put_u32(hdr + 8, loc->length);
  {
    // Counted before the send: the downloader may have it at once.
    std::lock_guard<std::mutex> guard{mtx_};
    ++counts_.pieces;
    counts_.bytes += loc->length;
  }
  lib_->bytes_streamed += loc->length;
  // Just verified here: from the piece cache's block. Otherwise straight
  // from the file: the header, then the file's pages (sendfile).
  if (auto bytes = cached_piece(*lib_, *loc, index))
    return send_reply(c.fd, hdr, bytes->data(), bytes->size());
  lib_->bytes_served += loc->length;
  if (!stream_wire::write_exact(c.fd, hdr, sizeof hdr, MSG_MORE))
    return false;
  if (auto err = io_->send_to(c.fd, loc->path, loc->offset, loc->length);
      !err.empty()) {
    // The header promised bytes that did not all go: the stream ends.
    LOG_WARN("piece_stream", "piece " << index << " to " << c.peer << ": "
                                      << err);
    return false;
  }
  return true;
}

bool piece_stream_server::pace(size_t bytes) {
  if (opts_.upload_limit == 0)
    return true;
  caf::timespan wait;
  {
    std::lock_guard<std::mutex> guard{pace_mtx_};
    wait = bucket_.take(bytes, std::chrono::steady_clock::now());
  }
  // In slices, so that a stopping server is not held up.
  auto until = std::chrono::steady_clock::now() + wait;
  while (!stopping_ && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::min<caf::timespan>(
      until - std::chrono::steady_clock::now(), std::chrono::milliseconds(50)));
  return !stopping_;
}

piece_stream_server::~piece_stream_server() {
  stopping_ = true;
  if (listen_fd_ >= 0)
    ::shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable())
    acceptor_.join();
  if (listen_fd_ >= 0)
    ::close(listen_fd_);
  std::list<std::unique_ptr<connection>> conns;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& c : conns_)
      ::shutdown(c->fd, SHUT_RDWR);
    conns.swap(conns_);
  }
  for (auto& c : conns) {
    if (c->worker.joinable())
      c->worker.join();
    ::close(c->fd);
  }
}

std::string piece_stream_server::open() {
  auto where = opts_.host + ":" + std::to_string(opts_.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  auto port = std::to_string(opts_.port);
  if (int rc = getaddrinfo(opts_.host.empty() ? nullptr : opts_.host.c_str(),
                           port.c_str(), &hints, &res);
      rc != 0)
    return "cannot resolve " + where + ": " + gai_strerror(rc);
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(res);
    return "cannot listen on " + where + ": " + std::strerror(errno);
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, res->ai_addr, res->ai_addrlen) != 0
      || ::listen(fd, 128) != 0) {
    auto err = std::string{std::strerror(errno)};
    freeaddrinfo(res);
    ::close(fd);
    return "cannot listen on " + where + ": " + err;
  }
  freeaddrinfo(res);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  auto bound = ss.ss_family == AF_INET6
                 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                 : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  grants_->set_port(bound);
  listen_fd_ = fd;
  acceptor_ = std::thread{[this] { accept_loop(); }};
  return {};
}

piece_stream_counts piece_stream_server::counts() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return counts_;
}

void piece_stream_server::reap() {
  // Called with mtx_ held: joins the threads of closed connections.
  for (auto i = conns_.begin(); i != conns_.end();) {
    if ((*i)->done) {
      (*i)->worker.join();
      ::close((*i)->fd);
      i = conns_.erase(i);
    } else {
      ++i;
    }
  }
}

void piece_stream_server::accept_loop() {
  while (!stopping_) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len,
                       SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      if (!stopping_)
        LOG_ERROR("piece_stream", "accept failed: " << std::strerror(errno));
      return;
    }
    std::lock_guard<std::mutex> guard{mtx_};
    reap();
    if (stopping_ || conns_.size() >= opts_.max_connections) {
      ++counts_.refused;
      ::close(fd);
      continue;
    }
    ++counts_.accepted;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    set_timeout(fd, SO_SNDTIMEO, opts_.send_timeout);
    set_timeout(fd, SO_RCVTIMEO, opts_.hello_timeout);
    auto c = std::make_unique<connection>();
    c->fd = fd;
    char host[INET6_ADDRSTRLEN] = "?";
    if (ss.ss_family == AF_INET)
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, host,
                sizeof host);
    c->peer = host;
    auto* raw = c.get();
    conns_.push_back(std::move(c));
    raw->worker = std::thread{[this, raw] {
      serve(*raw);
      raw->done = true;
    }};
  }
}

void piece_stream_server::serve(connection& c) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    ++counts_.open;
  }
  auto close_as = [&](const char* why) {
    LOG_DEBUG("piece_stream", "stream from " << c.peer << " closed: " << why);
    // Closed (the descriptor freed) when the connection is reaped.
    ::shutdown(c.fd, SHUT_RDWR);
    std::lock_guard<std::mutex> guard{mtx_};
    --counts_.open;
  };
  unsigned char hello[stream_wire::hello_size];
  std::optional<stream_grant> g;
  if (stream_wire::read_exact(c.fd, hello, sizeof hello)
      && std::memcmp(hello, stream_wire::magic, 4) == 0
      && stream_wire::get_u32(hello + 4) == stream_wire::version)
    g = grants_->redeem(std::string{reinterpret_cast<char*>(hello) + 8,
                                    stream_wire::token_size});
  if (!g) {
    LOG_WARN("piece_stream", "stream from " << c.peer
                                            << " closed: no valid hello");
    {
      std::lock_guard<std::mutex> guard{mtx_};
      ++counts_.bad_hello;
    }
    return close_as("no valid hello");
  }
  set_timeout(c.fd, SO_RCVTIMEO, opts_.idle_timeout);
  pb::PieceRequest req;
  req.set_name(g->name);
  req.set_file_sha256(g->file_sha256);
  *req.mutable_ticket() = g->ticket;
  unsigned char in[stream_wire::request_size];
  while (!stopping_ && stream_wire::read_exact(c.fd, in, sizeof in)) {
    if (!grants_->valid(*g))
      return close_as("its piece server ended");
    req.set_index(stream_wire::get_u32(in));
    if (!serve_piece(c, req))
      return close_as("send failed");
  }
  close_as("closed by the downloader or idle");
}

} // namespace actorrent
