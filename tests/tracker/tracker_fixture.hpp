// The tracker node's two actors under the deterministic scheduler: the group
// manager and the tracker, spawned scheduled on one SQLite file in a temp
// dir, each in its slot as the node's supervisor would put them.
#pragma once

#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/environment.hpp"
#include "actors/core/identity.hpp"
#include "actors/core/manifest.hpp"
#include "actors/tracker/group_manager.hpp"
#include "actors/tracker/tracker.hpp"
#include "tests/fixtures.hpp"

namespace actorrent::test {

using namespace std::chrono_literals;

/// Wall clock of the tests' tickets.
constexpr int64_t test_unix_time = 1'700'000'000;

struct tracker_fixture : deterministic_fixture {
  temp_dir dir;
  std::shared_ptr<actor_slot> tracker_slot = std::make_shared<actor_slot>();
  std::shared_ptr<actor_slot> groups_slot = std::make_shared<actor_slot>();
  tracker_local_actor trk;
  group_manager_actor gm;

  explicit tracker_fixture(bool with_groups = true) {
    if (with_groups)
      start_group_manager();
    start_tracker();
  }

  ~tracker_fixture() {
    if (trk)
      caf::anon_send_exit(trk, caf::exit_reason::user_shutdown);
    if (gm)
      caf::anon_send_exit(gm, caf::exit_reason::user_shutdown);
    sched.run();
  }

  void start_group_manager() {
    group_manager_options opts;
    opts.db = dir / "tracker.db";
    opts.unix_time = [] { return test_unix_time; };
    opts.tracker = tracker_slot;
    gm = sys.spawn(group_manager, opts);
    groups_slot->set(caf::actor_cast<caf::strong_actor_ptr>(gm));
    sched.run();
  }

  void start_tracker() {
    tracker_options opts;
    opts.db = dir / "tracker.db";
    opts.groups = groups_slot;
    trk = sys.spawn(tracker, opts);
    tracker_slot->set(caf::actor_cast<caf::strong_actor_ptr>(trk));
    sched.run();
  }

  /// Ends the tracker abnormally and starts a new one on the same database.
  void restart_tracker() {
    caf::anon_send_exit(trk, caf::exit_reason::kill);
    tracker_slot->set(nullptr);
    sched.run();
    start_tracker();
  }

  /// Sends `xs...` to `whom`, runs every actor until idle and returns the
  /// reply: a T, an error, or sec::request_timeout when none came.
  template <class T, class Handle, class... Ts>
  caf::expected<T> ask(const Handle& whom, Ts&&... xs) {
    self->send(whom, std::forward<Ts>(xs)...);
    sched.run();
    caf::expected<T> out{caf::make_error(caf::sec::request_timeout)};
    self->receive([&](T& x) { out = std::move(x); },
                  [&](caf::error& err) { out = std::move(err); },
                  caf::after(std::chrono::seconds(0)) >> [] {});
    return out;
  }

  /// The key pair of test peer `name` (one per name, seeded by it).
  const signing_key& key_of(const std::string& name) {
    auto i = keys.find(name);
    if (i == keys.end())
      i = keys
            .emplace(name, signing_key::generate(
                             seeded_random(derive_seed(1, "key:" + name))))
            .first;
    return i->second;
  }

  /// The peer id of test peer `name`.
  std::string id(const std::string& name) {
    return peer_id_of(key_of(name).public_key);
  }

  /// Peer `name` at 127.0.0.1:port holding all of every manifest, signed
  /// with its key over a fresh challenge of the tracker.
  pb::Announce announce_of(const std::string& name, uint32_t port,
                           std::vector<pb::Manifest> files) {
    pb::Announce a;
    a.set_host("127.0.0.1");
    a.set_port(port);
    for (auto& m : files) {
      auto n = static_cast<uint32_t>(m.piece_sha256_size());
      auto& h = *a.add_holdings();
      h.set_name(m.name());
      h.set_bitfield(bitfield{n, true}.bytes());
      *a.add_files() = std::move(m);
    }
    auto c = ask<pb::Challenge>(trk, challenge_atom::value);
    BOOST_REQUIRE(c);
    sign_announce(key_of(name), c->nonce(), a);
    return a;
  }

  /// Announces peer `name` and keeps its session token.
  caf::expected<pb::AnnounceReply>
  announce_as(const std::string& name, uint32_t port,
              std::vector<pb::Manifest> files) {
    auto r = ask<pb::AnnounceReply>(trk, announce_atom::value,
                                    announce_of(name, port, std::move(files)));
    if (r)
      tokens[name] = r->session();
    return r;
  }

  /// A Heartbeat, Have or Leave of peer `name` with its session token.
  template <class Msg>
  Msg from(const std::string& name) {
    Msg m;
    m.set_peer_id(id(name));
    m.set_session(tokens[name]);
    return m;
  }

  std::map<std::string, signing_key> keys;
  std::map<std::string, std::string> tokens;

  static pb::FileQuery query(const std::string& name) {
    pb::FileQuery q;
    q.set_name(name);
    return q;
  }
};

/// The error of `x` as text ("ok" when it holds a value).
template <class T>
std::string why(const caf::expected<T>& x) {
  return x ? std::string{"ok"} : render(x.error());
}

/// The error code of `x` as text ("ok" when it holds a value).
template <class T>
std::string code_of(const caf::expected<T>& x) {
  auto text = why(x);
  return text.substr(0, text.find(':'));
}

} // namespace actorrent::test
