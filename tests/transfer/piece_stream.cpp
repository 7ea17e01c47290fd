// Piece streams on loopback, threaded: a piece server grants a stream with
// the checks of a piece request, its stream server serves verified pieces
// (and refuses the rest piece by piece), a downloader's stream_source
// delivers them as replies; a bad token, a source that goes away and a
// reply over the size bound end the stream and fail what waits.
#define BOOST_TEST_MODULE piece_stream
#include <boost/test/unit_test.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/core/ticket.hpp"
#include "actors/transfer/piece_server.hpp"
#include "actors/transfer/piece_stream.hpp"
#include "actors/transfer/stream_source.hpp"
#include "tests/fixtures.hpp"
#include "tests/transfer/fakes.hpp"

using namespace actorrent;
using namespace std::chrono_literals;

namespace {

struct fixture : test::threaded_fixture {
  std::shared_ptr<memory_io> io = std::make_shared<memory_io>();
  std::shared_ptr<library> lib = std::make_shared<library>();
  std::string bytes = test::random_bytes(6 * test::piece, 5);
  pb::Manifest m = test::manifest_of_bytes("f.bin", bytes);
  std::unique_ptr<piece_stream_server> server;
  paced_piece_server_actor srv;

  fixture() {
    io->put("/share/f.bin", bytes);
    bitfield have{6};
    for (uint32_t i : {0u, 1u, 2u, 4u})
      have.set(i);
    lib->put(local_file{m, "/share/f.bin", have, ""});
  }

  ~fixture() {
    if (srv)
      caf::anon_send_exit(srv, caf::exit_reason::user_shutdown);
  }

  void start(uint64_t upload_limit = 0) {
    piece_stream_options po;
    po.upload_limit = upload_limit;
    po.unix_time = [] { return int64_t{1000}; };
    server = std::make_unique<piece_stream_server>(lib, io, po,
                                                   system_random());
    BOOST_REQUIRE_EQUAL(server->open(), "");
    piece_server_options so{io, upload_limit, po.unix_time};
    so.streams = server->grants();
    srv = sys.spawn(piece_server, lib, so);
  }

  caf::expected<pb::StreamGrant> grant(const std::string& name,
                                       const std::string& sha) {
    pb::StreamRequest r;
    r.set_name(name);
    r.set_file_sha256(sha);
    caf::expected<pb::StreamGrant> out = caf::error{};
    self->request(srv, 5s, stream_atom::value, r)
      .receive([&](pb::StreamGrant& g) { out = std::move(g); },
               [&](caf::error& err) { out = std::move(err); });
    return out;
  }

  stream_source_actor open_stream(uint16_t port, const std::string& token) {
    stream_source_options so{"127.0.0.1", port, token, "f.bin",
                             static_cast<uint32_t>(m.piece_size()),
                             self->address()};
    auto s = sys.spawn(stream_source, so);
    self->monitor(s);
    return s;
  }

  // Piece `i` through the stream: its bytes, or the error.
  caf::expected<std::string> piece(const stream_source_actor& s, uint32_t i) {
    pb::PieceRequest req;
    req.set_name("f.bin");
    req.set_index(i);
    caf::expected<std::string> out = caf::error{};
    self->request(s, 5s, piece_atom::value, req)
      .receive(
        [&](const pb::PieceHeader& hdr, piece_bytes& data) {
          BOOST_CHECK_EQUAL(hdr.index(), i);
          out = std::string{data.data(), data.size()};
        },
        [&](caf::error& err) { out = std::move(err); });
    return out;
  }

  // The stream_source ended (its monitor fired) within 5 s.
  bool ended() {
    bool down = false;
    self->receive([&](const caf::down_msg&) { down = true; },
                  caf::after(5s) >> [] {});
    return down;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(stream, fixture)

BOOST_AUTO_TEST_CASE(streams_held_pieces_and_refuses_the_others) {
  start();
  auto g = grant("f.bin", m.file_sha256());
  BOOST_REQUIRE(g);
  BOOST_CHECK_EQUAL(g->port(), server->port());
  BOOST_CHECK_EQUAL(g->token().size(), stream_wire::token_size);
  auto s = open_stream(static_cast<uint16_t>(g->port()), g->token());
  for (uint32_t i : {0u, 2u, 1u}) {
    auto p = piece(s, i);
    BOOST_REQUIRE_MESSAGE(p, "piece " << i << ": " << (p ? "" : render(p.error())));
    BOOST_CHECK(*p == bytes.substr(i * test::piece, test::piece));
  }
  // Not held: refused, and the stream goes on serving.
  auto missing = piece(s, 3);
  BOOST_REQUIRE(!missing);
  BOOST_CHECK(is(missing.error(), errc::bad_piece));
  auto later = piece(s, 4);
  BOOST_REQUIRE(later);
  BOOST_CHECK(*later == bytes.substr(4 * test::piece, test::piece));
  BOOST_CHECK_EQUAL(lib->bytes_served.load(), 4 * test::piece);
  auto c = server->counts();
  BOOST_CHECK_EQUAL(c.pieces, 4u);
  BOOST_CHECK_EQUAL(c.accepted, 1u);
  // The token served its one connection.
  auto again = open_stream(static_cast<uint16_t>(g->port()), g->token());
  BOOST_CHECK(!piece(again, 0));
  BOOST_CHECK(ended());
}

BOOST_AUTO_TEST_CASE(grants_follow_the_checks_of_a_piece_request) {
  start();
  auto unknown = grant("g.bin", m.file_sha256());
  BOOST_REQUIRE(!unknown);
  BOOST_CHECK(is(unknown.error(), errc::unknown_file));
  auto other = grant("f.bin", std::string(32, 'x'));
  BOOST_REQUIRE(!other);
  BOOST_CHECK(is(other.error(), errc::conflict));
  // A group's file: no grant without a ticket.
  auto key = group_key("team", "g.bin");
  auto gm = test::manifest_of_bytes(key, bytes);
  lib->put(local_file{gm, "/share/f.bin", bitfield{6, true}, "team"});
  auto group = grant(key, gm.file_sha256());
  BOOST_REQUIRE(!group);
  BOOST_CHECK_MESSAGE(is(group.error(), errc::denied), render(group.error()));
}

BOOST_AUTO_TEST_CASE(a_paced_stream_keeps_to_the_upload_limit) {
  // 64 KiB/s, a quarter second's worth at once: the four held pieces
  // (64 KiB) cannot all go out in less than (64 - 16) / 64 s.
  start(64 * 1024);
  auto g = grant("f.bin", m.file_sha256());
  BOOST_REQUIRE(g);
  auto s = open_stream(static_cast<uint16_t>(g->port()), g->token());
  auto t0 = std::chrono::steady_clock::now();
  for (uint32_t i : {0u, 1u, 2u, 4u})
    BOOST_REQUIRE(piece(s, i));
  BOOST_CHECK(std::chrono::steady_clock::now() - t0 >= 700ms);
}

BOOST_AUTO_TEST_CASE(a_wrong_token_ends_the_stream) {
  start();
  auto s = open_stream(server->port(), std::string(32, 'k'));
  auto p = piece(s, 0);
  BOOST_REQUIRE(!p);
  BOOST_CHECK(is(p.error(), errc::no_such_actor));
  BOOST_CHECK(ended());
  BOOST_CHECK_EQUAL(server->counts().bad_hello, 1u);
  BOOST_CHECK_EQUAL(lib->bytes_served.load(), 0u);
}

BOOST_AUTO_TEST_CASE(a_source_that_goes_away_ends_the_stream) {
  start();
  auto g = grant("f.bin", m.file_sha256());
  BOOST_REQUIRE(g);
  auto s = open_stream(static_cast<uint16_t>(g->port()), g->token());
  BOOST_REQUIRE(piece(s, 0));
  server.reset(); // its connections close
  BOOST_CHECK(ended());
  auto p = piece(s, 1);
  BOOST_CHECK(!p);
}

BOOST_AUTO_TEST_CASE(killing_the_piece_server_ends_its_streams) {
  start();
  auto g = grant("f.bin", m.file_sha256());
  BOOST_REQUIRE(g);
  auto s = open_stream(static_cast<uint16_t>(g->port()), g->token());
  BOOST_REQUIRE(piece(s, 0));
  self->monitor(srv);
  caf::anon_send_exit(srv, caf::exit_reason::kill);
  BOOST_REQUIRE(ended()); // the piece server
  srv = nullptr;
  BOOST_CHECK(!piece(s, 1));
  BOOST_CHECK(ended());   // the stream
  BOOST_CHECK_EQUAL(lib->bytes_served.load(), test::piece);
}

BOOST_AUTO_TEST_CASE(a_reply_over_the_size_bound_ends_the_stream) {
  // A source that announces a piece larger than the file's piece size: the
  // stream closes before anything of that size is allocated or read.
  int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  BOOST_REQUIRE(::listen(lfd, 1) == 0);
  socklen_t len = sizeof a;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
  std::thread liar{[lfd] {
    int fd = ::accept(lfd, nullptr, nullptr);
    unsigned char buf[stream_wire::hello_size + stream_wire::request_size];
    size_t got = 0;
    while (got < sizeof buf) {
      auto r = ::recv(fd, buf + got, sizeof buf - got, 0);
      if (r <= 0)
        break;
      got += static_cast<size_t>(r);
    }
    unsigned char hdr[stream_wire::reply_header_size];
    stream_wire::put_u32(hdr, 0);
    stream_wire::put_u32(hdr + 4, 0);
    stream_wire::put_u32(hdr + 8, 0xfffffff0u);
    ::send(fd, hdr, sizeof hdr, MSG_NOSIGNAL);
    char c;
    ::recv(fd, &c, 1, 0); // until the downloader closes
    ::close(fd);
  }};
  auto s = open_stream(ntohs(a.sin_port), std::string(32, 't'));
  auto p = piece(s, 0);
  BOOST_REQUIRE(!p);
  BOOST_CHECK_MESSAGE(render(p.error()).find("bytes (at most")
                        != std::string::npos,
                      render(p.error()));
  BOOST_CHECK(ended());
  liar.join();
  ::close(lfd);
}

BOOST_AUTO_TEST_CASE(a_downloader_gone_while_paced_leaves_the_source_serving) {
  // From a real file a piece goes out with sendfile(), which takes no
  // MSG_NOSIGNAL. A downloader took a piece, asked for the next and closed
  // while the source waited for upload budget: the first bytes of the reply
  // draw a reset and the rest of the sendfile() fails with EPIPE. That ends
  // the connection, not the source's process (here: this test's).
  constexpr uint32_t mib = 1024 * 1024;
  test::temp_dir dir;
  auto big = test::random_bytes(3 * mib, 7);
  {
    std::ofstream out{dir / "g.bin", std::ios::binary};
    out << big;
  }
  auto bm = test::manifest_of_bytes("g.bin", big, mib);
  bitfield all{3};
  for (uint32_t i = 0; i < 3; ++i)
    all.set(i);
  auto disk_lib = std::make_shared<library>();
  disk_lib->put(local_file{bm, dir / "g.bin", all, ""});
  piece_stream_options po;
  po.upload_limit = 4 * mib; // a piece at once, the next after 250 ms
  po.unix_time = [] { return int64_t{1000}; };
  piece_stream_server disk{disk_lib, make_disk_io(), po, system_random()};
  BOOST_REQUIRE_EQUAL(disk.open(), "");
  // A connection that said hello with a fresh grant.
  auto connect = [&] {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(disk.port());
    BOOST_REQUIRE(
      ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    std::string hello{stream_wire::magic, 4};
    unsigned char v[4];
    stream_wire::put_u32(v, stream_wire::version);
    hello.append(reinterpret_cast<char*>(v), 4);
    hello += disk.grants()->grant(stream_grant{"g.bin", bm.file_sha256()});
    BOOST_REQUIRE(stream_wire::write_exact(fd, hello.data(), hello.size()));
    return fd;
  };
  std::string reply(stream_wire::reply_header_size + mib, '\0');
  auto ask = [&](int fd, uint32_t index) {
    unsigned char x[4];
    stream_wire::put_u32(x, index);
    BOOST_REQUIRE(stream_wire::write_exact(fd, x, 4));
  };
  int fd = connect();
  ask(fd, 0);
  BOOST_REQUIRE(stream_wire::read_exact(fd, reply.data(), reply.size()));
  ask(fd, 1);
  ::close(fd); // nothing unread: a clean close
  BOOST_REQUIRE(test::wait_until([&] { return disk.counts().open == 0; }, 5s));
  // Still serving, byte for byte.
  fd = connect();
  ask(fd, 2);
  BOOST_REQUIRE(stream_wire::read_exact(fd, reply.data(), reply.size()));
  BOOST_CHECK(reply.substr(stream_wire::reply_header_size) == big.substr(2 * mib));
  ::close(fd);
}

BOOST_AUTO_TEST_SUITE_END()
