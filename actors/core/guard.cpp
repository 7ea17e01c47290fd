#include "actors/core/guard.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "actors/core/file_io.hpp"
#include "actors/core/limits.hpp"
#include "actors/core/log.hpp"

namespace actorrent {

uint64_t default_max_message() {
  return max_message_bytes;
}

basp_header parse_basp_header(const unsigned char* b) {
  auto be = [b](size_t off, size_t n) {
    uint64_t x = 0;
    for (size_t i = 0; i < n; ++i)
      x = (x << 8) | b[off + i];
    return x;
  };
  basp_header h;
  h.operation = b[0];
  h.flags = b[3];
  h.payload_len = static_cast<uint32_t>(be(4, 4));
  h.operation_data = be(8, 8);
  h.source_actor = be(16, 8);
  h.dest_actor = be(24, 8);
  return h;
}

namespace {

using clock_type = std::chrono::steady_clock;

constexpr size_t max_handshake = 64 * 1024;
// Messages over this size hold part of the in_flight budget.
constexpr uint64_t large_message = 64 * 1024;
// A large message arrives at this rate at least (after the grace).
constexpr uint64_t min_rate = 1 << 20;
// Client bytes read but not yet forwarded, per connection.
constexpr size_t up_capacity = 64 * 1024;
// Descriptors per connection: client, upstream, a pipe, CAF's end.
constexpr uint64_t fds_per_connection = 5;

std::string endpoint(const std::string& host, uint16_t port) {
  return host + ":" + std::to_string(port);
}

bool would_block() {
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

std::string address_of(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(ss).sin_addr,
              buf, sizeof buf);
  else if (ss.ss_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr,
              buf, sizeof buf);
  return buf;
}

void no_delay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/// A connection: the upstream connect, then the client's handshake, then
/// open. Beside it, where the client's byte stream is: in a header, in a
/// payload, or waiting for in_flight budget before a large message.
enum class conn_state { connecting, handshaking, open };
enum class reading { header, payload, waiting_budget };

struct conn {
  int client = -1;
  int server = -1;
  int pipe_r = -1;
  int pipe_w = -1;
  size_t pipe_cap = 0;
  uint16_t port = 0;
  std::string addr;
  conn_state state = conn_state::connecting;
  reading rd = reading::header;
  clock_type::time_point accepted;
  // Client to server: up[sent, admitted) may go upstream, up[admitted, end)
  // waits for the rest of its header or for budget.
  std::vector<unsigned char> up = std::vector<unsigned char>(up_capacity);
  size_t sent = 0;
  size_t admitted = 0;
  size_t end = 0;
  uint64_t payload_left = 0;
  uint64_t counted = 0; // in_flight held by the message in transit
  clock_type::time_point message_deadline;
  bool client_eof = false;
  bool server_eof = false;
  // Server to client: bytes in the pipe.
  size_t piped = 0;
};

/// Why a connection ended; each has a count and a rate-limited log line.
enum class verdict {
  refused_per_address,
  refused_total,
  no_handshake,
  bad_header,
  too_slow,
  accept_failed,
  count
};

} // namespace

struct guard::impl {
  guard_options opts;
  uint64_t max_conns = 0;
  int ep = -1;
  int wake = -1;
  std::thread thread;

  // Commands from other threads, under mtx.
  std::mutex mtx;
  std::condition_variable cv;
  struct listener {
    int fd;
    uint16_t port;
    uint16_t upstream;
  };
  std::vector<listener> to_add;
  std::vector<uint16_t> to_close;
  uint64_t closes_done = 0;
  uint64_t closes_asked = 0;
  bool stopping = false;
  guard_counts cnt;

  // The guard thread's own.
  std::map<int, listener> listeners; // by fd
  std::vector<int> resting;           // listeners paused after accept failed
  std::map<int, std::unique_ptr<conn>> conns; // by client fd
  std::unordered_map<int, int> client_of; // upstream fd -> client fd
  std::map<std::string, uint32_t> per_addr;
  uint64_t in_flight_used = 0;
  bool budget_freed = false;
  struct log_slot {
    clock_type::time_point last{};
    uint64_t unlogged = 0;
  };
  log_slot logs[static_cast<size_t>(verdict::count)];

  explicit impl(guard_options o) : opts(std::move(o)) {
    // Each connection takes several descriptors: raise the soft limit to
    // the hard one and fit the cap to what is left.
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
      if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
      }
      uint64_t fit = rl.rlim_cur > 256 ? (rl.rlim_cur - 256) / fds_per_connection
                                       : 1;
      max_conns = std::min<uint64_t>(opts.max_connections, fit);
      if (max_conns < opts.max_connections)
        LOG_WARN("guard", "at most " << max_conns
                                     << " connections (descriptor limit "
                                     << rl.rlim_cur << ")");
    } else {
      max_conns = opts.max_connections;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake;
    epoll_ctl(ep, EPOLL_CTL_ADD, wake, &ev);
    thread = std::thread{[this] { run(); }};
  }

  ~impl() {
    {
      std::lock_guard<std::mutex> g{mtx};
      stopping = true;
    }
    poke();
    thread.join();
    ::close(wake);
    ::close(ep);
  }

  void poke() {
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake, &one, sizeof one);
  }

  // --- the thread ------------------------------------------------------------

  void run() {
    block_sigpipe_in_this_thread(); // splice() takes no MSG_NOSIGNAL
    epoll_event events[64];
    auto next_check = clock_type::now();
    for (;;) {
      int n = epoll_wait(ep, events, 64, 100);
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == wake) {
          uint64_t x;
          [[maybe_unused]] auto r = ::read(wake, &x, sizeof x);
          if (!commands())
            return;
        } else if (auto l = listeners.find(fd); l != listeners.end()) {
          accept_all(l->second);
        } else {
          on_event(fd, events[i].events);
        }
      }
      if (budget_freed)
        admit_waiting();
      auto now = clock_type::now();
      if (now >= next_check) {
        check_deadlines(now);
        next_check = now + std::chrono::milliseconds(100);
      }
    }
  }

  // Takes the commands; false when the guard stops.
  bool commands() {
    std::vector<listener> add;
    std::vector<uint16_t> close_ports;
    bool stop;
    {
      std::lock_guard<std::mutex> g{mtx};
      add.swap(to_add);
      close_ports.swap(to_close);
      stop = stopping;
    }
    for (auto& l : add) {
      listeners[l.fd] = l;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = l.fd;
      epoll_ctl(ep, EPOLL_CTL_ADD, l.fd, &ev);
    }
    for (auto port : close_ports) {
      for (auto i = listeners.begin(); i != listeners.end();) {
        if (i->second.port == port) {
          ::close(i->first);
          i = listeners.erase(i);
        } else {
          ++i;
        }
      }
      std::vector<int> gone;
      for (auto& [fd, c] : conns)
        if (c->port == port)
          gone.push_back(fd);
      for (auto fd : gone)
        finish(fd);
    }
    if (!close_ports.empty()) {
      std::lock_guard<std::mutex> g{mtx};
      closes_done += close_ports.size();
      cv.notify_all();
    }
    if (stop) {
      std::vector<int> gone;
      for (auto& [fd, c] : conns)
        gone.push_back(fd);
      for (auto fd : gone)
        finish(fd);
      for (auto& [fd, l] : listeners)
        ::close(fd);
      listeners.clear();
    }
    return !stop;
  }

  void note(verdict v, const std::string& text) {
    {
      std::lock_guard<std::mutex> g{mtx};
      switch (v) {
        case verdict::refused_per_address: ++cnt.refused_per_address; break;
        case verdict::refused_total: ++cnt.refused_total; break;
        case verdict::no_handshake: ++cnt.closed_no_handshake; break;
        case verdict::bad_header: ++cnt.closed_bad_header; break;
        case verdict::too_slow: ++cnt.closed_too_slow; break;
        case verdict::accept_failed: break;
        case verdict::count: break;
      }
    }
    // One line per reason and second at most, with how many went unlogged.
    auto& slot = logs[static_cast<size_t>(v)];
    auto now = clock_type::now();
    if (now - slot.last < std::chrono::seconds(1)) {
      ++slot.unlogged;
      return;
    }
    LOG_WARN("guard", text << (slot.unlogged > 0
                                 ? " (and " + std::to_string(slot.unlogged)
                                     + " more since the last line)"
                                 : std::string{}));
    slot.last = now;
    slot.unlogged = 0;
  }

  void accept_all(const listener& l) {
    for (;;) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      int fd = accept4(l.fd, reinterpret_cast<sockaddr*>(&ss), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (!would_block()) {
          // Out of descriptors (or another error): the listener would wake
          // the thread again at once; it rests until the next check.
          note(verdict::accept_failed, "cannot accept on port "
                                         + std::to_string(l.port) + ": "
                                         + std::strerror(errno));
          epoll_ctl(ep, EPOLL_CTL_DEL, l.fd, nullptr);
          resting.push_back(l.fd);
        }
        return;
      }
      auto addr = address_of(ss);
      if (conns.size() >= max_conns) {
        ::close(fd);
        note(verdict::refused_total,
             "refused a connection on port " + std::to_string(l.port)
               + " from " + addr + ": " + std::to_string(max_conns)
               + " connections open (guard.max-connections)");
        continue;
      }
      if (per_addr[addr] >= opts.max_per_address) {
        ::close(fd);
        note(verdict::refused_per_address,
             "refused a connection on port " + std::to_string(l.port)
               + " from " + addr + ": "
               + std::to_string(opts.max_per_address)
               + " open from there (guard.max-per-address)");
        continue;
      }
      start(fd, addr, l);
    }
  }

  void start(int fd, const std::string& addr, const listener& l) {
    auto c = std::make_unique<conn>();
    c->client = fd;
    c->port = l.port;
    c->addr = addr;
    c->accepted = clock_type::now();
    int pfd[2];
    c->server = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->server < 0 || pipe2(pfd, O_NONBLOCK | O_CLOEXEC) != 0) {
      LOG_WARN("guard", "cannot forward a connection on port "
                          << l.port << ": " << std::strerror(errno));
      ::close(fd);
      if (c->server >= 0)
        ::close(c->server);
      return;
    }
    c->pipe_r = pfd[0];
    c->pipe_w = pfd[1];
    fcntl(c->pipe_w, F_SETPIPE_SZ, 1 << 20);
    int cap = fcntl(c->pipe_w, F_GETPIPE_SZ);
    c->pipe_cap = cap > 0 ? static_cast<size_t>(cap) : 65536;
    no_delay(c->client);
    no_delay(c->server);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(l.upstream);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(c->server, reinterpret_cast<sockaddr*>(&to), sizeof to);
    if (rc != 0 && errno != EINPROGRESS) {
      LOG_WARN("guard", "cannot reach the node behind port "
                          << l.port << ": " << std::strerror(errno));
      close_fds(*c);
      return;
    }
    if (rc == 0)
      c->state = conn_state::handshaking;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.fd = c->client;
    epoll_ctl(ep, EPOLL_CTL_ADD, c->client, &ev);
    ev.data.fd = c->server;
    epoll_ctl(ep, EPOLL_CTL_ADD, c->server, &ev);
    ++per_addr[addr];
    client_of[c->server] = c->client;
    {
      std::lock_guard<std::mutex> g{mtx};
      ++cnt.accepted;
      cnt.open = static_cast<uint32_t>(conns.size() + 1);
    }
    int key = c->client;
    conns[key] = std::move(c);
    if (!pump(*conns[key]))
      finish(key);
  }

  void on_event(int fd, uint32_t events) {
    int key = fd;
    if (auto s = client_of.find(fd); s != client_of.end())
      key = s->second;
    auto i = conns.find(key);
    if (i == conns.end())
      return;
    auto& c = *i->second;
    if (c.state == conn_state::connecting && fd == c.server) {
      if (events & (EPOLLERR | EPOLLHUP)) {
        finish(key);
        return;
      }
      if (events & EPOLLOUT) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.server, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
          finish(key);
          return;
        }
        c.state = conn_state::handshaking;
      }
    }
    if (!pump(c))
      finish(key);
  }

  // Moves bytes both ways until nothing moves; false when the connection
  // ends (a side closed and what it sent is through, an error, a refusal).
  bool pump(conn& c) {
    if (c.state == conn_state::connecting)
      return true;
    for (bool moved = true; moved;) {
      moved = false;
      if (!c.client_eof && c.end < up_capacity) {
        auto n = recv(c.client, c.up.data() + c.end, up_capacity - c.end, 0);
        if (n > 0) {
          c.end += static_cast<size_t>(n);
          moved = true;
        } else if (n == 0) {
          c.client_eof = true;
        } else if (!would_block()) {
          return false;
        }
      }
      if (!parse(c)) {
        // What came before the offending header still goes through.
        if (c.state != conn_state::connecting && c.sent < c.admitted)
          send(c.server, c.up.data() + c.sent, c.admitted - c.sent,
               MSG_NOSIGNAL);
        return false;
      }
      if (c.sent < c.admitted) {
        auto n = send(c.server, c.up.data() + c.sent, c.admitted - c.sent,
                      MSG_NOSIGNAL);
        if (n > 0) {
          c.sent += static_cast<size_t>(n);
          moved = true;
        } else if (n < 0 && !would_block()) {
          return false;
        }
      }
      if (c.sent > 0 && (c.sent == c.end || c.end == up_capacity)) {
        std::memmove(c.up.data(), c.up.data() + c.sent, c.end - c.sent);
        c.admitted -= c.sent;
        c.end -= c.sent;
        c.sent = 0;
      }
      if (!c.server_eof && c.piped < c.pipe_cap) {
        auto n = splice(c.server, nullptr, c.pipe_w, nullptr,
                        c.pipe_cap - c.piped,
                        SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
          c.piped += static_cast<size_t>(n);
          moved = true;
        } else if (n == 0) {
          c.server_eof = true;
        } else if (!would_block()) {
          return false;
        }
      }
      if (c.piped > 0) {
        auto n = splice(c.pipe_r, nullptr, c.client, nullptr, c.piped,
                        SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
          c.piped -= static_cast<size_t>(n);
          moved = true;
        } else if (n < 0 && !would_block()) {
          return false;
        }
      }
    }
    if (c.client_eof && c.sent == c.admitted)
      return false;
    if (c.server_eof && c.piped == 0)
      return false;
    return true;
  }

  // Walks the client's bytes message by message; admits what may go to
  // CAF. False when the connection breaks a rule (noted).
  bool parse(conn& c) {
    for (;;) {
      if (c.rd == reading::payload) {
        auto k = std::min<uint64_t>(c.payload_left, c.end - c.admitted);
        c.admitted += k;
        c.payload_left -= k;
        if (c.payload_left > 0)
          return true;
        message_done(c);
        c.rd = reading::header;
      }
      if (c.end - c.admitted < basp_header_size)
        return true;
      auto h = parse_basp_header(c.up.data() + c.admitted);
      if (auto why = check(c, h); !why.empty()) {
        note(c.state == conn_state::open ? verdict::bad_header
                                         : verdict::no_handshake,
             "closed a connection on port " + std::to_string(c.port)
               + " from " + c.addr + ": " + why);
        return false;
      }
      if (h.payload_len > large_message && !reserve(c, h.payload_len)) {
        c.rd = reading::waiting_budget;
        return true;
      }
      c.admitted += basp_header_size;
      c.payload_left = h.payload_len;
      c.rd = reading::payload;
    }
  }

  std::string check(const conn& c, const basp_header& h) const {
    if (h.operation > basp_last_operation)
      return "unknown BASP operation " + std::to_string(h.operation);
    if (c.state != conn_state::open) {
      if (h.operation != basp_client_handshake)
        return "its first message is not a client handshake (operation "
               + std::to_string(h.operation) + ")";
      if (h.payload_len > max_handshake)
        return "its handshake announces " + std::to_string(h.payload_len)
               + " bytes, at most " + std::to_string(max_handshake);
      return {};
    }
    if (h.payload_len > opts.max_message)
      return "a header announces " + std::to_string(h.payload_len)
             + " bytes, at most " + std::to_string(opts.max_message)
             + " (guard.max-message)";
    return {};
  }

  bool reserve(conn& c, uint64_t n) {
    if (in_flight_used > 0 && in_flight_used + n > opts.in_flight)
      return false;
    in_flight_used += n;
    c.counted = n;
    c.message_deadline = clock_type::now() + opts.handshake_ms
                         + std::chrono::milliseconds(n * 1000 / min_rate);
    return true;
  }

  void message_done(conn& c) {
    if (c.counted > 0) {
      in_flight_used -= c.counted;
      c.counted = 0;
      budget_freed = true;
    }
    if (c.state == conn_state::handshaking)
      c.state = conn_state::open;
  }

  void admit_waiting() {
    budget_freed = false;
    std::vector<int> waiting;
    for (auto& [fd, c] : conns)
      if (c->rd == reading::waiting_budget)
        waiting.push_back(fd);
    for (auto fd : waiting) {
      auto i = conns.find(fd);
      if (i == conns.end())
        continue;
      i->second->rd = reading::header;
      if (!pump(*i->second))
        finish(fd);
    }
  }

  void check_deadlines(clock_type::time_point now) {
    for (int fd : resting)
      if (listeners.count(fd) > 0) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
      }
    resting.clear();
    std::vector<int> late;
    for (auto& [fd, c] : conns) {
      if (c->state != conn_state::open && now - c->accepted > opts.handshake_ms) {
        late.push_back(fd);
        note(verdict::no_handshake,
             "closed a connection on port " + std::to_string(c->port)
               + " from " + c->addr + ": no handshake within "
               + std::to_string(opts.handshake_ms.count())
               + " ms (guard.handshake-ms)");
      } else if (c->counted > 0 && now > c->message_deadline) {
        late.push_back(fd);
        note(verdict::too_slow,
             "closed a connection on port " + std::to_string(c->port)
               + " from " + c->addr + ": a message of "
               + std::to_string(c->counted)
               + " bytes arrives slower than 1 MiB/s");
      }
    }
    for (auto fd : late)
      finish(fd);
  }

  void close_fds(conn& c) {
    for (int fd : {c.client, c.server, c.pipe_r, c.pipe_w})
      if (fd >= 0)
        ::close(fd);
  }

  void finish(int key) {
    auto i = conns.find(key);
    if (i == conns.end())
      return;
    auto& c = *i->second;
    if (c.counted > 0) {
      in_flight_used -= c.counted;
      budget_freed = true;
    }
    if (--per_addr[c.addr] == 0)
      per_addr.erase(c.addr);
    client_of.erase(c.server);
    close_fds(c);
    conns.erase(i);
    std::lock_guard<std::mutex> g{mtx};
    cnt.open = static_cast<uint32_t>(conns.size());
  }
};

guard::guard(guard_options opts) : impl_(std::make_unique<impl>(std::move(opts))) {
  // nop
}

guard::~guard() = default;

std::string guard::open(const std::string& host, uint16_t& port,
                        uint16_t upstream) {
  auto fail = [&](const char* what) {
    return "cannot listen on " + endpoint(host, port) + ": " + what;
  };
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  auto service = std::to_string(port);
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(),
                           service.c_str(), &hints, &res);
      rc != 0)
    return fail(gai_strerror(rc));
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(res);
    return fail(std::strerror(errno));
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
    auto why = fail(std::strerror(errno));
    freeaddrinfo(res);
    ::close(fd);
    return why;
  }
  freeaddrinfo(res);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  port = ntohs(ss.ss_family == AF_INET6
                 ? reinterpret_cast<sockaddr_in6&>(ss).sin6_port
                 : reinterpret_cast<sockaddr_in&>(ss).sin_port);
  {
    std::lock_guard<std::mutex> g{impl_->mtx};
    impl_->to_add.push_back({fd, port, upstream});
  }
  impl_->poke();
  return {};
}

void guard::close(uint16_t port) {
  std::unique_lock<std::mutex> g{impl_->mtx};
  impl_->to_close.push_back(port);
  auto ticket = ++impl_->closes_asked;
  g.unlock();
  impl_->poke();
  g.lock();
  impl_->cv.wait(g, [&] { return impl_->closes_done >= ticket; });
}

guard_counts guard::counts() const {
  std::lock_guard<std::mutex> g{impl_->mtx};
  return impl_->cnt;
}

} // namespace actorrent
