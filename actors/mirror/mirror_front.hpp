// What a mirror node publishes on its port: the handles of the mirrors it
// hosts, each read from its supervisor slot (the current incarnation).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "actors/interfaces.hpp"
#include "actors/node/actor_slot.hpp"

namespace actorrent {

using mirror_slots = std::map<std::string, std::shared_ptr<actor_slot>>;

mirror_node_actor::behavior_type mirror_front(mirror_node_actor::pointer self,
                                              mirror_slots slots);

} // namespace actorrent
