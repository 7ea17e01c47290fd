// No acknowledged write lost (in the spirit of Jepsen's register tests):
// two tracker processes on one PostgreSQL catalog; a client in this process
// drives announces, haves, group joins (and their acceptance) and shares
// against a random tracker while the main thread SIGKILLs a random tracker
// and starts it again, ACTORRENT_KILLS times (default 12;
// simulations/tracker_chaos.sh runs 100). The client records every
// operation a tracker acknowledged; at the end every one of them is
// visible through both trackers. An operation without an answer may or may
// not have happened: it is not checked.
//
// The catalog is on a PostgreSQL primary with a synchronous standby
// (tests/pg_server.hpp's pg_pair); the trackers' tracker.db names both
// servers with target_session_attrs=read-write. Halfway through the kills
// the primary's postmaster is SIGKILLed and the standby promoted; the
// trackers reconnect to it by themselves (not restarted for it).
#define BOOST_TEST_MODULE e2e_no_lost_writes
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdlib>
#include <random>
#include <set>
#include <thread>

#include <caf/io/middleman.hpp>

#include "actors/core/identity.hpp"
#include "actors/core/manifest.hpp"
#include "actors/core/ticket.hpp"
#include "actors/interfaces.hpp"
#include "tests/e2e/swarm.hpp"
#include "tests/pg_server.hpp"

using namespace actorrent;
using namespace actorrent::test;

namespace {

constexpr uint32_t pieces = 8;
constexpr auto op_timeout = std::chrono::seconds(3);

// Connections to the trackers from this process, made again after a
// failure (a killed tracker's handle is useless).
class tracker_conns {
public:
  explicit tracker_conns(std::vector<uint16_t> ports) : ports_(std::move(ports)) {
    cfg_.set("scheduler.max-threads", 2);
    cfg_.load<caf::io::middleman>();
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    handles_.resize(ports_.size());
  }

  size_t size() const { return ports_.size(); }

  /// Asks tracker `i`; the error when it did not answer in time.
  template <class T, class... Ts>
  caf::expected<T> ask(size_t i, Ts&&... xs) {
    if (!handles_[i]) {
      auto h = sys_->middleman().remote_actor<tracker_node_actor>("127.0.0.1",
                                                                  ports_[i]);
      if (!h)
        return h.error();
      handles_[i] = *h;
    }
    caf::scoped_actor self{*sys_};
    caf::expected<T> out{caf::make_error(caf::sec::request_timeout)};
    self->request(handles_[i], op_timeout, std::forward<Ts>(xs)...)
      .receive([&](T& x) { out = std::move(x); },
               [&](caf::error& err) { out = std::move(err); });
    if (!out && !is(out.error(), errc::unknown_peer)
        && !is(out.error(), errc::conflict))
      handles_[i] = nullptr;
    return out;
  }

private:
  std::vector<uint16_t> ports_;
  node_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::vector<tracker_node_actor> handles_;
};

struct sim_peer {
  signing_key key;
  std::string id;
  std::string session;
  std::vector<pb::Manifest> files;          // acknowledged in its announce
  std::map<std::string, std::set<uint32_t>> held;  // acknowledged pieces
};

struct sim_user {
  std::string name;
  std::string token;
  std::set<std::string> requested;  // join acknowledged
  std::set<std::string> member;     // acceptance acknowledged
};

// What the trackers acknowledged, and counts for the report.
struct history {
  std::vector<sim_peer> peers;
  std::vector<sim_user> users;
  std::map<std::string, std::set<std::string>> shares;  // group -> names
  size_t attempted = 0;
  size_t acknowledged = 0;
};

const std::vector<std::string> groups{"g0", "g1", "g2"};

class client {
public:
  client(tracker_conns& conns, uint64_t seed) : conns_(conns), rng_(seed) {}

  history h;

  /// Operations acknowledged so far (read while the driver runs).
  size_t acknowledged() const { return acked_; }

  /// Users and groups every later operation needs; retried until done.
  void setup() {
    for (int i = 0; i < 6; ++i) {
      sim_user u;
      u.name = "u" + std::to_string(i);
      pb::CreateUser c;
      c.set_user(u.name);
      c.set_password("pw-" + u.name);
      until_done<pb::GroupText>(create_user_atom::value, c);
      pb::Login l;
      l.set_user(u.name);
      l.set_password("pw-" + u.name);
      u.token = until_done<pb::LoginReply>(login_atom::value, l).token();
      h.users.push_back(u);
    }
    for (auto& g : groups) {
      pb::CreateGroup c;
      c.set_token(h.users[0].token);
      c.set_group(g);
      until_done<pb::GroupText>(create_group_atom::value, c);
      h.users[0].member.insert(g);
    }
  }

  /// One random operation against a random tracker.
  void step() {
    auto pick = std::uniform_int_distribution<int>{0, 99}(rng_);
    if (pick < 30 || h.peers.empty())
      announce();
    else if (pick < 65)
      have();
    else if (pick < 85)
      join_or_accept();
    else
      share();
  }

private:
  size_t tracker() {
    return std::uniform_int_distribution<size_t>{0, conns_.size() - 1}(rng_);
  }

  template <class T, class... Ts>
  T until_done(Ts&&... xs) {
    for (int i = 0; i < 200; ++i) {
      auto r = conns_.ask<T>(tracker(), xs...);
      if (r)
        return std::move(*r);
      // An earlier try went through without its answer.
      if (is(r.error(), errc::conflict))
        return T{};
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw std::runtime_error("setup: no tracker answered");
  }

  template <class T, class... Ts>
  caf::expected<T> attempt(Ts&&... xs) {
    ++h.attempted;
    auto r = conns_.ask<T>(tracker(), std::forward<Ts>(xs)...);
    if (r)
      acked_ = ++h.acknowledged;
    return r;
  }

  // A new peer announces two new files (piece 0 of each held); a peer
  // whose announce was not acknowledged is never used again.
  void announce() {
    auto t = tracker();
    ++h.attempted;
    auto c = conns_.ask<pb::Challenge>(t, challenge_atom::value);
    if (!c)
      return;
    sim_peer p;
    p.key = signing_key::generate(system_random());
    pb::Announce msg;
    msg.set_host("127.0.0.1");
    msg.set_port(20000 + static_cast<uint32_t>(h.peers.size()));
    for (int i = 0; i < 2; ++i) {
      auto n = next_file_++;
      auto m = manifest_of("f" + std::to_string(n), pieces,
                           static_cast<char>('a' + n % 26));
      *msg.add_files() = m;
      auto& hold = *msg.add_holdings();
      hold.set_name(m.name());
      bitfield b{pieces};
      b.set(0);
      hold.set_bitfield(b.bytes());
      p.files.push_back(m);
      p.held[m.name()].insert(0);
    }
    sign_announce(p.key, c->nonce(), msg);
    p.id = msg.peer_id();
    auto r = conns_.ask<pb::AnnounceReply>(t, announce_atom::value, msg);
    if (!r || r->rejected_size() > 0)
      return;
    acked_ = ++h.acknowledged;
    p.session = r->session();
    h.peers.push_back(std::move(p));
  }

  void have() {
    auto& p = h.peers[std::uniform_int_distribution<size_t>{
      0, h.peers.size() - 1}(rng_)];
    auto& f = p.files[std::uniform_int_distribution<size_t>{0, 1}(rng_)];
    auto piece = std::uniform_int_distribution<uint32_t>{1, pieces - 1}(rng_);
    pb::Have msg;
    msg.set_peer_id(p.id);
    msg.set_session(p.session);
    msg.set_name(f.name());
    msg.add_pieces(piece);
    if (attempt<caf::ok_atom>(have_atom::value, msg))
      p.held[f.name()].insert(piece);
  }

  void join_or_accept() {
    auto& u = h.users[std::uniform_int_distribution<size_t>{
      1, h.users.size() - 1}(rng_)];
    auto& g = groups[std::uniform_int_distribution<size_t>{
      0, groups.size() - 1}(rng_)];
    if (u.member.count(g) > 0)
      return;
    if (u.requested.count(g) == 0) {
      pb::JoinGroup j;
      j.set_token(u.token);
      j.set_group(g);
      auto r = attempt<pb::GroupText>(join_group_atom::value, j);
      // "already asked": a join that went through unacknowledged.
      if (r || is(r.error(), errc::conflict))
        u.requested.insert(g);
      return;
    }
    pb::AcceptRequest a;
    a.set_token(h.users[0].token);
    a.set_group(g);
    a.set_user(u.name);
    if (attempt<pb::GroupText>(accept_atom::value, a))
      u.member.insert(g);
  }

  // A member shares a new name from one of the announced peers.
  void share() {
    auto& u = h.users[std::uniform_int_distribution<size_t>{
      0, h.users.size() - 1}(rng_)];
    if (u.member.empty())
      return;
    auto& g = *std::next(u.member.begin(),
                         static_cast<long>(std::uniform_int_distribution<size_t>{
                           0, u.member.size() - 1}(rng_)));
    auto& p = h.peers[std::uniform_int_distribution<size_t>{
      0, h.peers.size() - 1}(rng_)];
    pb::Share s;
    s.set_token(u.token);
    s.set_group(g);
    s.set_name("s" + std::to_string(next_share_++));
    s.set_peer_id(p.id);
    s.set_peer_session(p.session);
    if (attempt<pb::GroupText>(share_atom::value, s))
      h.shares[g].insert(s.name());
  }

  tracker_conns& conns_;
  std::mt19937_64 rng_;
  int next_file_ = 0;
  int next_share_ = 0;
  std::atomic<size_t> acked_{0};
};

struct cluster : swarm {
  pg_pair pg;
  std::vector<node_ports> ports{2};
  std::vector<std::unique_ptr<process>> procs{2};

  cluster() {
    tracker_db = pg.create_database("catalog");
    for (size_t i = 0; i < ports.size(); ++i)
      start(i);
  }

  void start(size_t i) {
    start_tracker_at(ports[i], procs[i], "tracker" + std::to_string(i));
  }
};

// Every acknowledged operation of `h`, checked through tracker `t`; the
// missing ones are named.
std::vector<std::string> missing_at(tracker_conns& conns, size_t t,
                                    const history& h) {
  std::vector<std::string> missing;
  for (auto& p : h.peers) {
    // The peer's session, taken over by this tracker, makes it a source.
    pb::Heartbeat hb;
    hb.set_peer_id(p.id);
    hb.set_session(p.session);
    if (auto r = conns.ask<pb::AnnounceReply>(t, heartbeat_atom::value, hb); !r)
      missing.push_back("session of " + p.id.substr(0, 8) + ": "
                        + render(r.error()));
    for (auto& f : p.files) {
      pb::FileQuery q;
      q.set_name(f.name());
      auto info = conns.ask<pb::FileInfo>(t, info_atom::value, q);
      if (!info) {
        missing.push_back("file " + f.name() + ": " + render(info.error()));
        continue;
      }
      const pb::Source* src = nullptr;
      for (auto& s : info->sources())
        if (s.peer_id() == p.id)
          src = &s;
      if (src == nullptr) {
        missing.push_back("holding of " + f.name());
        continue;
      }
      bitfield b{pieces, src->bitfield()};
      for (auto piece : p.held.at(f.name()))
        if (!b.test(piece))
          missing.push_back("have " + f.name() + "#" + std::to_string(piece));
    }
  }
  for (auto& u : h.users) {
    pb::Login l;
    l.set_user(u.name);
    l.set_password("pw-" + u.name);
    auto login = conns.ask<pb::LoginReply>(t, login_atom::value, l);
    if (!login) {
      missing.push_back("user " + u.name);
      continue;
    }
    pb::ListGroups lg;
    lg.set_token(login->token());
    auto list = conns.ask<pb::GroupList>(t, list_groups_atom::value, lg);
    if (!list) {
      missing.push_back("groups of " + u.name);
      continue;
    }
    std::set<std::string> member_of;
    for (auto& g : list->groups())
      if (g.member())
        member_of.insert(g.name());
    for (auto& g : u.member)
      if (member_of.count(g) == 0)
        missing.push_back(u.name + " member of " + g);
    for (auto& g : u.requested)
      if (member_of.count(g) == 0) {
        pb::ListRequests lr;
        lr.set_token(h.users[0].token);
        lr.set_group(g);
        auto reqs = conns.ask<pb::NameList>(t, list_requests_atom::value, lr);
        if (!reqs
            || std::find(reqs->names().begin(), reqs->names().end(), u.name)
                 == reqs->names().end())
          missing.push_back(u.name + " asked to join " + g);
      }
  }
  for (auto& [g, names] : h.shares) {
    pb::ListFiles lf;
    lf.set_token(h.users[0].token);
    lf.set_group(g);
    auto files = conns.ask<pb::NameList>(t, list_files_atom::value, lf);
    std::set<std::string> listed;
    if (files)
      listed.insert(files->names().begin(), files->names().end());
    for (auto& n : names)
      if (listed.count(n) == 0)
        missing.push_back("share " + g + "/" + n);
  }
  return missing;
}

} // namespace

BOOST_AUTO_TEST_CASE(no_acknowledged_operation_is_lost_to_sigkill) {
  auto kills = std::getenv("ACTORRENT_KILLS")
                 ? std::stoi(std::getenv("ACTORRENT_KILLS"))
                 : 12;
  auto seed = std::random_device{}();
  BOOST_TEST_MESSAGE(kills << " kills, seed " << seed);
  cluster c;
  tracker_conns conns{{c.ports[0].port, c.ports[1].port}};
  client cl{conns, seed};
  cl.setup();
  std::atomic<bool> stop{false};
  std::thread driver{[&] {
    while (!stop)
      cl.step();
  }};
  std::mt19937_64 rng{seed + 1};
  size_t before_failover = 0;
  for (int k = 0; k < kills; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(
      std::uniform_int_distribution<int>{200, 700}(rng)));
    if (k == kills / 2) {
      before_failover = cl.acknowledged();
      c.pg.fail_over();
      BOOST_TEST_MESSAGE("PostgreSQL primary killed, standby promoted after "
                         << before_failover << " acknowledged operations");
      std::this_thread::sleep_for(std::chrono::milliseconds(
        std::uniform_int_distribution<int>{200, 700}(rng)));
    }
    auto i = std::uniform_int_distribution<size_t>{0, 1}(rng);
    c.procs[i]->kill();
    std::this_thread::sleep_for(std::chrono::milliseconds(
      std::uniform_int_distribution<int>{0, 300}(rng)));
    c.start(i);
  }
  // The trackers write again on the promoted standby: within the kills,
  // or once they end (a tracker restarted right after the promotion may
  // still be waiting for a primary; bounded at 30 s).
  auto resumed_by = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (cl.acknowledged() <= before_failover + 5
         && std::chrono::steady_clock::now() < resumed_by)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto after_failover = cl.acknowledged();
  BOOST_TEST(after_failover > before_failover + 5,
             "operations acknowledged after the promotion: "
               << after_failover - before_failover);
  stop = true;
  driver.join();
  auto& h = cl.h;
  size_t haves = 0;
  for (auto& p : h.peers)
    for (auto& [f, ps] : p.held)
      haves += ps.size();
  BOOST_TEST_MESSAGE(h.attempted << " operations, " << h.acknowledged
                                 << " acknowledged: " << h.peers.size()
                                 << " peers announced, " << haves
                                 << " pieces held, " << h.shares.size()
                                 << " groups with shares");
  BOOST_TEST(h.acknowledged > 20u);
  BOOST_TEST(h.peers.size() > 2u);
  // Fresh connections: the driver's may point at a killed incarnation.
  tracker_conns fresh{{c.ports[0].port, c.ports[1].port}};
  for (size_t t = 0; t < fresh.size(); ++t) {
    auto missing = missing_at(fresh, t, h);
    BOOST_TEST(missing.empty(),
               "tracker " << t << " misses " << missing.size()
                          << " acknowledged operations, first: "
                          << (missing.empty() ? "" : missing[0]));
  }
}
