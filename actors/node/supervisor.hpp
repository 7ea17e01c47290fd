// Every node's supervisor: spawns its server actors from child specs,
// monitors them (never links: an operator's `kill` would cross a link) and
// restarts one that exits abnormally, after an exponential backoff from 50 ms.
// More than `max_restarts` restarts within `window` and it gives up on that
// child and reports it.
//
// Child states (transitions are logged):
//   running -> restarting   (abnormal exit, or `restart NAME`)
//   restarting -> running   (backoff elapsed / at once for `restart`)
//   running -> stopped      (normal exit, or `kill --hard NAME`)
//   running -> failed       (too many restarts: given up)
//   stopped/failed -> running (`restart NAME`)
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_clock.hpp>

#include "actors/node/actor_slot.hpp"
#include "actors/interfaces.hpp"

namespace actorrent {

struct child_spec {
  std::string name;
  std::function<caf::strong_actor_ptr(caf::actor_system&)> start;
  /// Holds the current incarnation for fronts and the control actor.
  std::shared_ptr<actor_slot> slot = std::make_shared<actor_slot>();
};

struct supervisor_options {
  caf::timespan initial_backoff = std::chrono::milliseconds(50);
  caf::timespan max_backoff = std::chrono::seconds(5);
  size_t max_restarts = 5;
  caf::timespan window = std::chrono::seconds(10);
};

enum class child_state { running, restarting, stopped, failed };
const char* to_string(child_state x);

struct child_entry {
  child_spec spec;
  caf::strong_actor_ptr actor;
  child_state state = child_state::stopped;
  bool restart_now = false;    // `restart NAME` is ending it
  uint32_t restarts = 0;
  uint64_t generation = 0;
  caf::timespan backoff{0};
  caf::actor_clock::time_point started;
  std::deque<caf::actor_clock::time_point> recent;  // restart times
  std::string last_exit;
};

struct supervisor_state {
  explicit supervisor_state(supervisor_actor::pointer self) : self(self) {}

  supervisor_actor::pointer self;
  supervisor_options opts;
  std::vector<child_entry> children;

  child_entry* find(const std::string& name);
  /// Starts (or starts again) one child and fills its slot.
  void start(child_entry& c);
  /// A child ended: restart it after its backoff, or record why not.
  void on_down(const caf::down_msg& dm);
  /// running -> restarting (false: too many restarts, the child failed).
  bool schedule_restart(child_entry& c);
  pb::ActorList list() const;
  caf::result<caf::ok_atom> kill(const std::string& name, bool hard);
  caf::result<caf::ok_atom> restart(const std::string& name);
  void respawn(const std::string& name, uint64_t generation);
  static inline const char* name = "supervisor";
};

supervisor_actor::behavior_type
supervisor(supervisor_actor::stateful_pointer<supervisor_state> self,
           std::vector<child_spec> specs, supervisor_options opts);

} // namespace actorrent
