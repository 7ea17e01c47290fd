// How replies are shown: text for people and JSON for scripts (`ctl --json`).
// Pure functions of the typed replies; nothing here talks to an actor.
#pragma once

#include <string>

#include "nodes/commands.hpp"

namespace actorrent {

/// How much of a download is verified, in percent.
double percent_done(const pb::DownloadStatus& s);
/// "downloading", "complete", ...
const char* to_string(pb::DownloadState x);

/// A message or an error (code 0: "message", otherwise "error" in JSON).
command_output plain_output(int code, std::string text);
/// `actors`
command_output actors_output(const pb::ActorList& xs);
/// `kill` / `restart` done.
command_output supervision_output(bool kill, bool hard, const std::string& name);
/// `placement`: mirrors, parts short of replicas, copies in flight.
command_output placement_output(const pb::PlacementStatus& s);
/// Any peer command: the parts of the reply that its request asks for.
command_output peer_output(const pb::PeerRequest& rq, const pb::PeerReply& r);

} // namespace actorrent
