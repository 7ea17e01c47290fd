#include "actors/types.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>

#include "actors/interfaces.hpp"

namespace actorrent {

namespace {
constexpr const char* errc_names[] = {
  "ok", "unknown_file", "bad_name", "bad_piece", "bad_message", "unknown_peer",
  "tracker_unavailable", "no_such_actor", "io_failure", "hash_mismatch",
  "conflict", "not_logged_in", "denied", "unknown_group", "wrong_login",
  "busy", "unknown_mirror", "no_mirrors", "unsupported"};
} // namespace

const char* to_string(errc x) {
  auto i = static_cast<size_t>(x);
  return i < std::size(errc_names) ? errc_names[i] : "unknown_error";
}

caf::error make_error(errc x) {
  return {static_cast<uint8_t>(x), caf::atom("actorrent")};
}

caf::error make_error(errc x, std::string context) {
  return {static_cast<uint8_t>(x), caf::atom("actorrent"),
          caf::make_message(std::move(context))};
}

bool is(const caf::error& err, errc x) {
  return err.category() == caf::atom("actorrent")
         && err.code() == static_cast<uint8_t>(x);
}

std::string render(const caf::error& err) {
  if (!err)
    return "no error";
  if (err.category() == caf::atom("actorrent")) {
    std::string out = to_string(static_cast<errc>(err.code()));
    if (err.context().match_elements<std::string>())
      out += ": " + err.context().get_as<std::string>(0);
    return out;
  }
  if (err.category() == caf::atom("system"))
    return caf::to_string(static_cast<caf::sec>(err.code()));
  return caf::to_string(err);
}

void register_types(caf::actor_system_config& cfg) {
  cfg.add_error_category(caf::atom("actorrent"),
                         [](uint8_t code, caf::atom_value,
                            const caf::message& ctx) -> std::string {
                           std::string out = to_string(static_cast<errc>(code));
                           if (ctx.match_elements<std::string>())
                             out += ": " + ctx.get_as<std::string>(0);
                           return out;
                         });
#define ACTORRENT_ADD(T) cfg.add_message_type<pb::T>("actorrent.pb." #T)
  ACTORRENT_ADD(Manifest);
  ACTORRENT_ADD(Holding);
  ACTORRENT_ADD(Challenge);
  ACTORRENT_ADD(Announce);
  ACTORRENT_ADD(AnnounceReply);
  ACTORRENT_ADD(Heartbeat);
  ACTORRENT_ADD(Have);
  ACTORRENT_ADD(Leave);
  ACTORRENT_ADD(FileQuery);
  ACTORRENT_ADD(FileSummary);
  ACTORRENT_ADD(FileList);
  ACTORRENT_ADD(Source);
  ACTORRENT_ADD(FileInfo);
  ACTORRENT_ADD(PieceRequest);
  ACTORRENT_ADD(PieceHeader);
  ACTORRENT_ADD(StreamRequest);
  ACTORRENT_ADD(StreamGrant);
  ACTORRENT_ADD(ActorStatus);
  ACTORRENT_ADD(ActorList);
  ACTORRENT_ADD(PeerRequest);
  ACTORRENT_ADD(PeerReply);
  ACTORRENT_ADD(PeerStatus);
  ACTORRENT_ADD(SourceStatus);
  ACTORRENT_ADD(DownloadStatus);
  ACTORRENT_ADD(DownloadList);
  ACTORRENT_ADD(Ticket);
  ACTORRENT_ADD(SignedTicket);
  ACTORRENT_ADD(CreateUser);
  ACTORRENT_ADD(Login);
  ACTORRENT_ADD(LoginReply);
  ACTORRENT_ADD(Logout);
  ACTORRENT_ADD(CreateGroup);
  ACTORRENT_ADD(JoinGroup);
  ACTORRENT_ADD(LeaveGroup);
  ACTORRENT_ADD(ListRequests);
  ACTORRENT_ADD(AcceptRequest);
  ACTORRENT_ADD(RejectRequest);
  ACTORRENT_ADD(ListGroups);
  ACTORRENT_ADD(ListFiles);
  ACTORRENT_ADD(Share);
  ACTORRENT_ADD(Unshare);
  ACTORRENT_ADD(GroupDownload);
  ACTORRENT_ADD(GroupText);
  ACTORRENT_ADD(NameList);
  ACTORRENT_ADD(GroupEntry);
  ACTORRENT_ADD(GroupList);
  ACTORRENT_ADD(GroupFile);
  ACTORRENT_ADD(GroupHolding);
  ACTORRENT_ADD(Withdraw);
  ACTORRENT_ADD(PartRef);
  ACTORRENT_ADD(MirrorAddress);
  ACTORRENT_ADD(MirrorHello);
  ACTORRENT_ADD(MirrorBeat);
  ACTORRENT_ADD(PartCopy);
  ACTORRENT_ADD(PartStored);
  ACTORRENT_ADD(PlaceFile);
  ACTORRENT_ADD(PartPlacement);
  ACTORRENT_ADD(PlaceReply);
  ACTORRENT_ADD(MirrorInfo);
  ACTORRENT_ADD(CopyInFlight);
  ACTORRENT_ADD(PlacementStatus);
  ACTORRENT_ADD(BadPieceReport);
#undef ACTORRENT_ADD
  // Piece bytes: pooled, never zero-filled (actors/core/piece_bytes.hpp).
  cfg.add_message_type<piece_bytes>("actorrent.piece_bytes");
}

} // namespace actorrent
