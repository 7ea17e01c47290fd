#include "actors/tracker/guarded.hpp"

#include "actors/core/log.hpp"
#include "actors/store/refusal.hpp"

namespace actorrent {

caf::error current_error(const char* who, const std::string& what) {
  try {
    throw;
  } catch (const refusal& r) {
    LOG_INFO(who, what << " refused: " << r.what());
    return make_error(r.code, r.what());
  } catch (const std::exception& e) {
    LOG_ERROR(who, what << ": " << e.what());
    return make_error(errc::io_failure, e.what());
  } catch (...) {
    LOG_ERROR(who, what << ": unknown exception");
    return make_error(errc::io_failure, "unknown exception");
  }
}

} // namespace actorrent
