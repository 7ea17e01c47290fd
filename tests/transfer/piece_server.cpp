// The piece server under the deterministic scheduler: reads through file_io,
// paces uploads with a token bucket in virtual time without blocking, checks
// group tickets against the environment's clock.
#define BOOST_TEST_MODULE piece_server
#include <boost/test/unit_test.hpp>

#include "actors/core/limits.hpp"
#include "actors/core/ticket.hpp"
#include "actors/transfer/piece_server.hpp"
#include "tests/transfer/fakes.hpp"

using namespace actorrent;
using namespace std::chrono_literals;

namespace {

struct fixture : test::transfer_fixture {
  std::string bytes = test::random_bytes(6 * test::piece, 9);
  pb::Manifest m = test::manifest_of_bytes("f.bin", bytes);
  uint32_t n = static_cast<uint32_t>(m.piece_sha256_size());
  std::shared_ptr<int64_t> now_unix = std::make_shared<int64_t>(1000);
  std::shared_ptr<test::client_record> rec
    = std::make_shared<test::client_record>();
  caf::actor client;

  fixture() {
    io->put("/share/f.bin", bytes);
  }

  piece_server_actor start(uint64_t upload_limit) {
    auto clock = now_unix;
    piece_server_options so{io, upload_limit, [clock] { return *clock; }};
    piece_server_actor srv = track(sys.spawn(piece_server, lib, so));
    client = track(sys.spawn(test::piece_client, srv, rec));
    sched.run();
    return srv;
  }

  void ask(const std::string& name, uint32_t index,
           const pb::SignedTicket* ticket = nullptr) {
    pb::PieceRequest req;
    req.set_name(name);
    req.set_index(index);
    if (ticket)
      *req.mutable_ticket() = *ticket;
    self->send(client, req);
    sched.run();
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(server, fixture)

BOOST_AUTO_TEST_CASE(serves_held_pieces_and_refuses_others) {
  bitfield have{n};
  have.set(1);
  lib->put(local_file{m, "/share/f.bin", have, ""});
  start(0);
  ask("f.bin", 1);
  ask("f.bin", 2);   // not held yet
  ask("g.bin", 0);   // unknown
  BOOST_CHECK(rec->pieces == std::vector<uint32_t>{1});
  BOOST_REQUIRE_EQUAL(rec->errors.size(), 2u);
  BOOST_CHECK(is(rec->errors[0], errc::bad_piece));
  BOOST_CHECK(is(rec->errors[1], errc::unknown_file));
  BOOST_CHECK_EQUAL(lib->bytes_served.load(), test::piece);
}

BOOST_AUTO_TEST_CASE(serves_several_pieces_in_one_reply_leaving_out_others) {
  bitfield have{n};
  for (uint32_t i : {1, 2, 4})
    have.set(i);
  lib->put(local_file{m, "/share/f.bin", have, ""});
  lib->cache = std::make_shared<piece_cache>(4 * test::piece);
  lib->cache->put(m.file_sha256(), 4, test::piece_of(bytes, 4));
  start(0);
  auto batch = [&](uint32_t first, std::vector<uint32_t> more) {
    pb::PieceRequest req;
    req.set_name("f.bin");
    req.set_index(first);
    for (auto i : more)
      req.add_more(i);
    self->send(client, req);
    sched.run();
  };
  batch(1, {2, 3, 4}); // 3 is not held: left out; 4 comes from the cache
  BOOST_REQUIRE_EQUAL(rec->pieces.size(), 1u);
  BOOST_CHECK_EQUAL(rec->pieces[0], 1u);
  BOOST_CHECK((rec->more[0] == std::vector<uint32_t>{2, 4}));
  BOOST_CHECK(rec->bytes[0]
              == bytes.substr(test::piece, 2 * test::piece)
                   + bytes.substr(4 * test::piece, test::piece));
  BOOST_CHECK_EQUAL(lib->bytes_served.load(), 3 * test::piece);
  batch(3, {4});       // the first piece decides: not held
  BOOST_REQUIRE_EQUAL(rec->errors.size(), 1u);
  BOOST_CHECK(is(rec->errors[0], errc::bad_piece));
  std::vector<uint32_t> many(max_batch_pieces, 2);
  batch(1, many);      // one piece more than a request may ask for
  BOOST_REQUIRE_EQUAL(rec->errors.size(), 2u);
  BOOST_CHECK(is(rec->errors[1], errc::bad_message));
  BOOST_CHECK(render(rec->errors[1]).find("pieces in one request")
              != std::string::npos);
  BOOST_CHECK_EQUAL(rec->pieces.size(), 1u);
}

BOOST_AUTO_TEST_CASE(serves_just_verified_pieces_from_the_cache) {
  bitfield have{n};
  have.set(1);
  have.set(2);
  lib->put(local_file{m, "/share/f.bin", have, ""});
  lib->cache = std::make_shared<piece_cache>(4 * test::piece);
  lib->cache->put(m.file_sha256(), 1, test::piece_of(bytes, 1));
  start(0);
  // The file is gone from the disk: piece 1 comes from memory, piece 2
  // (not cached) fails with the disk's error.
  BOOST_REQUIRE(io->remove("/share/f.bin").empty());
  ask("f.bin", 1);
  ask("f.bin", 2);
  BOOST_CHECK(rec->pieces == std::vector<uint32_t>{1});
  BOOST_REQUIRE_EQUAL(rec->bytes.size(), 1u);
  BOOST_CHECK(rec->bytes[0] == bytes.substr(test::piece, test::piece));
  BOOST_REQUIRE_EQUAL(rec->errors.size(), 1u);
  BOOST_CHECK(is(rec->errors[0], errc::io_failure));
  // Only a held piece is served, cached or not; and only this file's.
  lib->cache->put(m.file_sha256(), 3, test::piece_of(bytes, 3));
  ask("f.bin", 3);
  BOOST_REQUIRE_EQUAL(rec->errors.size(), 2u);
  BOOST_CHECK(is(rec->errors[1], errc::bad_piece));
  BOOST_CHECK_EQUAL(lib->cache->stats().hits, 1u);
  BOOST_CHECK_EQUAL(lib->bytes_served.load(), test::piece);
}

// 64 KiB/s, a quarter second saved up: one piece at once, then one every
// 250 ms; other requests are answered meanwhile (the actor never blocks).
BOOST_AUTO_TEST_CASE(paces_uploads_in_virtual_time_without_blocking) {
  lib->put(local_file{m, "/share/f.bin", bitfield{n, true}, ""});
  start(4 * test::piece);
  for (uint32_t i = 0; i < 3; ++i)
    ask("f.bin", i);
  BOOST_CHECK_EQUAL(rec->pieces.size(), 1u);
  ask("nope.bin", 0); // refused at once, not queued behind the pacing
  BOOST_CHECK_EQUAL(rec->errors.size(), 1u);
  sched.advance_time(249ms);
  sched.run();
  BOOST_CHECK_EQUAL(rec->pieces.size(), 1u);
  sched.advance_time(1ms);
  sched.run();
  BOOST_CHECK_EQUAL(rec->pieces.size(), 2u);
  sched.advance_time(250ms);
  sched.run();
  BOOST_CHECK(rec->pieces == (std::vector<uint32_t>{0, 1, 2}));
  BOOST_CHECK_EQUAL(lib->bytes_served.load(), 3 * test::piece);
}

// 64 KiB/s: a request that would wait more than max_wait (2 s) for budget
// is refused at once with busy; the queue of held replies stays bounded and
// every held reply is answered within 2 s.
BOOST_AUTO_TEST_CASE(refuses_busy_beyond_the_longest_wait) {
  lib->put(local_file{m, "/share/f.bin", bitfield{n, true}, ""});
  start(4 * test::piece);
  for (uint32_t i = 0; i < 12; ++i)
    ask("f.bin", i % n);
  BOOST_CHECK_EQUAL(rec->pieces.size(), 1u);   // at once
  BOOST_REQUIRE_EQUAL(rec->errors.size(), 3u); // would wait 2.25 s and more
  for (auto& err : rec->errors)
    BOOST_CHECK(is(err, errc::busy));
  sched.advance_time(2s);                      // the 8 held ones
  sched.run();
  BOOST_CHECK_EQUAL(rec->pieces.size(), 9u);
  BOOST_CHECK_EQUAL(rec->errors.size(), 3u);
}

BOOST_AUTO_TEST_CASE(held_replies_fail_at_once_when_the_server_ends) {
  lib->put(local_file{m, "/share/f.bin", bitfield{n, true}, ""});
  auto srv = start(4 * test::piece);
  ask("f.bin", 0);
  ask("f.bin", 1); // held for 250 ms
  BOOST_CHECK_EQUAL(rec->pieces.size(), 1u);
  caf::anon_send_exit(srv, caf::exit_reason::kill);
  sched.run();
  BOOST_REQUIRE_EQUAL(rec->errors.size(), 1u);
  BOOST_CHECK(is(rec->errors[0], errc::no_such_actor));
}

BOOST_AUTO_TEST_CASE(ticket_expiry_follows_the_environments_clock) {
  auto key = signing_key::generate(system_random());
  lib->set_tracker_key(key.public_key);
  auto name = group_key("g", "f.bin");
  auto gm = m;
  gm.set_name(name);
  lib->put(local_file{gm, "/share/f.bin", bitfield{n, true}, "g"});
  pb::Ticket t;
  t.set_user("u");
  t.set_group("g");
  t.set_name("f.bin");
  t.set_file_sha256(m.file_sha256());
  t.set_expires_unix(1500);
  auto st = sign_ticket(key, t);
  start(0);
  ask(name, 0);       // no ticket
  ask(name, 0, &st);  // valid at 1000
  *now_unix = 1501;
  ask(name, 1, &st);  // expired
  BOOST_CHECK(rec->pieces == std::vector<uint32_t>{0});
  BOOST_REQUIRE_EQUAL(rec->errors.size(), 2u);
  BOOST_CHECK(is(rec->errors[0], errc::denied));
  BOOST_CHECK(is(rec->errors[1], errc::denied));
}

BOOST_AUTO_TEST_SUITE_END()
