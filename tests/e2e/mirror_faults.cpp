// The mirror cluster's faults with real processes, started through
// `actorrent cluster`, each on a small cluster:
// - a part corrupted on one mirror's disk: downloads stay byte-identical,
//   the downloader reports the mirror's bad pieces, placement has that
//   mirror check the part, and the part is back on R good replicas;
// - fewer live mirrors than replicas: publishing stores every part on the
//   mirrors there are and names each part's replica count (exit 1),
//   downloading works while one replica of each part lives, and names
//   what is missing when none does;
// - bad input to mirrors and placement from an adversarial client: each is
//   refused with an error naming it, nothing is stored or dropped, and the
//   nodes keep serving.
#define BOOST_TEST_MODULE e2e_mirror_faults
#include <boost/test/unit_test.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <future>
#include <regex>

#include <caf/typed_event_based_actor.hpp>

#include "actors/core/manifest.hpp"
#include "actors/transfer/piece_server.hpp"
#include "tests/e2e/adversary.hpp"
#include "tests/nodes/cluster_fixture.hpp"

using namespace actorrent;
using namespace std::chrono_literals;

namespace {

// Names in a directory (empty when it cannot be read).
std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> out;
  if (auto* d = ::opendir(dir.c_str())) {
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.')
        out.emplace_back(e->d_name);
    ::closedir(d);
  }
  return out;
}

// One part file on a mirror's disk.
struct stored_part {
  std::string mirror;
  uint32_t part = 0;
  std::string path;
  bool partial = false;
};

struct faults : test::cluster_fixture {
  std::string source = tmp / "big.bin";
  std::string bytes;
  std::string hex_sha;
  uint64_t part_size = 0;

  // A cluster, and a random file of `size` bytes published to it with
  // pieces of `piece` bytes; the publish's result.
  test::run_result start(std::vector<std::string> up, uint64_t size,
                         uint64_t piece, uint64_t part) {
    part_size = part;
    test::write_random_file(source, size, 21);
    bytes = test::read_file(source);
    hex_sha = hex(sha256(bytes.data(), bytes.size()));
    up.insert(up.begin(), "up");
    up.insert(up.end(), {"--part-size", std::to_string(part),
                         "--scrub-interval-ms", "3600000"});
    auto r = cluster(up);
    BOOST_REQUIRE_MESSAGE(r.code == 0, r.out);
    auto put = test::run({"mirror-put", "--tracker", tracker(), source,
                          "--peer.piece-size=" + std::to_string(piece)},
                         120s);
    BOOST_TEST_MESSAGE(put.out);
    return put;
  }

  std::string tracker() {
    return "127.0.0.1:" + std::to_string(node("tracker").port());
  }

  std::string placement_json() {
    return ctl(node("tracker"), {"--json", "placement"}).out;
  }

  bool fully_replicated() {
    auto json = placement_json();
    return json.find("\"under_replicated\":[]") != std::string::npos
           && json.find("\"copies\":[]") != std::string::npos;
  }

  // Every part file of the published file on every mirror's disk.
  std::vector<stored_part> on_disk() {
    std::vector<stored_part> out;
    std::regex re{hex_sha + R"(\.([0-9]+)(\.partial)?)"};
    for (auto& node_dir : names_in(dir))
      if (std::regex_match(node_dir, std::regex{"mirror-[0-9]+-data"}))
        for (auto& m : names_in(dir + "/" + node_dir))
          for (auto& n : names_in(dir + "/" + node_dir + "/" + m)) {
            std::smatch x;
            if (std::regex_match(n, x, re))
              out.push_back({m, static_cast<uint32_t>(std::stoul(x[1])),
                             dir + "/" + node_dir + "/" + m + "/" + n,
                             x[2].matched});
          }
    return out;
  }

  bool good(const stored_part& p) {
    return !p.partial
           && test::read_file(p.path)
                == bytes.substr(p.part * part_size, part_size);
  }

  // True when every part is on exactly `replicas` mirrors' disks, each
  // copy byte-identical to the source's range, and nothing else is there.
  bool disks_hold_good_replicas(uint32_t parts, size_t replicas) {
    std::vector<size_t> count(parts);
    for (auto& p : on_disk()) {
      if (p.part >= parts || !good(p))
        return false;
      ++count[p.part];
    }
    return std::all_of(count.begin(), count.end(),
                       [&](size_t n) { return n == replicas; });
  }

  // A one-shot fetch of big.bin into `to`.
  test::run_result fetch(const std::string& to) {
    return test::run({"fetch", "--tracker", tracker(), "big.bin", "--to", to,
                      "--log.level=info"},
                     120s);
  }

  std::string log_of(const std::string& node) {
    return test::read_file(dir + "/" + node + ".log");
  }
};

// Flips one byte in every piece of a part file: a real corruption on disk.
void corrupt(const std::string& path, uint64_t piece, uint64_t size) {
  int fd = ::open(path.c_str(), O_RDWR);
  BOOST_REQUIRE(fd >= 0);
  for (uint64_t off = piece / 2; off < size; off += piece) {
    char c = 0;
    BOOST_REQUIRE_EQUAL(::pread(fd, &c, 1, static_cast<off_t>(off)), 1);
    c = static_cast<char>(~c);
    BOOST_REQUIRE_EQUAL(::pwrite(fd, &c, 1, static_cast<off_t>(off)), 1);
  }
  ::close(fd);
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto i = text.find(what); i != std::string::npos;
       i = text.find(what, i + 1))
    ++n;
  return n;
}

/// Sends a request to `h` from a client's system and waits for the answer.
template <class T, class Handle, class... Ts>
caf::expected<T> ask_actor(caf::actor_system& sys, const Handle& h,
                           Ts&&... xs) {
  caf::scoped_actor self{sys};
  caf::expected<T> out{caf::make_error(caf::sec::request_timeout)};
  self->request(h, 30s, std::forward<Ts>(xs)...)
    .receive([&](T& x) { out = std::move(x); },
             [&](caf::error& err) { out = std::move(err); });
  return out;
}

} // namespace

// 32 MiB in 4 parts of 32 pieces, 3 replicas on 6 mirrors in 3 processes.
// Every piece of one part is corrupted on one mirror's disk (the scrub is
// set to one piece an hour, so it does not find it first). Downloads are
// byte-identical; the downloader refuses the mirror's bad pieces and
// reports them; that mirror checks the part, drops it, and the part is
// copied again from a good replica: 3 good copies on disk.
BOOST_FIXTURE_TEST_CASE(a_corrupt_replica_is_reported_checked_and_repaired,
                        faults) {
  constexpr uint64_t piece = 256 * 1024;
  auto put = start({"--mirrors", "6", "--mirror-processes", "3",
                    "--replicas", "3", "--dead-after-ms", "2000"},
                   32 << 20, piece, 8 << 20);
  BOOST_REQUIRE_MESSAGE(put.code == 0, put.out);
  BOOST_REQUIRE(disks_hold_good_replicas(4, 3));
  auto parts = on_disk();
  BOOST_REQUIRE(!parts.empty());
  auto victim = parts.front();
  corrupt(victim.path, piece, part_size);
  BOOST_REQUIRE(!good(victim));
  BOOST_TEST_MESSAGE("corrupted part " << victim.part << " on "
                                       << victim.mirror);

  // The download spreads its requests over the mirrors: the corrupt one
  // is asked for some of that part's pieces in the first download, almost
  // always; a few downloads make sure of it.
  std::string checked = "mirror " + victim.mirror + " lost part "
                        + std::to_string(victim.part);
  std::string all_out;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 4; ++i) {
    auto to = std::string{tmp / ("d" + std::to_string(i))};
    auto r = fetch(to);
    all_out += r.out;
    BOOST_REQUIRE_MESSAGE(r.code == 0, r.out);
    BOOST_REQUIRE(test::read_file(to + "/big.bin") == bytes);
    if (test::wait_until(
          [&] {
            return log_of("tracker").find(checked) != std::string::npos;
          },
          5s))
      break;
  }
  // The downloader refused the bad pieces and reported them; the mirror
  // itself found the part corrupt and dropped it.
  BOOST_TEST(all_out.find("failed its SHA-256") != std::string::npos);
  BOOST_TEST(all_out.find("reporting bad piece") != std::string::npos);
  auto tracker_log = log_of("tracker");
  BOOST_TEST(tracker_log.find("a downloader reports piece") != std::string::npos);
  BOOST_TEST_REQUIRE(tracker_log.find(checked + " of big.bin: found corrupt when asked")
                       != std::string::npos,
                     tracker_log.substr(tracker_log.size() > 4000
                                          ? tracker_log.size() - 4000
                                          : 0));
  if (all_out.find("banned") != std::string::npos)
    BOOST_TEST_MESSAGE("the corrupt mirror was banned after 3 bad pieces");
  // Back on 3 good replicas within 30 s of the last download, as placement
  // says and as the disks show.
  BOOST_TEST(test::wait_until(
    [&] { return fully_replicated() && disks_hold_good_replicas(4, 3); },
    30s));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0)
                .count();
  BOOST_TEST_MESSAGE("downloads, report, check and repair took " << took
                                                                 << " ms");
  // A download after the repair is byte-identical too.
  auto r = fetch(tmp / "after");
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.out);
  BOOST_TEST(test::read_file(tmp / "after/big.bin") == bytes);
}

// 3 mirrors (one per process) and 5 replicas: publishing stores each of
// the 5 parts on the 3 mirrors there are and says so per part (exit 1);
// the file downloads while any one mirror lives, and with none the fetch
// fails naming the missing pieces.
BOOST_FIXTURE_TEST_CASE(fewer_mirrors_than_replicas, faults) {
  auto put = start({"--mirrors", "3", "--mirror-processes", "3",
                    "--replicas", "5", "--dead-after-ms", "1000"},
                   (4 << 20) + 17, 1 << 20, 1 << 20);
  BOOST_TEST(put.code == 1);
  BOOST_TEST(put.out.find("big.bin: 5 parts on the mirrors, 5 with fewer than"
                          " 5 replicas")
               != std::string::npos,
             put.out);
  for (int p = 0; p < 5; ++p)
    BOOST_TEST(put.out.find("part " + std::to_string(p)
                            + ": 3 of 5 replicas (m00, m01, m02): only 3"
                              " mirrors are alive")
                 != std::string::npos,
               put.out);
  BOOST_TEST(disks_hold_good_replicas(5, 3));
  auto text = ctl(node("tracker"), {"placement"}).out;
  BOOST_TEST(text.find("3/5 (m00,m01,m02)") != std::string::npos, text);

  auto r = fetch(tmp / "d1");
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.out);
  BOOST_TEST(test::read_file(tmp / "d1/big.bin") == bytes);

  // Two of the three processes SIGKILLed: the last mirror serves it all.
  BOOST_REQUIRE_EQUAL(cluster({"kill", "mirror-0"}).code, 0);
  BOOST_REQUIRE_EQUAL(cluster({"kill", "mirror-1"}).code, 0);
  BOOST_REQUIRE(test::wait_until(
    [&] {
      auto json = placement_json();
      return std::regex_search(json, std::regex{R"("mirror":"m00","state":"dead")"})
             && std::regex_search(json, std::regex{R"("mirror":"m01","state":"dead")"});
    },
    20s));
  r = fetch(tmp / "d2");
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.out);
  BOOST_TEST(test::read_file(tmp / "d2/big.bin") == bytes);

  // None left: the fetch fails and names what is missing.
  BOOST_REQUIRE_EQUAL(cluster({"kill", "mirror-2"}).code, 0);
  r = fetch(tmp / "d3");
  BOOST_TEST(r.code == 1, r.out);
  BOOST_TEST(r.out.find("5 pieces have no online source: 0,1,2,3,4")
               != std::string::npos,
             r.out);
  BOOST_TEST(::access((tmp / "d3/big.bin").c_str(), F_OK) != 0);
}

// An adversarial client speaks the protocol to a mirror node and to the
// tracker's placement: unknown mirror ids, malformed and out-of-range
// piece requests, copies, drops and checks not asked by placement, stray
// 32 MiB messages, a publish whose source serves bytes that fail their
// SHA-256, and bad piece reports (without a session, naming unknown ids,
// oversized, and one with a session about a good replica). Each gets an
// error naming it or changes nothing; the good replica is checked by its
// mirror and kept; the nodes keep serving.
BOOST_FIXTURE_TEST_CASE(bad_input_to_mirrors_is_refused, faults) {
  auto put = start({"--mirrors", "6", "--mirror-processes", "3",
                    "--replicas", "3", "--dead-after-ms", "2000"},
                   8 << 20, 1 << 20, 4 << 20);
  BOOST_REQUIRE_MESSAGE(put.code == 0, put.out);
  BOOST_REQUIRE(disks_hold_good_replicas(2, 3));
  auto held = on_disk().front();  // a good replica: mirror, part
  pb::ClusterNode host_node;
  auto cluster_file = file();
  for (auto& n : cluster_file.nodes())
    if (n.name().rfind("mirror-", 0) == 0
        && ctl(n, {"actors"}).out.find(held.mirror) != std::string::npos)
      host_node = n;
  BOOST_REQUIRE(host_node.port() != 0);
  auto sha = sha256(bytes.data(), bytes.size());

  std::vector<std::string> front_out, mirror_out, report_out;
  pb::PlaceReply lying_reply;
  std::string lying_error;
  auto slowest = test::slowest_answer_during(
    static_cast<uint16_t>(node("tracker").port()), [&] {
    // The mirror node's front: unknown ids.
    test::client<mirror_node_actor> front{
      static_cast<uint16_t>(host_node.port())};
    auto h = front.ask<caf::strong_actor_ptr>(mirror_atom::value,
                                              std::string{"m99"});
    front_out.push_back(test::why(h));
    h = front.ask<caf::strong_actor_ptr>(mirror_atom::value,
                                         std::string(1 << 20, 'm'));
    front_out.push_back(test::why(h));
    h = front.ask<caf::strong_actor_ptr>(mirror_atom::value, held.mirror);
    BOOST_REQUIRE_MESSAGE(h && *h, test::why(h));
    auto mirror = caf::actor_cast<mirror_actor>(*h);
    // Pieces: no SHA-256, an unknown file, out of range, a part not held.
    auto piece_req = [&](std::string file_sha, uint32_t index) {
      pb::PieceRequest q;
      q.set_name("big.bin");
      q.set_file_sha256(std::move(file_sha));
      q.set_index(index);
      caf::scoped_actor self{*front.sys};
      std::string out = "timeout";
      self->request(mirror, 30s, piece_atom::value, q)
        .receive([&](pb::PieceHeader&, piece_bytes&) { out = "ok"; },
                 [&](caf::error& err) { out = render(err); });
      return out;
    };
    mirror_out.push_back(piece_req("abc", 0));
    mirror_out.push_back(piece_req(std::string(32, 'E'), 0));
    mirror_out.push_back(piece_req(sha, 1000000));
    // Copies, drops and checks are placement's to ask for.
    pb::PartCopy copy;
    mirror_out.push_back(test::why(
      ask_actor<pb::PartStored>(*front.sys, mirror, copy_atom::value, copy)));
    pb::PartRef ref;
    ref.set_file_sha256(sha);
    ref.set_part(held.part);
    ref.set_mirror_id(held.mirror);
    mirror_out.push_back(test::why(
      ask_actor<caf::ok_atom>(*front.sys, mirror, drop_atom::value, ref)));
    mirror_out.push_back(test::why(
      ask_actor<bool>(*front.sys, mirror, verify_atom::value, ref)));
    // A 32 MiB stray message to the front and to the mirror.
    std::string payload(32 << 20, 'A');
    for (auto target : {caf::actor_cast<caf::actor>(front.node),
                        caf::actor_cast<caf::actor>(mirror)}) {
      caf::scoped_actor self{*front.sys};
      std::string out = "timeout";
      self->request(target, 30s, caf::atom("junk"), payload)
        .receive([&](const caf::message&) { out = "ok"; },
                 [&](caf::error& err) { out = render(err); });
      mirror_out.push_back(out);
    }

    // Placement: a publish whose source serves bytes that fail their
    // SHA-256. The lying source is an actor of this client.
    test::tracker_client_conn mallory{
      static_cast<uint16_t>(node("tracker").port())};
    auto liar = mallory.sys->spawn([]() -> piece_server_actor::behavior_type {
      return {[](piece_atom, const pb::PieceRequest&)
                -> caf::result<pb::PieceHeader, piece_bytes> {
        return {pb::PieceHeader{}, piece_bytes{std::string(1 << 20, 'X').data(), 1 << 20}};
      },
      no_stream};
    });
    auto liar_port = mallory.sys->middleman().publish(liar, 0, "127.0.0.1");
    BOOST_REQUIRE(liar_port);
    auto other = std::string{tmp / "other.bin"};
    test::write_random_file(other, 6 << 20, 33);
    pb::PlaceFile place;
    *place.mutable_manifest() = build_manifest(other, "other.bin", 1 << 20);
    place.mutable_source()->set_host("127.0.0.1");
    place.mutable_source()->set_port(*liar_port);
    auto placed = mallory.ask<pb::PlaceReply>(place_atom::value, place);
    if (placed)
      lying_reply = *placed;
    else
      lying_error = test::why(placed);

    // Bad piece reports: without a session, then with one of a peer of
    // this client's own.
    pb::BadPieceReport rep;
    rep.set_file_sha256(sha);
    rep.set_piece(held.part * 4);
    rep.set_mirror_id(held.mirror);
    rep.set_peer_id("nobody");
    report_out.push_back(
      test::why(mallory.ask<caf::ok_atom>(corrupt_atom::value, rep)));
    auto key = signing_key::generate(system_random());
    auto announced = test::announce_as(
      mallory, key,
      test::plain_announce("", 7666, build_manifest(other, "other.bin",
                                                    1 << 20),
                           bitfield{6, true}.bytes()));
    BOOST_REQUIRE_MESSAGE(announced, test::why(announced));
    rep.set_peer_id(peer_id_of(key.public_key));
    rep.set_session(announced->session());
    auto with = [&](auto change) {
      auto x = rep;
      change(x);
      return test::why(mallory.ask<caf::ok_atom>(corrupt_atom::value, x));
    };
    report_out.push_back(with([](auto& x) { x.set_mirror_id("m99"); }));
    report_out.push_back(with([](auto& x) { x.set_piece(1000000); }));
    report_out.push_back(
      with([](auto& x) { x.set_file_sha256(std::string(32, 'E')); }));
    report_out.push_back(
      with([](auto& x) { x.set_mirror_id(std::string(1 << 20, 'm')); }));
    report_out.push_back(with([](auto& x) { x.set_file_sha256("short"); }));
    // About a good replica, twice: checked once, kept.
    report_out.push_back(with([](auto&) {}));
    report_out.push_back(with([](auto&) {}));
    caf::anon_send_exit(liar, caf::exit_reason::user_shutdown);
  });
  BOOST_TEST(slowest < 1000);

  BOOST_REQUIRE_EQUAL(front_out.size(), 2u);
  for (auto& x : front_out)
    BOOST_TEST(x.find("no_such_actor") == 0u, x);
  BOOST_REQUIRE_EQUAL(mirror_out.size(), 8u);
  BOOST_TEST(mirror_out[0].find("bad_message") == 0u, mirror_out[0]);
  BOOST_TEST(mirror_out[1].find("unknown_file") == 0u, mirror_out[1]);
  BOOST_TEST(mirror_out[2].find("bad_piece: piece index out of range") == 0u,
             mirror_out[2]);
  for (size_t i : {3, 4, 5})
    BOOST_TEST(mirror_out[i].find("denied") == 0u, i << ": " << mirror_out[i]);
  for (size_t i : {6, 7})
    BOOST_TEST(mirror_out[i].find("unexpected") != std::string::npos,
               i << ": " << mirror_out[i]);

  // The lying publish: refused by every mirror, nothing of it on disk.
  BOOST_REQUIRE_MESSAGE(lying_error.empty(), lying_error);
  BOOST_REQUIRE_EQUAL(lying_reply.parts_size(), 2);
  for (auto& p : lying_reply.parts()) {
    BOOST_TEST(p.holders_size() == 0);
    BOOST_TEST(p.problem().find("SHA-256") != std::string::npos, p.problem());
  }
  auto other_sha = hex(sha256_file(tmp / "other.bin"));
  for (auto& node_dir : names_in(dir))
    for (auto& m : names_in(dir + "/" + node_dir))
      for (auto& n : names_in(dir + "/" + node_dir + "/" + m))
        BOOST_TEST(n.find(other_sha) == std::string::npos, n);

  std::vector<std::string> expected{"unknown_peer", "unknown_mirror",
                                    "bad_piece",    "unknown_file",
                                    "bad_message",  "bad_message",
                                    "ok",           "ok"};
  BOOST_REQUIRE_EQUAL(report_out.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i)
    BOOST_TEST(report_out[i].find(expected[i]) == 0u,
               i << ": " << report_out[i]);
  // The mirror checked the reported part once, found it intact and kept
  // it; nothing was dropped or copied.
  std::string intact = held.mirror + ": check asked by placement: part "
                       + std::to_string(held.part) + " of big.bin is intact";
  BOOST_TEST(test::wait_until(
    [&] {
      return log_of(host_node.name()).find(intact) != std::string::npos;
    },
    10s));
  BOOST_TEST(count_of(log_of(host_node.name()), intact) == 1u);
  BOOST_TEST(log_of("tracker").find("lost part") == std::string::npos);
  BOOST_TEST(good(held));
  BOOST_TEST(disks_hold_good_replicas(2, 3));

  // Every node still serves: status, and a byte-identical download.
  auto status = cluster({"status"});
  BOOST_TEST(status.code == 0, status.out);
  auto r = fetch(tmp / "after");
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.out);
  BOOST_TEST(test::read_file(tmp / "after/big.bin") == bytes);
}
