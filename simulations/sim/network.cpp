#include "simulations/sim/network.hpp"

#include <algorithm>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/message_view.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/interfaces.hpp"

namespace actorrent::sim {

namespace {

std::string endpoint_of(const std::string& host, uint16_t port) {
  return host + ":" + std::to_string(port);
}

// A loopback address is the site's own, as on a machine: every node
// publishes its control port on 127.0.0.1, and a node connecting there
// reaches its own site.
std::string host_at(const std::string& site, const std::string& host) {
  if (host == "127.0.0.1" || host == "localhost" || host == "::1")
    return site + "/" + host;
  return host;
}

struct held_message {
  caf::response_promise rp;
  caf::message msg;
};

// One direction of a connection: site `from` talking to one actor of `to`.
struct link_state {
  std::shared_ptr<network> net;
  std::string from;
  std::string to;
  caf::actor target;
  uint64_t next = 0;
  std::map<uint64_t, held_message> held;
  bool checking = false;  // a cut check is armed
  static inline const char* name = "link";
};

using link_pointer = caf::stateful_actor<link_state>*;

void arm_check(link_pointer self) {
  auto& st = self->state;
  if (st.checking)
    return;
  st.checking = true;
  self->delayed_send(self, st.net->connection_timeout(), cut_atom::value, true);
}

// Hands a held message to the target: the reply goes straight back to the
// requester. A mirror node's (mirror, ID) is answered here with a proxy of
// the mirror, so its traffic passes this link too.
void release(link_pointer self, held_message h) {
  auto& st = self->state;
  if (!st.net->reachable(st.from, st.to)) {
    arm_check(self);
    return; // dropped: the requester times out
  }
  if (h.msg.match_elements<mirror_atom, std::string>()) {
    auto node = caf::actor_cast<mirror_node_actor>(st.target);
    auto rp = h.rp;
    // No timeout: the node is an actor of this process that answers or is
    // gone (then CAF answers with an error), and a pending request timeout
    // keeps its requester, this proxy, alive in the deterministic clock
    // long after the answer (every proxy to a mirror node stayed).
    self
      ->request(node, caf::infinite, mirror_atom::value,
                h.msg.get_as<std::string>(1))
      .then(
        [self, rp](caf::strong_actor_ptr& m) mutable {
          auto& st = self->state;
          rp.deliver(m ? st.net->proxy(st.from, st.to, m) : m);
        },
        [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
    return;
  }
  h.rp.delegate(st.target, std::move(h.msg));
}

caf::behavior link_proxy(link_pointer self, std::shared_ptr<network> net,
                         std::string from, std::string to, caf::actor target) {
  auto& st = self->state;
  st.net = std::move(net);
  st.from = std::move(from);
  st.to = std::move(to);
  st.target = std::move(target);
  // The network tells of the target's end (on_target_down), not a monitor
  // per proxy: CAF keeps a dead observer's memory among the monitored
  // actor's attachables, and taking a monitor back scans them all.
  self->set_down_handler([self](caf::down_msg& dm) {
    if (dm.source == self->state.target.address()) {
      self->state.net->count_lost();
      self->quit(dm.reason);
    }
  });
  self->set_default_handler(
    [self](caf::scheduled_actor*, caf::message_view& x)
      -> caf::result<caf::message> {
      auto& st = self->state;
      held_message h{self->make_response_promise(), x.move_content_to_message()};
      if (!st.net->reachable(st.from, st.to)) {
        arm_check(self);
        return caf::message{}; // dropped (the promise is never delivered)
      }
      auto delay = st.net->book(st.from, st.to, st.net->reply_size(h.msg));
      if (delay <= caf::timespan{0}) {
        release(self, std::move(h));
        return caf::message{};
      }
      if (!h.msg.match_elements<mirror_atom, std::string>()) {
        // On the wire: delivered to the target after the delay as the
        // promise would delegate it (the reply goes to the requester), by
        // the clock, without a release message through this proxy. A cut
        // that begins meanwhile drops what is sent after it, not this.
        auto& rp = h.rp;
        auto elem = caf::make_mailbox_element(rp.source(), rp.id(),
                                              rp.stages(), std::move(h.msg));
        self->clock().schedule_message(
          self->clock().now() + delay,
          caf::actor_cast<caf::strong_actor_ptr>(st.target), std::move(elem));
        return caf::message{};
      }
      auto id = st.next++;
      st.held.emplace(id, std::move(h));
      self->delayed_send(self, delay, release_atom::value, id);
      return caf::message{};
    });
  return {
    [self](release_atom, uint64_t id) {
      auto& st = self->state;
      if (self->current_sender() != self->ctrl())
        return;
      auto i = st.held.find(id);
      if (i == st.held.end())
        return;
      auto h = std::move(i->second);
      st.held.erase(i);
      release(self, std::move(h));
    },
    // The network: a cut began; checked again after the timeout.
    [self](cut_atom) { arm_check(self); },
    [self](cut_atom, bool) {
      auto& st = self->state;
      st.checking = false;
      if (!st.net->reachable(st.from, st.to)) {
        st.net->count_lost();
        st.net->count_cut({self->clock().now(), st.from, st.to});
        self->quit(caf::exit_reason::remote_link_unreachable);
      }
    },
  };
}

using connect_result
  = caf::result<caf::node_id, caf::strong_actor_ptr, std::set<std::string>>;

connector_actor::behavior_type
site_connector(connector_actor::pointer self, std::shared_ptr<network> net,
               std::string site) {
  return {
    [=](caf::connect_atom, const std::string& host,
        uint16_t port) -> connect_result {
      network::entry e;
      auto ep = endpoint_of(host, port);
      if (!net->lookup(endpoint_of(host_at(site, host), port), e)
          || !net->reachable(site, e.site))
        return caf::make_error(caf::sec::cannot_connect_to_node, ep);
      return {self->home_system().node(), net->proxy(site, e.site, e.whom),
              e.ifs};
    },
  };
}

} // namespace

// A site's directory: the shared table, connections through link proxies.
class site_directory : public directory {
public:
  site_directory(std::shared_ptr<network> net, std::string site)
    : net_(std::move(net)), site_(std::move(site)) {}

  std::string publish(const caf::strong_actor_ptr& whom,
                      std::set<std::string> ifs, const std::string& host,
                      uint16_t& port) override {
    {
      std::lock_guard<std::mutex> guard{net_->mtx_};
      auto at = host_at(site_, host);
      if (port == 0) {
        auto& next = net_->next_port_.try_emplace(at, 10000).first->second;
        while (next != 0 && net_->table_.count(endpoint_of(at, next)) > 0)
          ++next;
        if (next == 0)
          return "cannot listen on " + host + ": no free port";
        port = next++;
      }
      if (net_->table_.count(endpoint_of(at, port)) > 0)
        return "cannot listen on " + endpoint_of(host, port)
               + ": address in use";
    }
    net_->publish(endpoint_of(host_at(site_, host), port),
                  {site_, whom, std::move(ifs)});
    return {};
  }

  void unpublish(const std::string& host, uint16_t port) override {
    net_->unpublish(endpoint_of(host_at(site_, host), port));
  }

  connector_actor connector() override {
    if (!connector_) {
      connector_ = net_->sys_.spawn<caf::hidden>(site_connector, net_, site_);
      std::lock_guard<std::mutex> guard{net_->mtx_};
      net_->connectors_.push_back(caf::actor_cast<caf::actor>(connector_));
    }
    return connector_;
  }

private:
  std::shared_ptr<network> net_;
  std::string site_;
  connector_actor connector_;
};

network::network(caf::actor_system& sys, caf::timespan connection_timeout)
  : sys_(sys), timeout_(connection_timeout) {
}

network::~network() = default;

void network::add_site(const std::string& site, const std::string& kind,
                       link_params link) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& s = sites_[site];
  s.kind = kind;
  s.link = link;
}

std::shared_ptr<directory> network::directory_of(const std::string& site) {
  return std::make_shared<site_directory>(shared_from_this(), site);
}

void network::set_reply_size(std::function<size_t(const caf::message&)> f) {
  reply_size_ = std::move(f);
}

size_t network::reply_size(const caf::message& msg) const {
  return reply_size_ ? reply_size_(msg) : 0;
}

void network::hang(const std::string& site, bool on) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    sites_[site].hung = on;
  }
  if (on)
    notify_cut({site});
}

void network::slow(const std::string& site, double factor) {
  std::lock_guard<std::mutex> guard{mtx_};
  sites_[site].factor = factor;
}

void network::partition(const std::vector<std::string>& a,
                        const std::vector<std::string>& b) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& x : a)
      for (auto& y : b) {
        cuts_.emplace(x, y);
        cuts_.emplace(y, x);
      }
  }
  // Every cut link has one end in `a`.
  notify_cut(a);
}

void network::heal() {
  std::lock_guard<std::mutex> guard{mtx_};
  cuts_.clear();
  for (auto& kvp : sites_)
    kvp.second.hung = false;
}

bool network::reachable(const std::string& from, const std::string& to) const {
  std::lock_guard<std::mutex> guard{mtx_};
  return reachable_locked(from, to);
}

bool network::reachable_locked(const std::string& from,
                               const std::string& to) const {
  auto hung = [&](const std::string& s) {
    auto i = sites_.find(s);
    return i != sites_.end() && i->second.hung;
  };
  return !hung(from) && !hung(to) && cuts_.count({from, to}) == 0;
}

bool network::hung(const std::string& site) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = sites_.find(site);
  return i != sites_.end() && i->second.hung;
}

caf::timespan network::book(const std::string& from, const std::string& to,
                            size_t reply_bytes) {
  if (from == to)
    return caf::timespan{0};
  auto now = sys_.clock().now();
  std::lock_guard<std::mutex> guard{mtx_};
  auto& a = sites_[from];
  auto& b = sites_[to];
  // One way: the mean of both sites' latencies.
  auto one_way = (a.link.latency + b.link.latency) / 2;
  if (reply_bytes == 0)
    return 2 * one_way;
  bytes_by_kind_[b.kind] += reply_bytes;
  b.last_asked = now;
  b.served += reply_bytes;
  // Each link carries its bytes in the order they were asked for, at its
  // own rate (times the slow factor); the reply has arrived when both the
  // sender's uplink and the receiver's downlink have carried it. The two
  // are booked apart, so a slow sender does not hold up the receiver's
  // downlink for its other sources.
  auto secs = [&](double rate) {
    return std::chrono::duration_cast<caf::timespan>(
      std::chrono::duration<double>(static_cast<double>(reply_bytes) / rate));
  };
  auto start = now + one_way;
  b.up_free = std::max(start, b.up_free) + secs(b.link.up_bps * b.factor);
  a.down_free = std::max(start, a.down_free) + secs(a.link.down_bps * a.factor);
  return std::max(b.up_free, a.down_free) + one_way - now;
}

caf::strong_actor_ptr network::proxy(const std::string& from,
                                     const std::string& to,
                                     const caf::strong_actor_ptr& target) {
  auto key = std::make_pair(from, target->address());
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = proxies_.find(key);
    if (i != proxies_.end())
      if (auto p = caf::actor_cast<caf::strong_actor_ptr>(i->second.first))
        return p;
  }
  auto p = sys_.spawn<caf::hidden>(link_proxy, shared_from_this(), from, to,
                                   caf::actor_cast<caf::actor>(target));
  std::weak_ptr<network> weak = shared_from_this();
  p->attach_functor([weak, key, addr = p.address()] {
    if (auto net = weak.lock()) {
      std::lock_guard<std::mutex> guard{net->mtx_};
      auto i = net->proxies_.find(key);
      if (i == net->proxies_.end() || i->second.first != addr)
        return; // gone already, or a newer proxy of the same link
      auto unindex = [&](const std::string& site) {
        if (auto j = net->proxies_at_.find(site); j != net->proxies_at_.end()) {
          j->second.erase(key);
          if (j->second.empty())
            net->proxies_at_.erase(j);
        }
      };
      unindex(key.first);
      unindex(i->second.second);
      net->proxies_.erase(i);
    }
  });
  bool first;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    proxies_[key] = {p.address(), to};
    proxies_at_[from].insert(key);
    proxies_at_[to].insert(key);
    first = watched_.insert(key.second.id()).second;
  }
  if (first) // outside the lock: a target gone already calls back at once
    target->get()->attach_functor(
      [weak, addr = key.second, to](const caf::error& reason) {
        if (auto net = weak.lock())
          net->on_target_down(to, addr, reason);
      });
  return caf::actor_cast<caf::strong_actor_ptr>(p);
}

void network::on_target_down(const std::string& site,
                             const caf::actor_addr& target,
                             const caf::error& reason) {
  std::vector<caf::actor> xs;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    watched_.erase(target.id());
    // The target's proxies are among those touching its site.
    if (auto i = proxies_at_.find(site); i != proxies_at_.end())
      for (auto& key : i->second)
        if (key.second == target)
          if (auto j = proxies_.find(key); j != proxies_.end())
            if (auto x = caf::actor_cast<caf::actor>(j->second.first))
              xs.push_back(std::move(x));
  }
  // In the order the proxies were made (the map's order is by address).
  std::sort(xs.begin(), xs.end(),
            [](auto& a, auto& b) { return a.id() < b.id(); });
  for (auto& x : xs)
    caf::anon_send(x, caf::down_msg{target, reason});
}

void network::notify_cut(const std::vector<std::string>& sites) {
  std::vector<caf::actor> xs;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    std::set<proxy_key> seen;
    for (auto& site : sites) {
      auto i = proxies_at_.find(site);
      if (i == proxies_at_.end())
        continue;
      for (auto& key : i->second) {
        auto j = proxies_.find(key);
        if (j != proxies_.end() && seen.insert(key).second
            && !reachable_locked(key.first, j->second.second))
          if (auto x = caf::actor_cast<caf::actor>(j->second.first))
            xs.push_back(std::move(x));
      }
    }
  }
  for (auto& x : xs)
    caf::anon_send(x, cut_atom::value);
}

void network::count_cut(cut_exit x) {
  std::lock_guard<std::mutex> guard{mtx_};
  cut_exits_.push_back(std::move(x));
}

std::vector<network::cut_exit> network::cut_exits() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return cut_exits_;
}

caf::actor_clock::time_point
network::last_piece_asked(const std::string& site) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = sites_.find(site);
  return i == sites_.end() ? caf::actor_clock::time_point{} : i->second.last_asked;
}

uint64_t network::bytes_served(const std::string& site) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = sites_.find(site);
  return i == sites_.end() ? 0 : i->second.served;
}

std::map<std::string, uint64_t> network::bytes_by_kind() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return bytes_by_kind_;
}

uint64_t network::bytes_total() const {
  uint64_t n = 0;
  for (auto& kvp : bytes_by_kind())
    n += kvp.second;
  return n;
}

std::string network::kind_of(const std::string& site) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = sites_.find(site);
  return i == sites_.end() ? std::string{} : i->second.kind;
}

bool network::lookup(const std::string& endpoint, entry& out) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = table_.find(endpoint);
  if (i == table_.end())
    return false;
  out = i->second;
  return true;
}

// An actor whose last reference goes calls on_target_down, which locks:
// what leaves the table is let go after the lock (publish, unpublish,
// shutdown).
void network::publish(const std::string& endpoint, entry e) {
  std::lock_guard<std::mutex> guard{mtx_};
  std::swap(table_[endpoint], e);
}

void network::unpublish(const std::string& endpoint) {
  entry gone;
  std::lock_guard<std::mutex> guard{mtx_};
  if (auto i = table_.find(endpoint); i != table_.end()) {
    gone = std::move(i->second);
    table_.erase(i);
  }
}

void network::shutdown() {
  std::vector<caf::actor> xs;
  std::unordered_map<std::string, entry> table;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& kvp : proxies_)
      if (auto x = caf::actor_cast<caf::actor>(kvp.second.first))
        xs.push_back(std::move(x));
    xs.insert(xs.end(), connectors_.begin(), connectors_.end());
    proxies_.clear();
    proxies_at_.clear();
    connectors_.clear();
    table.swap(table_);
  }
  for (auto& x : xs)
    caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
}

} // namespace actorrent::sim
