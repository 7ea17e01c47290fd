#include "nodes/peer_replies.hpp"

#include <sstream>
#include <vector>

#include "actors/node/control.hpp"
#include "actors/core/json.hpp"
#include "actors/core/manifest.hpp"

namespace actorrent {

const char* peer_help
  = "commands:\n"
    "  publish FILE...          share files (hashed once, kept across restarts)\n"
    "  list                     files the tracker knows\n"
    "  info NAME                manifest and online sources of a file\n"
    "  fetch NAME... [--to DIR] download files (in the background)\n"
    "  downloads                progress of each download\n"
    "  stop_share NAME          stop sharing a file\n"
    "groups (a session at the tracker; files only members see and fetch):\n"
    "  create_user USER PASSWORD | login USER PASSWORD | logout\n"
    "  create_group GROUP | join_group GROUP | leave_group GROUP | list_groups\n"
    "  list_requests GROUP | accept_request GROUP USER | reject_request GROUP USER\n"
    "  list_files GROUP | upload_file PATH GROUP | stop_share GROUP NAME\n"
    "  download_file GROUP NAME DEST_DIR | show_downloads\n"
    "  status                   this peer: tracker session, bytes served/received\n"
    "  actors | kill [--hard] NAME | restart NAME   supervision (ctl)\n"
    "  quit                     leave the tracker and stop this peer\n";

namespace {

// Why a download stalled or failed, and which sources were banned.
std::string note_of(const pb::DownloadStatus& s) {
  std::string note = s.reason();
  for (auto& b : s.banned())
    note += (note.empty() ? "banned " : "; banned ") + b;
  return note;
}

std::string download_json(const pb::DownloadStatus& s) {
  std::vector<std::string> banned, missing;
  for (auto& b : s.banned())
    banned.push_back(json_quote(b));
  for (auto m : s.missing())
    missing.push_back(std::to_string(m));
  return json_object{}
    .add("name", s.name())
    .add("dest", s.dest())
    .add("state", s.state())
    .add("percent", percent_done(s))
    .add("size", s.size())
    .add("bytes_done", s.bytes_done())
    .add("pieces_done", s.pieces_done())
    .add("pieces_total", s.pieces_total())
    .add("sources", s.sources())
    .add("rate_bps", s.rate_bps())
    .add("reason", s.reason())
    .add_raw("banned", json_array(banned))
    .add_raw("missing", json_array(missing))
    .str();
}

} // namespace

double percent_done(const pb::DownloadStatus& s) {
  if (s.state() == "complete")
    return 100.0;
  return s.size() ? 100.0 * static_cast<double>(s.bytes_done())
                      / static_cast<double>(s.size())
                  : 0.0;
}

pb::CommandReply file_list_reply(const pb::FileList& xs) {
  std::ostringstream text;
  std::vector<std::string> js;
  text << "NAME                             SIZE        PIECES  SOURCES"
          "  COMPLETE\n";
  for (auto& f : xs.files()) {
    char line[512];
    snprintf(line, sizeof(line), "%-32s %-11s %6u  %7u  %8u\n",
             f.name().c_str(),
             human_bytes(static_cast<double>(f.size())).c_str(), f.pieces(),
             f.online_sources(), f.complete_sources());
    text << line;
    js.push_back(json_object{}
                   .add("name", f.name())
                   .add("size", f.size())
                   .add("pieces", f.pieces())
                   .add("online_sources", f.online_sources())
                   .add("complete_sources", f.complete_sources())
                   .str());
  }
  return make_reply(0, text.str(), json_array(js));
}

pb::CommandReply file_info_reply(const pb::FileInfo& info) {
  auto& m = info.manifest();
  std::ostringstream text;
  text << "name:       " << m.name() << "\n"
       << "size:       " << m.size() << " bytes ("
       << human_bytes(static_cast<double>(m.size())) << ")\n"
       << "pieces:     " << m.piece_sha256_size() << " x " << m.piece_size()
       << " bytes\n"
       << "sha256:     " << hex(m.file_sha256()) << "\n"
       << "sources:    " << info.sources_size() << " online\n";
  std::vector<std::string> js;
  for (auto& s : info.sources()) {
    text << "  " << s.peer_id() << " at " << s.host() << ":" << s.port()
         << ", " << s.pieces_held() << "/" << m.piece_sha256_size()
         << " pieces\n";
    js.push_back(json_object{}
                   .add("peer_id", s.peer_id())
                   .add("host", s.host())
                   .add("port", s.port())
                   .add("pieces_held", s.pieces_held())
                   .str());
  }
  return make_reply(
    0, text.str(),
    json_object{}
      .add("name", m.name())
      .add("size", m.size())
      .add("piece_size", m.piece_size())
      .add("pieces", static_cast<uint32_t>(m.piece_sha256_size()))
      .add("sha256", hex(m.file_sha256()))
      .add_raw("sources", json_array(js))
      .str());
}

pb::CommandReply
downloads_reply(const std::map<std::string, pb::DownloadStatus>& xs) {
  std::ostringstream text;
  std::vector<std::string> js;
  text << "NAME                             STATE          DONE     RATE"
          "        SOURCES  NOTE\n";
  for (auto& [name, s] : xs) {
    char line[1024];
    snprintf(line, sizeof(line), "%-32s %-13s %5.1f%%  %9s/s  %7u  %s\n",
             name.c_str(), s.state().c_str(), percent_done(s),
             human_bytes(s.rate_bps()).c_str(), s.sources(),
             note_of(s).c_str());
    text << line;
    js.push_back(download_json(s));
  }
  return make_reply(0, text.str(), json_array(js));
}

pb::CommandReply
show_downloads_reply(const std::map<std::string, pb::DownloadStatus>& xs) {
  std::ostringstream text;
  std::vector<std::string> js;
  text << "GROUP            NAME                           DONE    STATE"
          "        NOTE\n";
  for (auto& [key, s] : xs) {
    std::string group = "-", name = key;
    split_group_key(key, group, name);
    auto note = note_of(s);
    char line[1024];
    snprintf(line, sizeof(line), "%-16s %-30s %5.1f%%  %-12s %s\n",
             group.c_str(), name.c_str(), percent_done(s), s.state().c_str(),
             note.c_str());
    text << line;
    js.push_back(json_object{}
                   .add("group", group)
                   .add("name", name)
                   .add("percent", percent_done(s))
                   .add("state", s.state())
                   .add("reason", note)
                   .str());
  }
  return make_reply(0, text.str(), json_array(js));
}

pb::CommandReply groups_reply(const pb::GroupReply& r) {
  std::string text = "GROUP                OWNER            MEMBERS  YOU\n";
  std::vector<std::string> js;
  for (auto& item : r.items()) {
    std::istringstream in{item};
    std::string g, owner, mine;
    uint64_t members = 0;
    in >> g >> owner >> members >> mine;
    char line[600];
    snprintf(line, sizeof(line), "%-20s %-16s %7llu  %s\n", g.c_str(),
             owner.c_str(), static_cast<unsigned long long>(members),
             mine.c_str());
    text += line;
    js.push_back(json_object{}
                   .add("group", g)
                   .add("owner", owner)
                   .add("members", members)
                   .add("member", mine == "member")
                   .str());
  }
  return make_reply(0, text, json_array(js));
}

pb::CommandReply items_reply(const pb::GroupReply& r) {
  std::string text;
  std::vector<std::string> js;
  for (auto& item : r.items()) {
    text += item + "\n";
    js.push_back(json_quote(item));
  }
  return make_reply(0, text, json_array(js));
}

} // namespace actorrent
