// Where a node finds the current incarnation of a supervised actor: the
// supervisor fills the slot at every (re)start and empties it when the child
// ends; fronts and the control actor read it. One slot per child, so many
// nodes can live in one process (simulation, tests) without a global name.
#pragma once

#include <mutex>

#include <caf/actor_control_block.hpp>

namespace actorrent {

class actor_slot {
public:
  void set(caf::strong_actor_ptr x) {
    std::lock_guard<std::mutex> guard{mtx_};
    ptr_ = std::move(x);
  }
  caf::strong_actor_ptr get() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return ptr_;
  }

private:
  mutable std::mutex mtx_;
  caf::strong_actor_ptr ptr_;
};

} // namespace actorrent
