// Accounts and groups in SQLite (WAL) or PostgreSQL, one code for both
// (actors/store/sql.hpp). Created through open_group_store.
#pragma once

#include "actors/store/group_store.hpp"
#include "actors/store/sql.hpp"

namespace actorrent {

class sql_group_store final : public group_store {
public:
  sql_group_store(const std::string& location, random_source random);

  const signing_key& key() const override { return key_; }
  void create_user(const std::string& user,
                   const std::string& password) override;
  std::string login(const std::string& user,
                    const std::string& password) override;
  std::vector<group_share> logout(const std::string& token) override;
  std::string user_of(const std::string& token) override;
  void create_group(const std::string& user, const std::string& group) override;
  void join_group(const std::string& user, const std::string& group) override;
  std::string leave_group(const std::string& user,
                          const std::string& group) override;
  std::vector<std::string> list_requests(const std::string& user,
                                         const std::string& group) override;
  void accept_request(const std::string& owner, const std::string& group,
                      const std::string& requester) override;
  void reject_request(const std::string& owner, const std::string& group,
                      const std::string& requester) override;
  std::vector<group_summary> list_groups(const std::string& user) override;
  bool is_member(const std::string& user, const std::string& group) override;
  std::string owner_of(const std::string& group) override;
  void share(const std::string& user, const std::string& group,
             const std::string& name, const std::string& peer_id) override;
  std::vector<group_share> unshare(const std::string& user,
                                   const std::string& group,
                                   const std::string& name) override;
  std::vector<std::string> files(const std::string& user,
                                 const std::string& group) override;
  bool is_shared(const std::string& group, const std::string& name) override;
  std::vector<group_share> shares_of(const std::string& user) override;

private:
  void create_tables();
  void load_or_create_key();
  void require_owner(const std::string& user, const std::string& group);
  bool has_request(const std::string& user, const std::string& group);
  /// Removes the join request of `requester` (owner only); refuses when
  /// there is none.
  void take_request(const std::string& owner, const std::string& group,
                    const std::string& requester);
  /// Inserts (name, value) into `table` (columns name and `column`); refuses
  /// (conflict) when `table` has a row of that name: "WHAT NAME already
  /// exists".
  void insert_new(const std::string& table, const std::string& column,
                  const std::string& what, const std::string& name,
                  const std::string& value);
  /// Whether `sql` yields a row with `?1` and `?2` bound to `a` and `b`.
  bool any_row(const std::string& sql, const std::string& a,
               const std::string& b);
  /// The first column of every row of `sql` with `?` bound to `arg`.
  std::vector<std::string> column(const std::string& sql,
                                  const std::string& arg);
  /// Shares of `user` matching `where` (an SQL condition on grp and name,
  /// with `?2` and `?3` bound to `group` and `name`).
  std::vector<group_share> shares(const std::string& user,
                                  const std::string& where,
                                  const std::string& group = {},
                                  const std::string& name = {});
  sql::database db_;
  signing_key key_;
  random_source random_;  // the ticket key and session tokens
};

} // namespace actorrent
