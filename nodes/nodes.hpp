// The node kinds of the `actorrent` executable. Each wires actors together
// and nothing else; exit codes: 0 ok, 1 the operation failed, 2 usage/config.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace actorrent {

int run_tracker(std::vector<std::string> args);
int run_peer(std::vector<std::string> args);
int run_fetch(std::vector<std::string> args);
int run_mirror(std::vector<std::string> args);
int run_mirror_put(std::vector<std::string> args);
int run_ctl(std::vector<std::string> args);

// -- shared by the node kinds ---------------------------------------------------

struct node_config;
struct peer_options;
struct environment;
struct peer_node;

/// Checks the peer settings shared by `peer` and `fetch` and fills `opts`;
/// 0, or 2 after printing what is wrong.
int peer_options_from(const node_config& cfg, peer_options& opts);
/// The data path of `peer` and `fetch` from their shared settings: piece
/// streams (`peer.streams`), how verified pieces reach the disk
/// (`peer.direct-writes`, `peer.write-behind-mib`), the stream's port.
void peer_data_path_from(const node_config& cfg, environment& env,
                         peer_node& node);
/// Polls `pred` every 10 ms for at most 10 s.
bool wait_for(const std::function<bool()>& pred);
/// Flushes the output and ends the process at once (the actors' state is
/// already committed).
[[noreturn]] void exit_now(int rc);

} // namespace actorrent
