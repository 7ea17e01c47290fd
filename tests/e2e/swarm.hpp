// A tracker and peers as real processes on loopback, driven through ctl.
#pragma once

#include <map>
#include <memory>

#include "actors/core/file_io.hpp"
#include "actors/store/peer_store.hpp"
#include "tests/fixtures.hpp"

namespace actorrent::test {

using namespace std::chrono_literals;

constexpr uint32_t piece = 256 * 1024;

struct node_ports {
  uint16_t port = test::free_port();
  uint16_t control = test::free_port();
  std::string token_file;   // the node's control-token-file, if any
  std::string ctl() const { return "127.0.0.1:" + std::to_string(control); }
};

struct swarm {
  test::temp_dir dir;
  node_ports tracker_ports;
  std::unique_ptr<test::process> tracker;
  std::map<std::string, node_ports> ports;
  std::map<std::string, std::unique_ptr<test::process>> peers;

  /// The trackers' database (tracker.db): a SQLite file in `dir` unless set.
  std::string tracker_db;
  /// What peers get as peer.tracker: the one tracker unless set.
  std::string tracker_list;

  void start_tracker(std::vector<std::string> extra = {}) {
    start_tracker_at(tracker_ports, tracker, "tracker", std::move(extra));
  }

  /// Starts a tracker process on `p` into `slot` (log NAME.log); waits
  /// until its control port answers unless `wait` is false.
  void start_tracker_at(node_ports& p, std::unique_ptr<test::process>& slot,
                        const std::string& name,
                        std::vector<std::string> extra = {},
                        bool wait = true) {
    std::vector<std::string> args{
      "tracker", "--config", std::string{ACTORRENT_SOURCE_DIR} + "/config/tracker.ini",
      "--tracker.port=" + std::to_string(p.port),
      "--tracker.control-port=" + std::to_string(p.control),
      "--tracker.db=" + (tracker_db.empty() ? dir / "tracker.db" : tracker_db)};
    args.insert(args.end(), extra.begin(), extra.end());
    p.token_file = token_file_in(extra);
    slot = std::make_unique<test::process>(args, dir / (name + ".log"));
    if (wait) {
      test::run_result last;
      if (!test::wait_until(
            [&] { return (last = ctl(p, {"actors"})).code == 0; }, 10s))
        BOOST_FAIL(name << " did not answer `ctl actors` within 10 s (last: "
                        << last.out.substr(0, 300) << "); its log ends:\n"
                        << test::tail_of(dir / (name + ".log")));
    }
  }

  std::string share_dir(const std::string& name) {
    make_dirs(dir / (name + "-share"));
    return dir / (name + "-share");
  }

  void start_peer(const std::string& name,
                  std::vector<std::string> extra = {}) {
    auto& p = ports[name];
    std::vector<std::string> args{
      "peer", "--config", std::string{ACTORRENT_SOURCE_DIR} + "/config/peer.ini",
      "--peer.tracker="
        + (tracker_list.empty()
             ? "127.0.0.1:" + std::to_string(tracker_ports.port)
             : tracker_list),
      "--peer.port=" + std::to_string(p.port),
      "--peer.control-port=" + std::to_string(p.control),
      "--peer.share-dir=" + share_dir(name),
      "--peer.download-dir=" + (dir / (name + "-downloads")),
      "--peer.state-db=" + (dir / (name + ".db")),
      "--peer.piece-size=" + std::to_string(piece)};
    args.insert(args.end(), extra.begin(), extra.end());
    p.token_file = token_file_in(extra);
    peers[name] = std::make_unique<test::process>(args, dir / (name + ".log"));
    test::run_result last;
    if (!test::wait_until(
          [&] {
            last = ctl(p, {"--json", "status"});
            return last.code == 0
                   && last.out.find("\"tracker\":\"online\"")
                        != std::string::npos;
          },
          15s))
      BOOST_FAIL(name << " not online at its tracker within 15 s (last "
                      << "status: " << last.out.substr(0, 300)
                      << "); its log ends:\n"
                      << test::tail_of(dir / (name + ".log")));
  }

  // The value of a *.control-token-file option among `args`, or "".
  static std::string token_file_in(const std::vector<std::string>& args) {
    for (auto& a : args)
      if (auto at = a.find("control-token-file="); at != std::string::npos)
        return a.substr(at + 19);
    return {};
  }

  /// `ctl` with the node's token file, if it has one.
  test::run_result ctl(const node_ports& p, std::vector<std::string> args) {
    std::vector<std::string> full{"ctl", "--node", p.ctl()};
    if (!p.token_file.empty())
      full.insert(full.begin() + 1, {"--token-file", p.token_file});
    full.insert(full.end(), args.begin(), args.end());
    return test::run(full, 30s);
  }

  test::run_result ctl(const std::string& peer, std::vector<std::string> args) {
    return ctl(ports[peer], std::move(args));
  }

  int64_t bytes_served(const std::string& peer) {
    return json_int(ctl(peer, {"--json", "status"}).out, "bytes_served");
  }

  // Of those, the bytes sent over piece streams.
  int64_t bytes_streamed(const std::string& peer) {
    return json_int(ctl(peer, {"--json", "status"}).out, "bytes_streamed");
  }

  // State of `name` in a peer's downloads, and its percentage.
  std::string download_state(const std::string& peer, const std::string& name,
                             double* percent = nullptr) {
    auto out = ctl(peer, {"--json", "downloads"}).out;
    auto pos = out.find("\"name\":\"" + name + "\"");
    if (pos == std::string::npos)
      return "none";
    auto obj = out.substr(pos, out.find('}', pos) - pos);
    if (percent)
      *percent = std::stod(obj.substr(obj.find("\"percent\":") + 10));
    auto states = json_strings(obj, "state");
    return states.empty() ? "none" : states[0];
  }

  bool sources(const std::string& peer, const std::string& name, size_t n) {
    auto r = ctl(peer, {"--json", "info", name});
    return r.code == 0 && json_strings(r.out, "peer_id").size() >= n;
  }
};

inline std::string file_of(const std::string& path) {
  return test::read_file(path);
}

} // namespace actorrent::test
