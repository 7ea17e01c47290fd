// A stable front for a supervised server actor: published on the node's port
// once, it forwards every request (delegate) to the current incarnation in
// the child's slot, so clients keep one handle across restarts. While the
// child is down, requests fail at once (no_such_actor) instead of hanging.
// A message of no handler is dropped and counted (drop_unexpected).
#pragma once

#include <caf/actor_cast.hpp>
#include <memory>

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/node/actor_slot.hpp"
#include "actors/node/unexpected.hpp"
#include "actors/types.hpp"

namespace actorrent {

template <class Sig>
struct front_handler;

template <class... In, class... Out>
struct front_handler<caf::typed_mpi<caf::detail::type_list<In...>,
                                    caf::output_tuple<Out...>>> {
  template <class Iface, class Self>
  static auto make(Self* self, std::shared_ptr<actor_slot> slot) {
    return [=](In... xs) -> caf::result<Out...> {
      auto ptr = slot->get();
      if (!ptr)
        return make_error(errc::no_such_actor, "server actor is restarting");
      return self->delegate(caf::actor_cast<Iface>(ptr), std::move(xs)...);
    };
  }
};

template <class Iface>
struct front;

template <class... Sigs>
struct front<caf::typed_actor<Sigs...>> {
  using iface = caf::typed_actor<Sigs...>;
  static typename iface::behavior_type run(typename iface::pointer self,
                                           std::shared_ptr<actor_slot> slot) {
    drop_unexpected(self, "front");
    return {front_handler<Sigs>::template make<iface>(self, slot)...};
  }
};

/// A front for three server actors behind one published handle (the
/// tracker node: catalog, group manager, placement): requests of interface
/// A go to slot `a`, those of B to `b`, those of C to `c`.
template <class A, class B, class C>
struct front_triple;

template <class... As, class... Bs, class... Cs>
struct front_triple<caf::typed_actor<As...>, caf::typed_actor<Bs...>,
                    caf::typed_actor<Cs...>> {
  using iface = caf::typed_actor<As..., Bs..., Cs...>;
  static typename iface::behavior_type run(typename iface::pointer self,
                                           std::shared_ptr<actor_slot> a,
                                           std::shared_ptr<actor_slot> b,
                                           std::shared_ptr<actor_slot> c) {
    drop_unexpected(self, "front");
    return {
      front_handler<As>::template make<caf::typed_actor<As...>>(self, a)...,
      front_handler<Bs>::template make<caf::typed_actor<Bs...>>(self, b)...,
      front_handler<Cs>::template make<caf::typed_actor<Cs...>>(self, c)...};
  }
};

} // namespace actorrent
