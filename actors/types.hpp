// Atoms, error codes and message-type registration: the one place every node
// and test uses. Protobuf messages travel inside CAF messages through the
// inspect overload below.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/detail/stringification_inspector.hpp>
#include <caf/make_message.hpp>
#include <caf/sec.hpp>

#include "actors/core/piece_bytes.hpp"
#include "messages/actorrent.pb.h"

namespace caf { class actor_system_config; }

namespace actorrent {

/// Protocol version: nodes with different identifiers refuse to connect.
constexpr const char* protocol_version = "actorrent.v5";

// -- atoms (CAF's predefined ones such as get_atom/ok_atom are reused) --------
using announce_atom = caf::atom_constant<caf::atom("announce")>;
using challenge_atom = caf::atom_constant<caf::atom("challenge")>;
using heartbeat_atom = caf::atom_constant<caf::atom("heartbeat")>;
using have_atom = caf::atom_constant<caf::atom("have")>;
using leave_atom = caf::atom_constant<caf::atom("leave")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using info_atom = caf::atom_constant<caf::atom("info")>;
using piece_atom = caf::atom_constant<caf::atom("piece")>;
using command_atom = caf::atom_constant<caf::atom("command")>;
using kill_atom = caf::atom_constant<caf::atom("kill")>;
using restart_atom = caf::atom_constant<caf::atom("restart")>;
using respawn_atom = caf::atom_constant<caf::atom("respawn")>;
using write_atom = caf::atom_constant<caf::atom("write")>;
using finish_atom = caf::atom_constant<caf::atom("finish")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using reconnect_atom = caf::atom_constant<caf::atom("reconnect")>;
using refresh_atom = caf::atom_constant<caf::atom("refresh")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
// group protocol: one atom per operation
using create_user_atom = caf::atom_constant<caf::atom("new_user")>;
using login_atom = caf::atom_constant<caf::atom("login")>;
using logout_atom = caf::atom_constant<caf::atom("logout")>;
using create_group_atom = caf::atom_constant<caf::atom("new_group")>;
using join_group_atom = caf::atom_constant<caf::atom("join_group")>;
using leave_group_atom = caf::atom_constant<caf::atom("leave_grp")>;
using list_requests_atom = caf::atom_constant<caf::atom("requests")>;
using accept_atom = caf::atom_constant<caf::atom("accept")>;
using reject_atom = caf::atom_constant<caf::atom("reject")>;
using list_groups_atom = caf::atom_constant<caf::atom("groups")>;
using list_files_atom = caf::atom_constant<caf::atom("grp_files")>;
using share_atom = caf::atom_constant<caf::atom("share")>;
using unshare_atom = caf::atom_constant<caf::atom("unshare")>;
using download_atom = caf::atom_constant<caf::atom("download")>;
// inside the tracker node
using ticket_key_atom = caf::atom_constant<caf::atom("ticket_key")>;
using expire_atom = caf::atom_constant<caf::atom("expire")>;
using manifest_atom = caf::atom_constant<caf::atom("manifest")>;
// mirror cluster
using register_atom = caf::atom_constant<caf::atom("register")>;
using place_atom = caf::atom_constant<caf::atom("place")>;
using copy_atom = caf::atom_constant<caf::atom("copy")>;
using drop_atom = caf::atom_constant<caf::atom("drop")>;
using corrupt_atom = caf::atom_constant<caf::atom("corrupt")>;
using scrub_atom = caf::atom_constant<caf::atom("scrub")>;
using check_atom = caf::atom_constant<caf::atom("check")>;
using sources_atom = caf::atom_constant<caf::atom("sources")>;
using placement_atom = caf::atom_constant<caf::atom("placement")>;
using mirror_atom = caf::atom_constant<caf::atom("mirror")>;
using verify_atom = caf::atom_constant<caf::atom("verify")>;
// simulation: the link proxies of the network seam (simulations/sim)
using release_atom = caf::atom_constant<caf::atom("release")>;
using cut_atom = caf::atom_constant<caf::atom("cut")>;
using stream_atom = caf::atom_constant<caf::atom("stream")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;

// -- errors ---------------------------------------------------------------------
enum class errc : uint8_t {
  unknown_file = 1,   // no such file in the catalog / on this peer
  bad_name,           // a name with a path separator, "..", control chars, ...
  bad_piece,          // piece index out of range
  bad_message,        // malformed or oversized message
  unknown_peer,       // heartbeat from a peer the tracker does not know: re-announce
  tracker_unavailable,// the peer has no connection to its tracker
  no_such_actor,      // ctl names an actor the node does not have
  io_failure,         // reading or writing a file failed
  hash_mismatch,      // a piece or file did not match its SHA-256
  conflict,           // a different file with that name exists; duplicates
  not_logged_in,      // a group command without a valid session
  denied,             // not a member / not the owner / bad ticket
  unknown_group,      // no such group
  wrong_login,        // unknown user or wrong password (one message for both)
  busy,               // a paced source cannot answer in time: try another
  unknown_mirror,     // placement does not know this mirror: register again
  no_mirrors,         // no live mirror to place a part on
  unsupported,        // this source does not offer that (a piece stream)
};

const char* to_string(errc x);

caf::error make_error(errc x);
caf::error make_error(errc x, std::string context);

/// True when `err` is actorrent's error `x` (its context aside).
bool is(const caf::error& err, errc x);

/// Renders an error for users: "unknown_file: foo.iso" or CAF's own text.
std::string render(const caf::error& err);

/// Registers every message type and the error category on a config.
void register_types(caf::actor_system_config& cfg);

} // namespace actorrent

namespace actorrent::pb {

/// Serializes every generated protobuf class as its wire bytes.
template <class Inspector, class T>
std::enable_if_t<std::is_base_of_v<google::protobuf::MessageLite, T>,
                 typename Inspector::result_type>
inspect(Inspector& f, T& x) {
  auto name = caf::meta::type_name(T::descriptor()->full_name().c_str());
  if constexpr (std::is_same_v<Inspector,
                               caf::detail::stringification_inspector>) {
    return f(name, x.ShortDebugString());
  } else if constexpr (Inspector::reads_state) {
    std::string buf;
    if (!x.SerializeToString(&buf))
      return caf::make_error(caf::sec::invalid_argument, "protobuf serialize");
    return f(name, buf);
  } else {
    std::string buf;
    auto parse = caf::meta::load_callback([&]() -> caf::error {
      if (!x.ParseFromString(buf))
        return caf::make_error(caf::sec::invalid_argument, "protobuf parse");
      return caf::none;
    });
    return f(name, buf, parse);
  }
}

} // namespace actorrent::pb
