// What a published actor does with a message none of its handlers takes:
// it drops it, counts it and logs one short line naming the message's
// element types, never their content (CAF's default handler would print the
// whole message, however large). A request gets unexpected_message back.
#pragma once

#include <cstdint>

namespace caf { class scheduled_actor; }

namespace actorrent {

/// Installs the dropping handler on `self`; `who` names it in the log.
void drop_unexpected(caf::scheduled_actor* self, const char* who);

/// Messages dropped so far by every actor of this process.
uint64_t unexpected_messages();

} // namespace actorrent
