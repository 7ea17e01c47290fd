#include "nodes/replies.hpp"

#include <cstdio>
#include <map>
#include <sstream>
#include <vector>

#include "actors/core/json.hpp"
#include "actors/core/manifest.hpp"
#include "actors/peer/tracker_client.hpp"

namespace actorrent {

const char* to_string(pb::DownloadState x) {
  switch (x) {
    case pb::FETCHING_INFO:
      return "fetching_info";
    case pb::DOWNLOADING:
      return "downloading";
    case pb::VERIFYING:
      return "verifying";
    case pb::COMPLETE:
      return "complete";
    case pb::STALLED:
      return "stalled";
    default:
      return "failed";
  }
}

namespace {

command_output output(int code, std::string text, std::string json) {
  command_output out;
  out.code = code;
  if (!text.empty() && text.back() != '\n')
    text += '\n';
  out.text = std::move(text);
  out.json = std::move(json);
  return out;
}

// One row of a table: its line of text and its JSON object.
struct table_row {
  std::string line;
  std::string json;
};

// A table: `header`, then the line of `row_of(x)` for each of `xs`; its JSON
// is the array of the rows' objects.
template <class Xs, class RowOf>
command_output table(std::string header, const Xs& xs, RowOf row_of) {
  std::vector<std::string> js;
  for (auto& x : xs) {
    auto row = row_of(x);
    header += row.line;
    js.push_back(std::move(row.json));
  }
  return output(0, std::move(header), json_array(js));
}

// Downloads in the order of their names.
std::map<std::string, pb::DownloadStatus>
by_name(const pb::DownloadList& list) {
  std::map<std::string, pb::DownloadStatus> xs;
  for (auto& d : list.downloads())
    xs[d.name()] = d;
  return xs;
}

// Why a download stalled or failed, and which sources were banned.
std::string note_of(const pb::DownloadStatus& s) {
  std::string note = s.reason();
  for (auto& b : s.banned())
    note += (note.empty() ? "banned " : "; banned ") + b;
  return note;
}

const char* source_state_name(pb::SourceState x) {
  switch (x) {
    case pb::SOURCE_CONNECTING:
      return "connecting";
    case pb::SOURCE_ACTIVE:
      return "active";
    case pb::SOURCE_LOST:
      return "lost";
    default:
      return "banned";
  }
}

std::string download_json(const pb::DownloadStatus& s) {
  std::vector<std::string> banned, missing, sources;
  for (auto& x : s.source_states())
    sources.push_back(json_object{}
                        .add("peer_id", x.peer_id())
                        .add("state", source_state_name(x.state()))
                        .add("reason", x.reason())
                        .str());
  for (auto& b : s.banned())
    banned.push_back(json_quote(b));
  for (auto m : s.missing())
    missing.push_back(std::to_string(m));
  return json_object{}
    .add("name", s.name())
    .add("dest", s.dest())
    .add("state", to_string(s.state()))
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
    .add_raw("source_states", json_array(sources))
    .str();
}

} // namespace

double percent_done(const pb::DownloadStatus& s) {
  if (s.state() == pb::COMPLETE)
    return 100.0;
  return s.size() ? 100.0 * static_cast<double>(s.bytes_done())
                      / static_cast<double>(s.size())
                  : 0.0;
}

namespace {

command_output file_list_reply(const pb::FileList& xs) {
  return table("NAME                             SIZE        PIECES  SOURCES"
               "  COMPLETE\n",
               xs.files(), [](const pb::FileSummary& f) {
                 char line[512];
                 snprintf(line, sizeof(line), "%-32s %-11s %6u  %7u  %8u\n",
                          f.name().c_str(),
                          human_bytes(static_cast<double>(f.size())).c_str(),
                          f.pieces(), f.online_sources(), f.complete_sources());
                 return table_row{
                   line, json_object{}
                           .add("name", f.name())
                           .add("size", f.size())
                           .add("pieces", f.pieces())
                           .add("online_sources", f.online_sources())
                           .add("complete_sources", f.complete_sources())
                           .str()};
               });
}

command_output file_info_reply(const pb::FileInfo& info) {
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
  return output(
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

command_output downloads_reply(const pb::DownloadList& list) {
  return table(
    "NAME                             STATE          DONE     RATE"
    "        SOURCES  NOTE\n",
    by_name(list), [](const auto& x) {
      auto& [name, s] = x;
      char line[1024];
      snprintf(line, sizeof(line), "%-32s %-13s %5.1f%%  %9s/s  %7u  %s\n",
               name.c_str(), to_string(s.state()), percent_done(s),
               human_bytes(s.rate_bps()).c_str(), s.sources(),
               note_of(s).c_str());
      return table_row{line, download_json(s)};
    });
}

command_output show_downloads_reply(const pb::DownloadList& list) {
  return table(
    "GROUP            NAME                           DONE    STATE"
    "        NOTE\n",
    by_name(list), [](const auto& x) {
      auto& [key, s] = x;
      std::string group = "-", name = key;
      split_group_key(key, group, name);
      auto note = note_of(s);
      char line[1024];
      snprintf(line, sizeof(line), "%-16s %-30s %5.1f%%  %-12s %s\n",
               group.c_str(), name.c_str(), percent_done(s),
               to_string(s.state()), note.c_str());
      return table_row{line, json_object{}
                               .add("group", group)
                               .add("name", name)
                               .add("percent", percent_done(s))
                               .add("state", to_string(s.state()))
                               .add("reason", note)
                               .str()};
    });
}

command_output groups_reply(const pb::PeerReply& r) {
  return table("GROUP                OWNER            MEMBERS  YOU\n", r.groups(),
               [](const pb::GroupEntry& g) {
                 char line[600];
                 snprintf(line, sizeof(line), "%-20s %-16s %7u  %s\n",
                          g.name().c_str(), g.owner().c_str(), g.members(),
                          g.member() ? "member" : "-");
                 return table_row{line, json_object{}
                                          .add("group", g.name())
                                          .add("owner", g.owner())
                                          .add("members", g.members())
                                          .add("member", g.member())
                                          .str()};
               });
}

command_output items_reply(const pb::PeerReply& r) {
  return table("", r.items(), [](const std::string& item) {
    return table_row{item + "\n", json_quote(item)};
  });
}

command_output status_reply(const pb::PeerStatus& st) {
  auto session = to_string(st.session());
  std::ostringstream text;
  text << "peer:           " << st.peer_id() << " at " << st.host() << ":"
       << st.port() << "\n"
       << "tracker:        " << st.tracker() << " (" << session << ", "
       << st.tracker_switches() << " switches)\n"
       << "user:           " << (st.user().empty() ? "-" : st.user()) << "\n"
       << "files held:     " << st.files_held() << "\n"
       << "downloads:      " << st.active_downloads() << " active\n"
       << "bytes served:   " << st.bytes_served() << " ("
       << st.bytes_streamed() << " over piece streams)\n"
       << "bytes received: " << st.bytes_received() << "\n";
  for (auto& r : st.refused())
    text << "refused:        " << r << "\n";
  return output(0, text.str(),
                json_object{}
                  .add("peer_id", st.peer_id())
                  .add("host", st.host())
                  .add("port", st.port())
                  .add("tracker", session)
                  .add("tracker_address", st.tracker())
                  .add("tracker_switches", st.tracker_switches())
                  .add("user", st.user())
                  .add("files_held", st.files_held())
                  .add("downloads_active", st.active_downloads())
                  .add("bytes_served", st.bytes_served())
                  .add("bytes_streamed", st.bytes_streamed())
                  .add("bytes_received", st.bytes_received())
                  .str());
}

std::string joined(const pb::PeerReply& r) {
  std::string text;
  for (auto& line : r.lines())
    text += line + "\n";
  return text;
}

} // namespace

command_output plain_output(int code, std::string text) {
  auto json = json_object{}
                .add("ok", code == 0)
                .add(code == 0 ? "message" : "error", text)
                .str();
  return output(code, std::move(text), std::move(json));
}

command_output actors_output(const pb::ActorList& xs) {
  return table("NAME        STATE       RESTARTS  LAST EXIT\n", xs.actors(),
               [](const pb::ActorStatus& a) {
                 char line[256];
                 snprintf(line, sizeof(line), "%-11s %-11s %8u  %s\n",
                          a.name().c_str(), a.state().c_str(), a.restarts(),
                          a.last_exit().c_str());
                 return table_row{line, json_object{}
                                          .add("name", a.name())
                                          .add("state", a.state())
                                          .add("restarts", a.restarts())
                                          .add("last_exit", a.last_exit())
                                          .str()};
               });
}

command_output supervision_output(bool kill, bool hard,
                                  const std::string& name) {
  return plain_output(0, !kill  ? "restarted " + name
                         : hard ? "killed " + name + " for good"
                                : "killed " + name);
}

command_output placement_output(const pb::PlacementStatus& s) {
  std::ostringstream text;
  uint32_t alive = 0;
  for (auto& m : s.mirrors())
    alive += m.state() == "alive" ? 1 : 0;
  text << "mirrors: " << alive << " of " << s.mirrors_size() << " alive, "
       << s.files() << " files, " << s.parts() << " parts, " << s.replicas()
       << " replicas each, " << s.copies_made()
       << " part copies made since placement started\n";
  if (s.bytes_to_copy() > 0) {
    text << "to copy: " << human_bytes(static_cast<double>(s.bytes_to_copy()));
    if (s.copy_rate_bps() > 1)
      text << " at " << human_bytes(s.copy_rate_bps()) << "/s, ETA "
           << static_cast<long>(static_cast<double>(s.bytes_to_copy())
                                / s.copy_rate_bps())
           << " s";
    text << "\n";
  }
  text << "MIRROR    STATE     PARTS  STORED      ADDRESS                SILENT\n";
  std::vector<std::string> ms, under, copies;
  for (auto& m : s.mirrors()) {
    char line[512];
    snprintf(line, sizeof(line), "%-9s %-9s %5u  %-11s %-22s %lld ms\n",
             m.mirror_id().c_str(), m.state().c_str(), m.parts(),
             human_bytes(static_cast<double>(m.bytes())).c_str(),
             (m.host() + ":" + std::to_string(m.port())).c_str(),
             static_cast<long long>(m.silent_ms()));
    text << line;
    ms.push_back(json_object{}
                   .add("mirror", m.mirror_id())
                   .add("state", m.state())
                   .add("parts", m.parts())
                   .add("bytes", m.bytes())
                   .add("capacity", m.capacity())
                   .add("host", m.host())
                   .add("port", m.port())
                   .add("silent_ms", m.silent_ms())
                   .str());
  }
  if (s.under_replicated_size() > 0)
    text << "parts short of replicas:\n";
  for (auto& p : s.under_replicated()) {
    std::string holders;
    for (auto& h : p.holders())
      holders += (holders.empty() ? "" : ",") + h;
    text << "  " << p.name() << " part " << p.part() << ": "
         << p.holders_size() << "/" << s.replicas() << " ("
         << holders << ")" << (p.problem().empty() ? "" : ": " + p.problem())
         << "\n";
    std::vector<std::string> hs;
    for (auto& h : p.holders())
      hs.push_back(json_quote(h));
    under.push_back(json_object{}
                      .add("name", p.name())
                      .add("part", p.part())
                      .add_raw("holders", json_array(hs))
                      .add("problem", p.problem())
                      .str());
  }
  if (s.copies_size() > 0)
    text << "copies in flight:\n";
  for (auto& c : s.copies()) {
    text << "  " << c.name() << " part " << c.part() << " -> " << c.to()
         << ", " << human_bytes(static_cast<double>(c.bytes())) << ", "
         << c.elapsed_ms() << " ms\n";
    copies.push_back(json_object{}
                       .add("name", c.name())
                       .add("part", c.part())
                       .add("to", c.to())
                       .add("bytes", c.bytes())
                       .add("elapsed_ms", c.elapsed_ms())
                       .str());
  }
  return output(0, text.str(),
                json_object{}
                  .add("replicas", s.replicas())
                  .add("files", s.files())
                  .add("parts", s.parts())
                  .add("bytes_to_copy", s.bytes_to_copy())
                  .add("copy_rate_bps", s.copy_rate_bps())
                  .add("copies_made", s.copies_made())
                  .add_raw("mirrors", json_array(ms))
                  .add_raw("under_replicated", json_array(under))
                  .add_raw("copies", json_array(copies))
                  .str());
}

command_output peer_output(const pb::PeerRequest& rq, const pb::PeerReply& r) {
  if (r.code() != 0)
    return plain_output(r.code(), joined(r));
  using op = pb::PeerRequest;
  switch (rq.op_case()) {
    case op::kList:
      return file_list_reply(r.files());
    case op::kInfo:
      return file_info_reply(r.info());
    case op::kDownloads:
      return downloads_reply(r.downloads());
    case op::kShowDownloads:
      return show_downloads_reply(r.downloads());
    case op::kStatus:
      return status_reply(r.status());
    case op::kListGroups:
      return groups_reply(r);
    case op::kListRequests:
    case op::kListFiles:
      return items_reply(r);
    default:
      return plain_output(0, joined(r));
  }
}

} // namespace actorrent
