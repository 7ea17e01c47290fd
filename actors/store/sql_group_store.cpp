#include "actors/store/sql_group_store.hpp"

#include "actors/core/manifest.hpp"

namespace actorrent {

sql_group_store::sql_group_store(const std::string& path,
                                       random_source random)
  : db_(path), random_(std::move(random)) {
  create_tables();
  load_or_create_key();
}

void sql_group_store::create_tables() {
  db_.schema({"CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY,"
              " pwhash TEXT NOT NULL)",
              "CREATE TABLE IF NOT EXISTS sessions (token TEXT PRIMARY KEY,"
              " \"user\" TEXT NOT NULL REFERENCES users(name))",
              "CREATE TABLE IF NOT EXISTS groups (name TEXT PRIMARY KEY,"
              " owner TEXT NOT NULL REFERENCES users(name))",
              "CREATE TABLE IF NOT EXISTS members (seq INTEGER PRIMARY KEY"
              " AUTOINCREMENT, grp TEXT NOT NULL REFERENCES groups(name)"
              " ON DELETE CASCADE, \"user\" TEXT NOT NULL,"
              " UNIQUE (grp, \"user\"))",
              "CREATE TABLE IF NOT EXISTS requests (grp TEXT NOT NULL"
              " REFERENCES groups(name) ON DELETE CASCADE,"
              " \"user\" TEXT NOT NULL, PRIMARY KEY (grp, \"user\"))",
              "CREATE TABLE IF NOT EXISTS shares (grp TEXT NOT NULL"
              " REFERENCES groups(name) ON DELETE CASCADE, name TEXT NOT NULL,"
              " \"user\" TEXT NOT NULL, peer_id TEXT NOT NULL,"
              " PRIMARY KEY (grp, name, \"user\", peer_id))",
              "CREATE TABLE IF NOT EXISTS group_meta (key TEXT PRIMARY KEY,"
              " value BLOB NOT NULL)"});
}

// The first tracker to start makes the key; every other one (and every
// later start) reads it. Two starting at once: one transaction loses and
// runs again, reading the winner's key.
void sql_group_store::load_or_create_key() {
  key_ = db_.transact([&] {
    signing_key key;
    auto get = db_.prepare("SELECT value FROM group_meta WHERE key = ?");
    get.bind(1, std::string{"public_key"});
    if (get.step()) {
      key.public_key = get.blob_at(0);
      get.reset();
      get.bind(1, std::string{"secret_key"});
      if (get.step())
        key.secret_key = get.blob_at(0);
      get.reset();
      return key;
    }
    get.reset();
    key = signing_key::generate(random_);
    auto put = db_.prepare("INSERT INTO group_meta (key, value) VALUES (?,?)");
    put.bind(1, std::string{"public_key"}).bind_blob(2, key.public_key);
    put.run();
    put.bind(1, std::string{"secret_key"}).bind_blob(2, key.secret_key);
    put.run();
    return key;
  });
}

void sql_group_store::create_user(const std::string& user,
                                     const std::string& password) {
  check_name("user", user);
  if (password.empty())
    throw refusal(errc::bad_message, "password is empty");
  auto hash = hash_password(password); // slow: outside the transaction
  db_.transact([&] {
    insert_new("users", "pwhash", "user", user, hash);
  });
}

void sql_group_store::insert_new(const std::string& table,
                                    const std::string& column,
                                    const std::string& what,
                                    const std::string& name,
                                    const std::string& value) {
  auto exists = db_.prepare("SELECT 1 FROM " + table + " WHERE name = ?");
  exists.bind(1, name);
  if (exists.step())
    throw refusal(errc::conflict, what + " " + name + " already exists");
  exists.reset();
  db_.prepare("INSERT INTO " + table + " (name, " + column + ") VALUES (?,?)")
    .bind(1, name)
    .bind(2, value)
    .run();
}

std::string sql_group_store::login(const std::string& user,
                                      const std::string& password) {
  std::string hash;
  {
    auto st = db_.prepare("SELECT pwhash FROM users WHERE name = ?");
    st.bind(1, user);
    if (st.step())
      hash = st.text_at(0);
  }
  // Slow (Argon2id): outside the transaction.
  if (hash.empty() || !verify_password(hash, password))
    throw refusal(errc::wrong_login, "wrong user name or password");
  auto token = random_token(random_);
  db_.transact([&] {
    db_.prepare("INSERT INTO sessions (token, \"user\") VALUES (?,?)")
      .bind(1, token)
      .bind(2, user)
      .run();
  });
  return token;
}

std::vector<group_share> sql_group_store::logout(const std::string& token) {
  return db_.transact([&] {
    auto user = user_of(token);
    auto ended = shares(user, "TRUE");
    db_.prepare("DELETE FROM shares WHERE \"user\" = ?").bind(1, user).run();
    db_.prepare("DELETE FROM sessions WHERE token = ?").bind(1, token).run();
    return ended;
  });
}

std::string sql_group_store::user_of(const std::string& token) {
  auto st = db_.prepare("SELECT \"user\" FROM sessions WHERE token = ?");
  st.bind(1, token);
  if (token.empty() || !st.step())
    throw refusal(errc::not_logged_in, "not logged in");
  return st.text_at(0);
}

std::string sql_group_store::owner_of(const std::string& group) {
  auto st = db_.prepare("SELECT owner FROM groups WHERE name = ?");
  st.bind(1, group);
  if (!st.step())
    throw refusal(errc::unknown_group, "no group " + group);
  return st.text_at(0);
}

bool sql_group_store::any_row(const std::string& sql, const std::string& a,
                                 const std::string& b) {
  auto st = db_.prepare(sql);
  st.bind(1, a).bind(2, b);
  return st.step();
}

bool sql_group_store::is_member(const std::string& user,
                                   const std::string& group) {
  return any_row("SELECT 1 FROM members WHERE grp = ? AND \"user\" = ?", group,
                 user);
}

void sql_group_store::require_owner(const std::string& user,
                                       const std::string& group) {
  if (owner_of(group) != user)
    throw refusal(errc::denied, "only the owner of " + group + " may do this");
}

bool sql_group_store::has_request(const std::string& user,
                                     const std::string& group) {
  return any_row("SELECT 1 FROM requests WHERE grp = ? AND \"user\" = ?", group,
                 user);
}

void sql_group_store::take_request(const std::string& owner,
                                      const std::string& group,
                                      const std::string& requester) {
  require_owner(owner, group);
  if (!has_request(requester, group))
    throw refusal(errc::denied, requester + " did not ask to join " + group);
  db_.prepare("DELETE FROM requests WHERE grp = ? AND \"user\" = ?")
    .bind(1, group)
    .bind(2, requester)
    .run();
}

std::vector<std::string> sql_group_store::column(const std::string& sql,
                                                    const std::string& arg) {
  std::vector<std::string> out;
  auto st = db_.prepare(sql);
  st.bind(1, arg);
  while (st.step())
    out.push_back(st.text_at(0));
  return out;
}

void sql_group_store::create_group(const std::string& user,
                                      const std::string& group) {
  check_name("group", group);
  db_.transact([&] {
    insert_new("groups", "owner", "group", group, user);
    db_.prepare("INSERT INTO members (grp, \"user\") VALUES (?,?)")
      .bind(1, group)
      .bind(2, user)
      .run();
  });
}

void sql_group_store::join_group(const std::string& user,
                                    const std::string& group) {
  db_.transact([&] {
    owner_of(group); // unknown_group
    if (is_member(user, group))
      throw refusal(errc::conflict, user + " is already a member of " + group);
    if (has_request(user, group))
      throw refusal(errc::conflict, user + " already asked to join " + group);
    db_.prepare("INSERT INTO requests (grp, \"user\") VALUES (?,?)")
      .bind(1, group)
      .bind(2, user)
      .run();
  });
}

std::string sql_group_store::leave_group(const std::string& user,
                                            const std::string& group) {
  return db_.transact([&] {
    require_member(user, group);
    db_.prepare("DELETE FROM members WHERE grp = ? AND \"user\" = ?")
      .bind(1, group)
      .bind(2, user)
      .run();
    db_.prepare("DELETE FROM shares WHERE grp = ? AND \"user\" = ?")
      .bind(1, group)
      .bind(2, user)
      .run();
    std::string outcome;
    if (owner_of(group) == user) {
      auto heirs = column("SELECT \"user\" FROM members WHERE grp = ?"
                          " ORDER BY seq LIMIT 1",
                          group);
      if (!heirs.empty()) {
        db_.prepare("UPDATE groups SET owner = ? WHERE name = ?")
          .bind(1, heirs[0])
          .bind(2, group)
          .run();
        outcome = "owner is now " + heirs[0];
      } else {
        db_.prepare("DELETE FROM groups WHERE name = ?").bind(1, group).run();
        outcome = "removed";
      }
    }
    return outcome;
  });
}

std::vector<std::string>
sql_group_store::list_requests(const std::string& user,
                                  const std::string& group) {
  require_owner(user, group);
  return column("SELECT \"user\" FROM requests WHERE grp = ?"
                " ORDER BY \"user\"",
                group);
}

void sql_group_store::accept_request(const std::string& owner,
                                        const std::string& group,
                                        const std::string& requester) {
  db_.transact([&] {
    take_request(owner, group, requester);
    db_.prepare("INSERT INTO members (grp, \"user\") VALUES (?,?)")
      .bind(1, group)
      .bind(2, requester)
      .run();
  });
}

void sql_group_store::reject_request(const std::string& owner,
                                        const std::string& group,
                                        const std::string& requester) {
  db_.transact([&] {
    take_request(owner, group, requester);
  });
}

std::vector<group_summary>
sql_group_store::list_groups(const std::string& user) {
  std::vector<group_summary> out;
  auto st = db_.prepare(
    "SELECT g.name, g.owner, (SELECT count(*) FROM members m"
    " WHERE m.grp = g.name), EXISTS (SELECT 1 FROM members m"
    " WHERE m.grp = g.name AND m.\"user\" = ?) FROM groups g ORDER BY g.name");
  st.bind(1, user);
  while (st.step())
    out.push_back(group_summary{st.text_at(0), st.text_at(1),
                                static_cast<size_t>(st.int_at(2)),
                                st.int_at(3) != 0});
  return out;
}

void sql_group_store::share(const std::string& user,
                               const std::string& group,
                               const std::string& name,
                               const std::string& peer_id) {
  std::string why;
  if (!valid_name(name, why))
    throw refusal(errc::bad_name, why);
  db_.transact([&] {
    require_member(user, group);
    db_.prepare("INSERT INTO shares (grp, name, \"user\", peer_id)"
                " VALUES (?,?,?,?) ON CONFLICT DO NOTHING")
      .bind(1, group)
      .bind(2, name)
      .bind(3, user)
      .bind(4, peer_id)
      .run();
  });
}

std::vector<group_share> sql_group_store::unshare(const std::string& user,
                                                     const std::string& group,
                                                     const std::string& name) {
  return db_.transact([&] {
    require_member(user, group);
    auto ended = shares(user, "grp = ?2 AND name = ?3", group, name);
    db_.prepare("DELETE FROM shares WHERE grp = ? AND name = ?"
                " AND \"user\" = ?")
      .bind(1, group)
      .bind(2, name)
      .bind(3, user)
      .run();
    return ended;
  });
}

std::vector<std::string> sql_group_store::files(const std::string& user,
                                                   const std::string& group) {
  require_member(user, group);
  return column("SELECT DISTINCT name FROM shares WHERE grp = ? ORDER BY name",
                group);
}

bool sql_group_store::is_shared(const std::string& group,
                                   const std::string& name) {
  return any_row("SELECT 1 FROM shares WHERE grp = ? AND name = ?", group,
                 name);
}

std::vector<group_share>
sql_group_store::shares_of(const std::string& user) {
  return shares(user, "TRUE");
}

std::vector<group_share> sql_group_store::shares(const std::string& user,
                                                    const std::string& where,
                                                    const std::string& group,
                                                    const std::string& name) {
  std::vector<group_share> out;
  auto st = db_.prepare("SELECT grp, name, \"user\", peer_id FROM shares"
                        " WHERE \"user\" = ?1 AND ("
                        + where + ") ORDER BY grp, name");
  st.bind(1, user);
  if (where.find("?2") != std::string::npos)
    st.bind(2, group);
  if (where.find("?3") != std::string::npos)
    st.bind(3, name);
  while (st.step())
    out.push_back(group_share{st.text_at(0), st.text_at(1), st.text_at(2),
                              st.text_at(3)});
  return out;
}

} // namespace actorrent
