// harness::ask: a request from a helper actor whose answer (or error) is run
// on the harness's thread (deterministic: after the events that produced it;
// real time: at the harness's next turn).
#pragma once

#include <caf/event_based_actor.hpp>

#include "simulations/sim/harness.hpp"

namespace actorrent::sim {

template <class Reply, class Handle, class... Ts>
void harness::ask(const Handle& dest, caf::timespan timeout,
                  std::function<void(std::optional<Reply>, std::string)> done,
                  Ts... xs) {
  if (!dest) {
    done(std::nullopt, "no such actor");
    return;
  }
  ++asks_in_flight_;
  auto self = this;
  sys_->spawn([=](caf::event_based_actor* a) {
    a->request(dest, timeout, xs...)
      .then(
        [=](Reply& r) {
          self->post([=] {
            --self->asks_in_flight_;
            done(r, {});
          });
        },
        [=](caf::error& e) {
          auto text = render(e);
          self->post([=] {
            --self->asks_in_flight_;
            done(std::nullopt, text);
          });
        });
  });
}

} // namespace actorrent::sim
