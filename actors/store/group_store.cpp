#include "actors/store/group_store.hpp"

#include "actors/core/manifest.hpp"
#include "actors/store/sql_group_store.hpp"

namespace actorrent {

group_store::~group_store() = default;

void group_store::require_member(const std::string& user,
                                 const std::string& group) {
  owner_of(group); // unknown_group first
  if (!is_member(user, group))
    throw refusal(errc::denied, user + " is not a member of " + group);
}

pb::SignedTicket group_store::ticket(const std::string& user,
                                     const std::string& group,
                                     const std::string& name,
                                     const std::string& file_sha256,
                                     int64_t now_unix, int64_t ttl_seconds) {
  require_member(user, group);
  if (!is_shared(group, name))
    throw refusal(errc::unknown_file, name + " is not shared in " + group);
  pb::Ticket t;
  t.set_user(user);
  t.set_group(group);
  t.set_name(name);
  t.set_file_sha256(file_sha256);
  t.set_expires_unix(now_unix + ttl_seconds);
  return sign_ticket(key(), t);
}

std::unique_ptr<group_store> open_group_store(const std::string& db,
                                             random_source random) {
  return std::make_unique<sql_group_store>(db, std::move(random));
}

void check_name(const std::string& what, const std::string& name) {
  if (name.empty())
    throw refusal(errc::bad_name, what + " name is empty");
  if (name.size() > max_name_length)
    throw refusal(errc::bad_name, what + " name longer than 255 bytes");
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7F)
      throw refusal(errc::bad_name,
                    what + " name contains a control character");
    if (c == '/' || c == '\\')
      throw refusal(errc::bad_name,
                    what + " name contains a path separator: " + name);
  }
  if (name == "." || name == "..")
    throw refusal(errc::bad_name, what + " name may not be " + name);
  if (what == "group" && name.find(':') != std::string::npos)
    throw refusal(errc::bad_name, "group name contains ':'");
}

} // namespace actorrent
