// The peer agent's pointer type, for the parts of its state.
#pragma once

#include <caf/fwd.hpp>

#include "actors/interfaces.hpp"

namespace actorrent {

struct peer_state;
using peer_self = peer_actor::stateful_pointer<peer_state>;

} // namespace actorrent
