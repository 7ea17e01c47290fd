// Command lines of the shell and `actorrent ctl`: parsed here into typed
// requests (supervision, or one pb::PeerRequest), sent to a node's control
// actor, and the replies formatted as text or JSON (nodes/replies.*).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "actors/interfaces.hpp"

namespace actorrent {

extern const char* command_help;

struct parsed_command {
  enum kind_t { invalid, help, actors, kill, restart, peer, placement };
  kind_t kind = invalid;
  std::string usage;         // invalid: what is wrong and the right form
  std::string name;          // kill, restart
  bool hard = false;         // kill --hard
  pb::PeerRequest request;   // peer
};

/// Parses one command line; `invalid` names what is wrong (exit code 2).
parsed_command parse_command(const std::vector<std::string>& args);

/// What a command printed and its exit code.
struct command_output {
  int code = 0;              // 0 ok, 1 the operation failed, 2 usage
  std::string text;          // for people
  std::string json;          // for scripts (ctl --json)
};

/// Connects to the control actor published at host:port, waiting at most
/// `timeout` (a hung node would otherwise hold the handshake for ever).
caf::expected<control_actor> connect_control(caf::scoped_actor& self,
                                             const std::string& host,
                                             uint16_t port,
                                             std::chrono::milliseconds timeout);

/// Sends a parsed command to a node's control actor and waits (blocking) for
/// at most `timeout`. The node is monitored: a node that dies ends the wait
/// at once (CAF 0.17 never fails a request to a dead remote node).
/// `token` is the node's control token (empty when it has none).
command_output run_command(caf::scoped_actor& self, const control_actor& node,
                           const parsed_command& cmd,
                           std::chrono::seconds timeout,
                           const std::string& token = {});

} // namespace actorrent
