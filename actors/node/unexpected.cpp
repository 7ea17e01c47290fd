#include "actors/node/unexpected.hpp"

#include <algorithm>
#include <atomic>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/message_view.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/sec.hpp>
#include <caf/type_erased_tuple.hpp>

#include "actors/core/log.hpp"

namespace actorrent {

namespace {

std::atomic<uint64_t> dropped{0};

// At most this many element types are named in the log line.
constexpr size_t max_types = 4;

} // namespace

uint64_t unexpected_messages() {
  return dropped.load();
}

void drop_unexpected(caf::scheduled_actor* self, const char* who) {
  self->set_default_handler(
    [who](caf::scheduled_actor* s,
          caf::message_view& mv) -> caf::result<caf::message> {
      auto n = ++dropped;
      auto& xs = mv.content();
      std::string types;
      for (size_t i = 0; i < std::min(xs.size(), max_types); ++i) {
        if (i > 0)
          types += ", ";
        auto& name = s->system().types().portable_name(xs.type(i));
        types += name.empty() ? "?" : name.substr(0, 64);
      }
      if (xs.size() > max_types)
        types += ", ...";
      LOG_WARN(who, "dropped an unexpected message (" << types << "); "
                      << n << " so far");
      return caf::sec::unexpected_message;
    });
}

} // namespace actorrent
