// Where a node's published actors are found. Between processes that is CAF's
// middleman; in tests and simulations an in-process table. Connecting is a
// request to an actor with the middleman's own `connect` signature, so an
// actor's connect code is the same whichever directory it was given.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include <caf/actor_cast.hpp>
#include <caf/actor_control_block.hpp>
#include <caf/atom.hpp>
#include <caf/node_id.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/core/guard.hpp"

namespace caf { class actor_system; }

namespace actorrent {

/// Answers (connect, host, port) with the node, the actor published there
/// and its interface, or fails with sec::cannot_connect_to_node. The
/// middleman's own actor has this signature (among others).
using connector_actor = caf::typed_actor<
  caf::replies_to<caf::connect_atom, std::string, uint16_t>::with<
    caf::node_id, caf::strong_actor_ptr, std::set<std::string>>>;

class directory {
public:
  virtual ~directory();
  /// Makes `whom` (with interface `ifs`) reachable at host:port; port 0
  /// picks a free one, stored back. Returns "" or why not, naming the address.
  virtual std::string publish(const caf::strong_actor_ptr& whom,
                              std::set<std::string> ifs,
                              const std::string& host, uint16_t& port)
    = 0;
  /// Takes back what `publish` made reachable at `port`.
  virtual void unpublish(const std::string& host, uint16_t port) = 0;
  /// The actor that answers connect requests.
  virtual connector_actor connector() = 0;

  /// Publishes a typed handle under its own interface.
  template <class Handle>
  std::string publish(caf::actor_system& sys, const Handle& h,
                      const std::string& host, uint16_t& port);
};

/// CAF's middleman: real TCP between processes (caf::io must be loaded),
/// behind a guard (actors/core/guard.hpp) unless `opts` turns it off.
std::shared_ptr<directory> make_middleman_directory(caf::actor_system& sys,
                                                   guard_options opts = {});

/// An in-process table: nothing leaves the process, nothing needs the
/// middleman. Ports of 0 get numbers from 10000 up.
std::shared_ptr<directory> make_local_directory(caf::actor_system& sys);

} // namespace actorrent

#include <caf/actor_system.hpp>

namespace actorrent {

template <class Handle>
std::string directory::publish(caf::actor_system& sys, const Handle& h,
                               const std::string& host, uint16_t& port) {
  return publish(caf::actor_cast<caf::strong_actor_ptr>(h),
                 sys.message_types(h), host, port);
}

} // namespace actorrent
