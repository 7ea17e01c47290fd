// Reaching a piece server by address: a peer's is the actor published at
// host:port; a mirror's is handed out by the mirror node published there
// (so the handle comes from the node that owns it and traffic goes straight
// to that node). Used by the piece fetcher and by mirrors copying parts.
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/node_id.hpp>

#include "actors/core/directory.hpp"
#include "actors/interfaces.hpp"

namespace actorrent {

constexpr auto piece_server_connect_timeout = std::chrono::seconds(5);

/// Connects `self` to the piece server at host:port (mirror `mirror_id` there
/// when not empty); calls `on_handle(piece_server_actor)` or
/// `on_error(caf::error)`.
template <class Self, class OnHandle, class OnError>
void connect_piece_server(Self* self, const connector_actor& connector,
                          const std::string& host, uint16_t port,
                          const std::string& mirror_id, OnHandle on_handle,
                          OnError on_error) {
  self
    ->request(connector, piece_server_connect_timeout,
              caf::connect_atom::value, host, port)
    .then(
      [=](const caf::node_id&, caf::strong_actor_ptr& ptr,
          const std::set<std::string>& ifs) mutable {
        auto& sys = self->system();
        if (mirror_id.empty()) {
          if (!ptr || !sys.template assignable<piece_server_actor>(ifs))
            return on_error(make_error(errc::no_such_actor,
                                       "not a piece server"));
          return on_handle(caf::actor_cast<piece_server_actor>(ptr));
        }
        if (!ptr || !sys.template assignable<mirror_node_actor>(ifs))
          return on_error(make_error(errc::no_such_actor,
                                     "not a mirror node"));
        auto node = caf::actor_cast<mirror_node_actor>(ptr);
        self
          ->request(node, piece_server_connect_timeout, mirror_atom::value,
                    mirror_id)
          .then(
            [=](caf::strong_actor_ptr& m) mutable {
              if (!m)
                return on_error(make_error(errc::no_such_actor, mirror_id));
              // Only a handle of the node itself: one it relayed would
              // route our traffic through a third node.
              if (m->node() != ptr->node())
                return on_error(make_error(errc::denied,
                                           "mirror handle of another node"));
              on_handle(caf::actor_cast<piece_server_actor>(m));
            },
            [=](caf::error& err) mutable { on_error(err); });
      },
      [=](caf::error& err) mutable { on_error(err); });
}

} // namespace actorrent
