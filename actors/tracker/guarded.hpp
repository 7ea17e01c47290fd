// The one place where the tracker node's actors turn store exceptions into
// replies: a refusal becomes its own error code, any other exception
// (a database failure) io_failure; both are logged. The actor lives on.
#pragma once

#include <caf/error.hpp>
#include <caf/result.hpp>

namespace actorrent {

/// The error for the exception being handled (call it inside a catch block),
/// logged as `who` failing at `what`.
caf::error current_error(const char* who, const std::string& what);

/// Runs `f`, which returns a T or a caf::result<T>; an exception becomes
/// the error current_error makes. Throwing code must run before `f` makes a
/// response promise.
template <class T, class F>
caf::result<T> guarded(const char* who, const std::string& what, F&& f) {
  try {
    return f();
  } catch (...) {
    return current_error(who, what);
  }
}

/// Delivers what `f` returns to `rp`, or the error its exception means.
template <class Promise, class F>
void deliver_guarded(Promise& rp, const char* who, const std::string& what,
                     F&& f) {
  try {
    rp.deliver(f());
  } catch (...) {
    rp.deliver(current_error(who, what));
  }
}

} // namespace actorrent
