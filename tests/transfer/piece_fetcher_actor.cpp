// The piece fetcher under the deterministic scheduler with virtual time:
// files in memory, sources published in an in-process directory, a stand-in
// peer agent, the writer scheduled like every other actor.
#define BOOST_TEST_MODULE piece_fetcher_actor
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "actors/transfer/piece_fetcher.hpp"
#include "actors/transfer/piece_server.hpp"
#include "tests/transfer/fakes.hpp"

using namespace actorrent;
using namespace std::chrono_literals;

namespace {

struct fixture : test::transfer_fixture {
  std::string bytes = test::random_bytes(9 * test::piece + 1000, 5);
  pb::Manifest m = test::manifest_of_bytes("f.bin", bytes);
  uint32_t n = static_cast<uint32_t>(m.piece_sha256_size());
  std::shared_ptr<test::peer_record> rec
    = std::make_shared<test::peer_record>();
  peer_actor peer = track(sys.spawn(test::fake_peer, rec));
  fetcher_actor fetcher;

  fixture() {
    *rec->info.mutable_manifest() = m;
  }

  /// A fake source named `id` ("1", "2", ...) listed in the peer's info.
  std::shared_ptr<test::source_record> add_source(const std::string& id,
                                                  test::source_mode mode) {
    auto src = std::make_shared<test::source_record>();
    src->mode = mode;
    src->bytes = bytes;
    auto h = track(sys.spawn(test::fake_source, src));
    handles[id] = h;
    *rec->info.add_sources() = publish(id, h, n);
    return src;
  }

  fetch_options options() {
    fetch_options fo;
    fo.name = "f.bin";
    fo.dest_dir = "/dl";
    fo.self_id = "me";
    fo.window = 2;
    fo.connector = dir->connector();
    fo.io = io;
    fo.blocking = blocking_mode::scheduled;
    fo.seed = 1;
    return fo;
  }

  /// Downloads the file from one source in `mode` (8 pieces in flight)
  /// and checks that it completed with the right bytes.
  std::shared_ptr<test::source_record>
  download_from_one(test::source_mode mode) {
    auto src = add_source("1", mode);
    auto fo = options();
    fo.window = 8;
    start(fo);
    BOOST_CHECK(rec->last.state() == pb::COMPLETE);
    BOOST_CHECK(file("/dl/f.bin") == bytes);
    return src;
  }

  void start(fetch_options fo) {
    fetcher = track(sys.spawn(piece_fetcher, std::move(fo), peer, lib));
    sched.run();
  }

  /// The fetcher's own view (reports to the peer come on ticks).
  pb::DownloadStatus status() {
    auto [st, err] = ask<pb::DownloadStatus>(fetcher, status_atom::value);
    BOOST_REQUIRE_MESSAGE(st, render(err));
    return *st;
  }

  std::string file(const std::string& path) {
    std::string out;
    return io->get(path, out) ? out : "<none>";
  }

  static bool contains(const std::vector<uint32_t>& xs, uint32_t x) {
    return std::find(xs.begin(), xs.end(), x) != xs.end();
  }

  std::map<std::string, piece_server_actor> handles;
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(fetcher, fixture)

BOOST_AUTO_TEST_CASE(downloads_from_two_sources_and_reports_to_its_peer) {
  auto a = add_source("1", test::source_mode::serve);
  auto b = add_source("2", test::source_mode::serve);
  start(options());
  BOOST_CHECK(rec->last.state() == pb::COMPLETE);
  BOOST_CHECK(file("/dl/f.bin") == bytes);
  BOOST_CHECK_EQUAL(file("/dl/.f.bin.part"), "<none>");
  BOOST_REQUIRE_EQUAL(rec->manifests.size(), 1u); // the peer records it
  BOOST_CHECK_EQUAL(rec->manifests[0].file_sha256(), m.file_sha256());
  BOOST_CHECK_EQUAL(rec->haves.size(), n);        // every piece, once
  BOOST_CHECK(!a->requests.empty());
  BOOST_CHECK(!b->requests.empty());
  BOOST_CHECK_EQUAL(a->requests.size() + b->requests.size(), n);
}

// Pieces of 16 KiB go four to a request (64 KiB); a source that answers
// only the first piece of each (it does not batch) still delivers them all.
BOOST_AUTO_TEST_CASE(small_pieces_go_several_to_a_request) {
  auto a = download_from_one(test::source_mode::serve);
  BOOST_CHECK_EQUAL(a->requests.size(), n);  // each piece asked for once
  BOOST_CHECK_EQUAL(a->calls, 3u);           // 10 pieces: 4 + 4 + 2
  BOOST_CHECK_EQUAL(rec->haves.size(), n);
}

BOOST_AUTO_TEST_CASE(a_source_that_does_not_batch_still_serves_every_piece) {
  auto a = download_from_one(test::source_mode::single);
  BOOST_CHECK_EQUAL(a->calls, n);            // one piece per answer
  BOOST_CHECK_EQUAL(rec->haves.size(), n);
  for (auto& s : rec->last.source_states()) // never dropped
    BOOST_CHECK(s.state() == pb::SOURCE_ACTIVE);
}

// A reply whose bytes are not the pieces its header names is refused as a
// whole and its source dropped; nothing of it is written.
BOOST_AUTO_TEST_CASE(a_reply_that_is_not_its_pieces_drops_the_source) {
  auto a = add_source("1", test::source_mode::short_reply);
  auto b = add_source("2", test::source_mode::serve);
  start(options());
  BOOST_CHECK(rec->last.state() == pb::COMPLETE);
  BOOST_CHECK(file("/dl/f.bin") == bytes);
  BOOST_CHECK(!a->requests.empty());
  bool dropped = false;
  for (auto& s : rec->last.source_states())
    if (s.peer_id() == "1")
      dropped = s.state() == pb::SOURCE_LOST
                && s.reason().find("wrong pieces") != std::string::npos;
  BOOST_CHECK(dropped);
}

// Source 1 never answers; source 2 serves. When 1 dies, its pieces in flight
// go to 2 at once (no timeout, no endgame delay needed).
BOOST_AUTO_TEST_CASE(a_dead_sources_pieces_in_flight_go_to_the_other) {
  auto a = add_source("1", test::source_mode::hold);
  auto b = add_source("2", test::source_mode::serve);
  start(options());
  BOOST_REQUIRE_EQUAL(a->requests.size(), 2u); // its window
  BOOST_CHECK(status().state() == pb::DOWNLOADING);
  BOOST_CHECK_EQUAL(status().sources(), 2u);
  BOOST_CHECK_EQUAL(rec->haves.size(), n - 2);
  for (auto p : a->requests)
    BOOST_CHECK(!contains(b->requests, p));
  caf::anon_send_exit(handles["1"], caf::exit_reason::kill);
  sched.run();
  for (auto p : a->requests)
    BOOST_CHECK(contains(b->requests, p));
  BOOST_CHECK(rec->last.state() == pb::COMPLETE);
  BOOST_CHECK(file("/dl/f.bin") == bytes);
}

// A paced source that answers busy is not dropped: its pieces go to the
// other source, it gets no request for 500 ms, and while every source is
// busy the download says so; once it serves again, the download completes.
BOOST_AUTO_TEST_CASE(a_busy_source_is_asked_again_later) {
  auto a = add_source("1", test::source_mode::busy);
  start(options());
  BOOST_REQUIRE_EQUAL(a->requests.size(), 2u); // its window, refused
  auto s = status();
  BOOST_CHECK(s.state() == pb::DOWNLOADING);
  BOOST_CHECK_EQUAL(s.sources(), 1u);          // still active, not lost
  BOOST_CHECK_EQUAL(s.reason(), "stalled: sources busy");
  sched.advance_time(std::chrono::milliseconds(250)); // a tick: not yet
  sched.run();
  BOOST_CHECK_EQUAL(a->requests.size(), 2u);
  a->mode = test::source_mode::serve;
  sched.advance_time(std::chrono::milliseconds(250)); // 500 ms: asked again
  sched.run();
  BOOST_CHECK_GT(a->requests.size(), 2u);
  BOOST_CHECK(rec->last.state() == pb::COMPLETE);
  BOOST_CHECK(file("/dl/f.bin") == bytes);
}

BOOST_AUTO_TEST_CASE(bans_a_source_after_three_corrupt_pieces) {
  auto bad = add_source("1", test::source_mode::corrupt);
  auto good = add_source("2", test::source_mode::serve);
  start(options());
  // Banned at the third bad piece; the one still in flight then may come
  // back, but nothing more is asked.
  BOOST_CHECK_GE(bad->requests.size(), 3u);
  BOOST_CHECK_LE(bad->requests.size(), 4u);
  BOOST_CHECK(rec->last.state() == pb::COMPLETE);
  BOOST_REQUIRE_EQUAL(rec->last.banned_size(), 1);
  BOOST_CHECK_EQUAL(rec->last.banned(0),
                    "1: sent 3 pieces that failed their SHA-256");
  BOOST_CHECK(file("/dl/f.bin") == bytes);
}

// Source 1 holds its two requests; source 2 has served everything else.
// Endgame asks 2 for them once they waited 500 ms (virtual time), not before.
BOOST_AUTO_TEST_CASE(endgame_re_requests_after_the_delay) {
  auto slow = add_source("1", test::source_mode::hold);
  auto fast = add_source("2", test::source_mode::serve);
  start(options());
  BOOST_REQUIRE_EQUAL(slow->requests.size(), 2u);
  auto served = fast->requests.size();
  sched.advance_time(250ms); // a tick: too early
  sched.run();
  sched.advance_time(249ms);
  sched.run();
  BOOST_CHECK_EQUAL(fast->requests.size(), served);
  BOOST_CHECK(status().state() == pb::DOWNLOADING);
  sched.advance_time(1ms); // the tick at 500 ms
  sched.run();
  BOOST_CHECK_EQUAL(fast->requests.size(), served + 2);
  for (auto p : slow->requests)
    BOOST_CHECK(contains(fast->requests, p));
  BOOST_CHECK(rec->last.state() == pb::COMPLETE);
  BOOST_CHECK(file("/dl/f.bin") == bytes);
}

// A resumed download (manifest and bitfield from the peer's records, the
// verified pieces already in the partial file) asks only for the missing
// pieces, here from a real piece server.
BOOST_AUTO_TEST_CASE(resume_fetches_only_missing_pieces) {
  io->put("/src/f.bin", bytes);
  auto src_lib = std::make_shared<library>();
  src_lib->put(local_file{m, "/src/f.bin", bitfield{n, true}, ""});
  piece_server_options so;
  so.io = io;
  so.unix_time = [] { return int64_t{0}; };
  auto server = track(sys.spawn(piece_server, src_lib, so));
  *rec->info.add_sources() = publish("1", server, n);
  bitfield have{n};
  std::string part(bytes.size(), '\0');
  uint64_t missing_bytes = 0;
  for (uint32_t i = 0; i < n; ++i) {
    if (i % 3 == 0) {
      have.set(i);
      auto d = test::piece_of(bytes, i);
      std::copy(d.data(), d.data() + d.size(), part.begin() + i * test::piece);
    } else {
      missing_bytes += piece_length(m, i);
    }
  }
  io->put("/dl/.f.bin.part", part);
  auto fo = options();
  fo.manifest = m;
  fo.have = have.bytes();
  start(fo);
  BOOST_CHECK(rec->last.state() == pb::COMPLETE);
  BOOST_CHECK(file("/dl/f.bin") == bytes); // whole-file hash read back
  BOOST_CHECK_EQUAL(src_lib->bytes_served.load(), missing_bytes);
  BOOST_CHECK_EQUAL(rec->haves.size(), n - have.count());
  for (auto p : rec->haves)
    BOOST_CHECK(!have.test(p));
}

BOOST_AUTO_TEST_CASE(one_shot_fails_when_no_source_holds_a_piece) {
  auto a = add_source("1", test::source_mode::serve);
  bitfield holds{n, true};
  holds.reset(4);
  rec->info.mutable_sources(0)->set_bitfield(holds.bytes());
  auto fo = options();
  fo.fail_when_stalled = true;
  start(fo);
  BOOST_CHECK(rec->last.state() == pb::FAILED);
  BOOST_CHECK_EQUAL(rec->last.reason(), "1 pieces have no online source: 4");
  BOOST_CHECK(!contains(a->requests, 4));
}

BOOST_AUTO_TEST_SUITE_END()

// -- pacing: one window for the whole download, bounded sources, backoff ------

BOOST_FIXTURE_TEST_SUITE(pacing, fixture)

size_t requests_at(const std::vector<std::shared_ptr<test::source_record>>& xs) {
  size_t n = 0;
  for (auto& x : xs)
    n += x->requests.size();
  return n;
}

// Six sources that never answer: the download starts with two sources'
// windows in flight in total (not six windows), or max_in_flight if less,
// and connects as many sources as fill its window plus two spares (four).
// Once those are overdue (500 ms), they no longer count: the others get
// requests too, each no more than its own window.
BOOST_AUTO_TEST_CASE(requests_in_flight_start_at_two_windows_in_total) {
  for (uint32_t cap : {64u, 3u}) {
    std::vector<std::shared_ptr<test::source_record>> held;
    for (auto id : {"1", "2", "3", "4", "5", "6"})
      held.push_back(add_source(id + std::to_string(cap),
                                test::source_mode::hold));
    auto fo = options();
    fo.name = "f.bin";
    fo.max_in_flight = cap;
    start(fo);
    BOOST_CHECK_EQUAL(status().sources(), 4u);
    BOOST_CHECK_EQUAL(requests_at(held), std::min(cap, 4u));
    sched.advance_time(250ms);
    sched.run();
    BOOST_CHECK_EQUAL(requests_at(held), std::min(cap, 4u));
    for (int i = 0; i < 4; ++i) { // 1.25 s
      sched.advance_time(250ms);
      sched.run();
    }
    BOOST_CHECK_GT(requests_at(held), std::min(cap, 4u));
    for (auto& x : held)
      BOOST_CHECK_LE(x->requests.size(), 2u);
    caf::anon_send_exit(fetcher, caf::exit_reason::user_shutdown);
    sched.run();
    rec->info.clear_sources();
  }
}

// Replies grow the download's window, never above max_in_flight: with the
// window full of pieces at sources that do not answer, the serving source
// gets nothing more at first; the download completes once those are
// overdue or time out.
BOOST_AUTO_TEST_CASE(pieces_in_flight_never_exceed_the_cap) {
  auto a = add_source("1", test::source_mode::serve);
  std::vector<std::shared_ptr<test::source_record>> held;
  for (auto id : {"2", "3", "4", "5"})
    held.push_back(add_source(id, test::source_mode::hold));
  auto fo = options();
  fo.max_in_flight = 3;
  start(fo);
  BOOST_CHECK(status().state() == pb::DOWNLOADING);
  BOOST_CHECK_EQUAL(requests_at(held), 3u);
  auto served = a->requests.size();
  BOOST_CHECK_LT(served, n - 3);
  sched.advance_time(250ms);
  sched.run();
  BOOST_CHECK_EQUAL(a->requests.size(), served);
  BOOST_CHECK_EQUAL(requests_at(held), 3u);
  for (int i = 0; i < 120 && rec->last.state() != pb::COMPLETE; ++i) {
    sched.advance_time(250ms);
    sched.run();
  }
  BOOST_CHECK(rec->last.state() == pb::COMPLETE);
  BOOST_CHECK(file("/dl/f.bin") == bytes);
}

// Of six sources offered, only max_sources are connected.
BOOST_AUTO_TEST_CASE(at_most_max_sources_are_connected) {
  std::vector<std::shared_ptr<test::source_record>> held;
  for (auto id : {"1", "2", "3", "4", "5", "6"})
    held.push_back(add_source(id, test::source_mode::hold));
  auto fo = options();
  fo.max_sources = 3;
  start(fo);
  BOOST_CHECK_EQUAL(status().sources(), 3u);
  for (int i = 0; i < 8; ++i) {
    sched.advance_time(250ms);
    sched.run();
  }
  BOOST_CHECK_EQUAL(status().sources(), 3u);
}

// While the sources are good the peer is asked for them less and less often
// (250 ms doubling, not every 250 ms); a lost source is replaced at once.
BOOST_AUTO_TEST_CASE(the_source_refresh_backs_off_and_hurries_when_short) {
  add_source("1", test::source_mode::hold);
  add_source("2", test::source_mode::hold);
  add_source("3", test::source_mode::hold);
  start(options());
  BOOST_CHECK_EQUAL(rec->info_asked, 1u);
  for (int i = 0; i < 16; ++i) { // 4 s: asked at 0, 0.5, 1.5 and 3.5 s
    sched.advance_time(250ms);
    sched.run();
  }
  BOOST_CHECK_EQUAL(rec->info_asked, 4u);
  caf::anon_send_exit(handles["1"], caf::exit_reason::kill);
  sched.run();
  BOOST_CHECK_EQUAL(rec->info_asked, 5u); // at once
  BOOST_CHECK_EQUAL(status().sources(), 2u);
  for (int i = 0; i < 4; ++i) { // short of nothing again: backing off
    sched.advance_time(250ms);
    sched.run();
  }
  BOOST_CHECK_LE(rec->info_asked, 6u);
}

BOOST_AUTO_TEST_SUITE_END()
