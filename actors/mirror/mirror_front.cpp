#include "actors/mirror/mirror_front.hpp"

#include <caf/typed_event_based_actor.hpp>

#include "actors/node/unexpected.hpp"

namespace actorrent {

mirror_node_actor::behavior_type mirror_front(mirror_node_actor::pointer self,
                                              mirror_slots slots) {
  drop_unexpected(self, "mirror_front");
  return {
    [slots](mirror_atom, const std::string& id)
      -> caf::result<caf::strong_actor_ptr> {
      auto i = slots.find(id);
      if (i == slots.end())
        return make_error(errc::no_such_actor, "no mirror of that id here");
      auto ptr = i->second->get();
      if (!ptr)
        return make_error(errc::no_such_actor, "mirror is restarting");
      return ptr;
    },
  };
}

} // namespace actorrent
