// How a peer answers its commands: text for people and JSON for scripts
// (`ctl --json`). Pure functions of the data the peer has at hand.
#pragma once

#include <map>
#include <string>

#include "messages/actorrent.pb.h"

namespace actorrent {

extern const char* peer_help;

/// How much of a download is verified, in percent.
double percent_done(const pb::DownloadStatus& s);

pb::CommandReply file_list_reply(const pb::FileList& xs);
pb::CommandReply file_info_reply(const pb::FileInfo& info);
/// `downloads`: every download with rate, sources and notes.
pb::CommandReply
downloads_reply(const std::map<std::string, pb::DownloadStatus>& xs);
/// `show_downloads`: every download by group and name.
pb::CommandReply
show_downloads_reply(const std::map<std::string, pb::DownloadStatus>& xs);
/// `list_groups`: items are "GROUP OWNER MEMBERS member|-".
pb::CommandReply groups_reply(const pb::GroupReply& r);
/// `list_requests`, `list_files`: one item a line.
pb::CommandReply items_reply(const pb::GroupReply& r);

} // namespace actorrent
