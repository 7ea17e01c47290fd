// How stores say no: a `refusal` is a user-facing refusal with an error code
// (state unchanged); any other exception (std::runtime_error) is a database
// failure.
#pragma once

#include <stdexcept>
#include <string>

#include "actors/types.hpp"

namespace actorrent {

struct refusal : std::runtime_error {
  errc code;
  refusal(errc c, const std::string& what) : std::runtime_error(what), code(c) {}
};

} // namespace actorrent
