// The network of a simulation: the directory seam with links. Every site
// (the tracker node, each mirror node, each client) gets a directory of its
// own; what it publishes goes into one shared table, and its connector hands
// out, for each actor it connects to, a link proxy: an actor with the
// target's interface that forwards every message after the link's delay
// (one-way latency of both ends, the reply's bytes paced by the sender's
// upload and the receiver's download bandwidth, which each transfer books;
// the clock delivers it, as the request's own), and drops what is sent
// while the two sites cannot talk (a partition, a hung site; a message on
// the wire when the cut begins still arrives).
// Such a connection ends (the proxy exits with remote_link_unreachable, as
// CAF's heartbeats end a silent connection) after the connection timeout.
//
// Replies go straight back to the requester: the proxy delegates, so a
// reply's delay is charged when its request passes (its size is known from
// the request: a piece request's reply is the piece). Handles inside
// replies would bypass the proxies: the one reply that hands out handles
// for traffic, a mirror node's (mirror, ID), is answered by the proxy itself
// with a proxy of the mirror. Placement's requests to mirrors go to the
// handle a mirror registered with (the mirror itself): a partition cuts
// them only through the heartbeats it cuts (the mirror is declared dead).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_clock.hpp>
#include <caf/message.hpp>

#include "actors/core/directory.hpp"

namespace actorrent::sim {

struct link_params {
  double up_bps = 12.5e6;
  double down_bps = 12.5e6;
  caf::timespan latency{0};
};

class network : public std::enable_shared_from_this<network> {
public:
  network(caf::actor_system& sys, caf::timespan connection_timeout);
  ~network();

  void add_site(const std::string& site, const std::string& kind,
                link_params link);
  /// The directory of one site (publish into the shared table, connect
  /// through link proxies).
  std::shared_ptr<directory> directory_of(const std::string& site);
  /// Bytes of the reply a message asks for (a piece request: the piece).
  void set_reply_size(std::function<size_t(const caf::message&)> f);

  // -- faults ------------------------------------------------------------------
  void hang(const std::string& site, bool on);
  /// Bandwidth of a site times `factor` (1: normal again).
  void slow(const std::string& site, double factor);
  /// Sites of `a` and sites of `b` cannot talk until heal().
  void partition(const std::vector<std::string>& a,
                 const std::vector<std::string>& b);
  /// Ends every partition and hang.
  void heal();
  bool reachable(const std::string& from, const std::string& to) const;
  bool hung(const std::string& site) const;

  // -- what the proxies use ----------------------------------------------------
  /// The delay of a request from `from` to `to` asking for `reply_bytes`,
  /// booked on both links; counts the bytes.
  caf::timespan book(const std::string& from, const std::string& to,
                     size_t reply_bytes);
  size_t reply_size(const caf::message& msg) const;
  caf::timespan connection_timeout() const { return timeout_; }
  /// A proxy from `from` to the actor `target` of site `to` (one per pair).
  caf::strong_actor_ptr proxy(const std::string& from, const std::string& to,
                              const caf::strong_actor_ptr& target);

  // -- what the report shows ---------------------------------------------------
  /// Bytes of replies served by each kind of site (client, mirror, tracker).
  std::map<std::string, uint64_t> bytes_by_kind() const;
  uint64_t bytes_total() const;
  /// Connections that ended (their target died, or a cut outlasted the
  /// connection timeout): each makes its users fail over.
  uint64_t connections_lost() const { return lost_; }
  void count_lost() { ++lost_; }
  /// A connection from `from` to `to` ended by a cut (partition, hang).
  struct cut_exit {
    caf::actor_clock::time_point when;
    std::string from;
    std::string to;
  };
  void count_cut(cut_exit x);
  /// The connections ended by cuts, in order.
  std::vector<cut_exit> cut_exits() const;
  /// The last time a piece was asked from `site` (epoch when never).
  caf::actor_clock::time_point last_piece_asked(const std::string& site) const;
  /// Piece bytes asked from `site` so far.
  uint64_t bytes_served(const std::string& site) const;
  std::string kind_of(const std::string& site) const;

  struct entry {
    std::string site;
    caf::strong_actor_ptr whom;
    std::set<std::string> ifs;
  };
  /// The published actor at host:port.
  bool lookup(const std::string& endpoint, entry& out) const;
  void publish(const std::string& endpoint, entry e);
  void unpublish(const std::string& endpoint);
  /// Stops every proxy and connector (at the end of a run).
  void shutdown();

private:
  struct site_state {
    std::string kind;
    link_params link;
    double factor = 1;
    bool hung = false;
    caf::actor_clock::time_point up_free{};
    caf::actor_clock::time_point down_free{};
    caf::actor_clock::time_point last_asked{};
    uint64_t served = 0;
  };
  caf::actor_system& sys_;
  caf::timespan timeout_;
  mutable std::mutex mtx_;
  // Hashed: looked up for every message, 100,000 sites and more.
  std::unordered_map<std::string, site_state> sites_;
  std::set<std::pair<std::string, std::string>> cuts_;
  std::unordered_map<std::string, entry> table_;
  /// (from site, target) -> the proxy and the target's site. The proxy is
  /// held weakly: it lives as long as those who connected through it hold
  /// it (a finished download's connections go with it), and the next
  /// connection to the same target gets a new one.
  using proxy_key = std::pair<std::string, caf::actor_addr>;
  std::map<proxy_key, std::pair<caf::actor_addr, std::string>> proxies_;
  /// Targets with a callback on their end (one each, not one per proxy):
  /// their proxies are told with a down message. By actor id: every actor
  /// of a simulation lives in its one actor system.
  std::unordered_set<caf::actor_id> watched_;
  void on_target_down(const std::string& site, const caf::actor_addr& target,
                      const caf::error& reason);
  /// Site -> the proxies from or to it: a fault on a site looks at its own
  /// links, not at every link of the simulation.
  std::unordered_map<std::string, std::set<proxy_key>> proxies_at_;
  /// Tells the proxies touching `sites` whose two ends can no longer talk
  /// to check their connection (only those).
  void notify_cut(const std::vector<std::string>& sites);
  bool reachable_locked(const std::string& from, const std::string& to) const;
  std::vector<caf::actor> connectors_;
  std::function<size_t(const caf::message&)> reply_size_;
  std::map<std::string, uint64_t> bytes_by_kind_;
  /// Host -> the next port to try there: each host has its own ports, as a
  /// machine has (one counter for all ran past 65535 at ~30,000 clients and
  /// then searched the whole table for every port).
  std::map<std::string, uint16_t> next_port_;
  std::atomic<uint64_t> lost_{0};
  std::vector<cut_exit> cut_exits_;
  friend class site_directory;
};

} // namespace actorrent::sim
