#include "actors/peer/peer.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <cstdlib>
#include <sstream>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/node/control.hpp"
#include "actors/core/json.hpp"
#include "actors/core/log.hpp"
#include "actors/tracker/group_client.hpp"
#include "nodes/peer_replies.hpp"
#include "actors/transfer/piece_fetcher.hpp"

namespace actorrent {

namespace {

constexpr auto tracker_timeout = std::chrono::seconds(5);
constexpr auto min_backoff = std::chrono::milliseconds(250);
constexpr auto max_backoff = std::chrono::seconds(5);

} // namespace

const char* to_string(session_state x) {
  static const char* names[] = {"disconnected", "connecting", "announcing",
                                "online"};
  return names[static_cast<int>(x)];
}

void peer_state::transition(session_state to, const std::string& why) {
  if (to == session)
    return;
  LOG_INFO("peer", "tracker session " << to_string(session) << " -> "
                                      << to_string(to)
                                      << (why.empty() ? "" : " (" + why + ")"));
  session = to;
}

peer_actor::behavior_type peer(peer_actor::stateful_pointer<peer_state> self,
                               peer_options opts,
                               std::shared_ptr<library> lib) {
  auto& st = self->state;
  st.opts = std::move(opts);
  st.lib = std::move(lib);
  st.backoff = min_backoff;
  try {
    st.store = std::make_unique<peer_store>(st.opts.state_db);
    st.peer_id = st.store->peer_id();
  } catch (std::exception& e) {
    LOG_ERROR("peer", e.what());
    self->quit(make_error(errc::io_failure, e.what()));
    return peer_actor::behavior_type::make_empty_behavior();
  }
  // Shares one file from disk (hash cache in the state database).
  // Shares one file from disk under catalog name `name` (a group key for a
  // group's file); `sha` receives its SHA-256.
  auto share_as = [self](const std::string& path, const std::string& name,
                         const std::string& group, std::string& why,
                         std::string* sha) -> bool {
    auto& st = self->state;
    if (!valid_name(name, why))
      return false;
    try {
      auto m = manifest_of(*st.store, path, name, st.opts.piece_size);
      auto n = static_cast<uint32_t>(m.piece_sha256_size());
      if (sha)
        *sha = m.file_sha256();
      st.lib->put(local_file{std::move(m), path, bitfield{n, true}, group});
      return true;
    } catch (std::exception& e) {
      why = e.what();
      return false;
    }
  };
  auto share = [share_as](const std::string& path, const std::string& name,
                          std::string& why) {
    return share_as(path, name, "", why, nullptr);
  };
  // -- tracker session ---------------------------------------------------------
  auto lose_tracker = [self](const std::string& why) {
    auto& st = self->state;
    if (st.session == session_state::disconnected)
      return;
    if (st.tracker)
      self->demonitor(st.tracker.address());
    st.tracker = nullptr;
    st.transition(session_state::disconnected, why);
    self->delayed_send(self, st.backoff, reconnect_atom::value);
    st.backoff = std::min<caf::timespan>(st.backoff * 2, max_backoff);
  };
  auto announce = [self, lose_tracker] {
    auto& st = self->state;
    if (!st.tracker)
      return;
    st.transition(session_state::announcing);
    pb::Announce msg;
    msg.set_peer_id(st.peer_id);
    msg.set_host(st.opts.host);
    msg.set_port(st.opts.port);
    for (auto& f : st.lib->snapshot()) {
      *msg.add_files() = f.manifest;
      auto& h = *msg.add_holdings();
      h.set_name(f.manifest.name());
      h.set_bitfield(f.have.bytes());
    }
    st.pending_haves.clear();
    self->request(st.tracker, tracker_timeout, announce_atom::value, msg)
      .then(
        [self](const pb::AnnounceReply& r) {
          auto& st = self->state;
          st.heartbeat_ms = std::max<uint32_t>(100, r.heartbeat_ms());
          st.lib->set_tracker_key(r.public_key());
          st.rejected.assign(r.rejected().begin(), r.rejected().end());
          for (auto& x : st.rejected)
            LOG_WARN("peer", "tracker refused " << x);
          st.backoff = min_backoff;
          st.transition(session_state::online);
        },
        [self, lose_tracker](const caf::error& err) {
          lose_tracker("announce failed: " + render(err));
        });
  };
  self->set_down_handler([self, lose_tracker](caf::down_msg& dm) {
    auto& st = self->state;
    if (st.tracker && dm.source == st.tracker.address()) {
      LOG_WARN("peer", "connection to tracker lost");
      lose_tracker("connection lost");
      return;
    }
    for (auto i = st.fetchers.begin(); i != st.fetchers.end(); ++i)
      if (i->second.address() == dm.source) {
        auto& s = st.downloads[i->first];
        if (dm.reason && s.state() != "complete" && s.state() != "failed") {
          s.set_state("failed");
          s.set_reason(render(dm.reason));
        }
        st.fetchers.erase(i);
        return;
      }
  });
  // The fetchers end with the peer (monitored, not linked: one that fails
  // must not take the peer along; the down handler records why).
  self->attach_functor([children = st.children] {
    for (auto& addr : *children)
      caf::anon_send_exit(addr, caf::exit_reason::user_shutdown);
  });
  auto spawn_fetcher = [self](const download_record& rec) {
    auto& st = self->state;
    fetch_options fo;
    fo.name = rec.name;
    fo.dest_dir = rec.dest_dir;
    fo.state_db = st.opts.state_db;
    fo.self_id = st.peer_id;
    fo.window = st.opts.window;
    fo.request_timeout = std::chrono::milliseconds(st.opts.request_timeout_ms);
    fo.fail_when_stalled = st.opts.one_shot;
    fo.manifest = rec.manifest;
    fo.have = rec.bitfield;
    auto f = self->spawn<caf::monitored>(piece_fetcher, std::move(fo),
                                         peer_actor{self}, st.lib);
    st.fetchers[rec.name] = f;
    st.children->push_back(f.address());
    pb::DownloadStatus s;
    s.set_name(rec.name);
    s.set_dest(rec.dest_dir);
    s.set_state("fetching_info");
    st.downloads[rec.name] = s;
  };
  // -- load what this peer holds -----------------------------------------------
  if (!st.opts.share_dir.empty()) {
    if (auto dir = ::opendir(st.opts.share_dir.c_str())) {
      while (auto ent = ::readdir(dir)) {
        std::string name = ent->d_name;
        if (name == "." || name == ".." || name[0] == '.')
          continue;
        auto path = absolute(st.opts.share_dir + "/" + name);
        uint64_t size;
        int64_t mtime;
        if (!file_stat(path, size, mtime))
          continue;
        std::string why;
        if (share(path, name, why))
          LOG_INFO("peer", "sharing " << name << " (" << human_bytes(size)
                                      << ")");
        else
          LOG_WARN("peer", "not sharing " << path << ": " << why);
      }
      ::closedir(dir);
    } else {
      LOG_WARN("peer", "cannot read share directory " << st.opts.share_dir);
    }
  }
  for (auto& [name, path] : st.store->published()) {
    std::string why;
    if (!share(path, name, why))
      LOG_WARN("peer", "no longer sharing " << name << ": " << why);
  }
  for (auto& rec : st.store->downloads()) {
    if (rec.state == "complete" && is_group_key(rec.name)) {
      continue; // a group's file is shared again when its user logs in
    } else if (rec.state == "complete") {
      std::string why;
      if (!share(rec.dest_dir + "/" + rec.name, rec.name, why))
        LOG_WARN("peer", "no longer sharing download " << rec.name << ": "
                                                       << why);
      pb::DownloadStatus s;
      s.set_name(rec.name);
      s.set_dest(rec.dest_dir + "/" + rec.name);
      s.set_state("complete");
      if (rec.manifest) {
        s.set_size(rec.manifest->size());
        s.set_bytes_done(rec.manifest->size());
      }
      st.downloads[rec.name] = s;
    } else if (rec.state == "downloading") {
      LOG_INFO("peer", "resuming download of " << rec.name);
      spawn_fetcher(rec);
    }
  }
  LOG_INFO("peer", "peer " << st.peer_id << " serving on " << st.opts.host
                           << ":" << st.opts.port);
  // -- commands ------------------------------------------------------------------
  using reply_promise = caf::typed_response_promise<pb::CommandReply>;
  auto tracker_error = [self]() {
    return make_reply(1, "no connection to the tracker at "
                           + self->state.opts.tracker_host + ":"
                           + std::to_string(self->state.opts.tracker_port)
                           + " (" + to_string(self->state.session) + ")");
  };
  auto cmd_list = [self](reply_promise rp) {
    pb::FileQuery q;
    self->request(self->state.tracker, tracker_timeout, list_atom::value, q)
      .then(
        [rp](const pb::FileList& xs) mutable {
          rp.deliver(file_list_reply(xs));
        },
        [rp](const caf::error& err) mutable {
          rp.deliver(make_reply(1, render(err)));
        });
  };
  auto cmd_info = [self](reply_promise rp, const std::string& name) {
    pb::FileQuery q;
    q.set_name(name);
    self->request(self->state.tracker, tracker_timeout, info_atom::value, q)
      .then(
        [rp](const pb::FileInfo& info) mutable {
          rp.deliver(file_info_reply(info));
        },
        [rp](const caf::error& err) mutable {
          rp.deliver(make_reply(1, render(err)));
        });
  };
  auto cmd_fetch = [self, spawn_fetcher](std::vector<std::string> args) {
    auto& st = self->state;
    std::string dest = st.opts.download_dir;
    std::vector<std::string> names;
    for (size_t i = 1; i < args.size(); ++i) {
      if (args[i] == "--to" && i + 1 < args.size())
        dest = args[++i];
      else if (args[i].rfind("--to=", 0) == 0)
        dest = args[i].substr(5);
      else
        names.push_back(args[i]);
    }
    if (names.empty())
      return make_reply(2, "usage: fetch NAME... [--to DIR]");
    if (!make_dirs(dest))
      return make_reply(1, "cannot create directory " + dest);
    dest = absolute(dest);
    std::string text;
    int code = 0;
    for (auto& name : names) {
      std::string why;
      if (!valid_name(name, why)) {
        text += "refused: " + why + "\n";
        code = 1;
        continue;
      }
      if (st.fetchers.count(name) > 0) {
        text += name + ": already downloading\n";
        continue;
      }
      if (st.lib->contains(name)) {
        text += name + ": already held by this peer\n";
        continue;
      }
      download_record rec;
      rec.name = name;
      rec.dest_dir = dest;
      rec.part_path = dest + "/." + name + ".part";
      rec.state = "downloading";
      try {
        st.store->put_download(rec);
      } catch (std::exception& e) {
        text += name + ": " + e.what() + "\n";
        code = 1;
        continue;
      }
      spawn_fetcher(rec);
      text += "fetching " + name + " to " + dest + "\n";
    }
    return make_reply(code, text);
  };
  auto cmd_status = [self] {
    auto& st = self->state;
    size_t active = 0;
    for (auto& kvp : st.downloads)
      if (kvp.second.state() != "complete" && kvp.second.state() != "failed")
        ++active;
    auto files = st.lib->snapshot();
    std::ostringstream text;
    text << "peer:           " << st.peer_id << " at " << st.opts.host << ":"
         << st.opts.port << "\n"
         << "tracker:        " << st.opts.tracker_host << ":"
         << st.opts.tracker_port << " (" << to_string(st.session) << ")\n"
         << "files held:     " << files.size() << "\n"
         << "downloads:      " << active << " active\n"
         << "bytes served:   " << st.lib->bytes_served << "\n"
         << "bytes received: " << st.lib->bytes_received << "\n";
    for (auto& r : st.rejected)
      text << "refused:        " << r << "\n";
    return make_reply(
      0, text.str(),
      json_object{}
        .add("peer_id", st.peer_id)
        .add("host", st.opts.host)
        .add("port", uint32_t{st.opts.port})
        .add("tracker", to_string(st.session))
        .add("files_held", uint64_t{files.size()})
        .add("downloads_active", uint64_t{active})
        .add("bytes_served", st.lib->bytes_served.load())
        .add("bytes_received", st.lib->bytes_received.load())
        .str());
  };
  auto help = std::string{peer_help};
  // -- group commands -------------------------------------------------------------
  using group_ok = std::function<pb::CommandReply(pb::GroupReply&)>;
  // Sends one request to the group manager; `on_ok` runs in this actor.
  auto group_call = [self, tracker_error](auto rq, group_ok on_ok,
                                          std::function<void()> on_error = {})
    -> caf::result<pb::CommandReply> {
    using op = group_op<decltype(rq)>;
    auto& st = self->state;
    if (st.session != session_state::online) {
      if (on_error)
        on_error();
      return tracker_error();
    }
    auto rp = self->make_response_promise<pb::CommandReply>();
    self->request(caf::actor_cast<group_actor>(st.tracker),
                  std::chrono::milliseconds(st.opts.group_timeout_ms),
                  op::atom::value, rq)
      .then([rp, on_ok](typename op::reply& r) mutable {
              auto g = as_group_reply(r);
              rp.deliver(on_ok(g));
            },
            [rp, on_error](const caf::error& err) mutable {
              if (on_error)
                on_error();
              rp.deliver(make_reply(1, render(err)));
            });
    return rp;
  };
  auto text_reply = [](pb::GroupReply& r) { return make_reply(0, r.text()); };
  // Tells the group manager that this peer shares `name` in `group`.
  auto register_share = [self](const std::string& group,
                               const std::string& name) {
    pb::Share rq;
    rq.set_token(self->state.token);
    rq.set_group(group);
    rq.set_name(name);
    rq.set_peer_id(self->state.peer_id);
    self->request(caf::actor_cast<group_actor>(self->state.tracker),
                  std::chrono::milliseconds(self->state.opts.group_timeout_ms),
                  share_atom::value, rq)
      .then([](const pb::GroupText&) {},
            [name](const caf::error& err) {
              LOG_WARN("peer", "share " << name << ": " << render(err));
            });
  };
  // Stops sharing the user's files of `group` (all groups when empty).
  auto unshare_local = [self](const std::string& group) {
    auto& st = self->state;
    for (auto& g : st.store->group_shares(st.user))
      if (group.empty() || g.group == group)
        st.lib->remove(group_key(g.group, g.name));
  };
  auto group_command = [=](const std::vector<std::string>& args)
    -> caf::result<pb::CommandReply> {
    auto& st = self->state;
    auto& verb = args[0];
    // A request of the user's session about group args[1].
    auto in_group = [&](auto rq) {
      rq.set_token(st.token);
      rq.set_group(args[1]);
      return rq;
    };
    auto usage = [&](const char* text) {
      return make_reply(2, std::string{"usage: "} + text);
    };
    if (verb == "create_user" || verb == "login") {
      if (args.size() != 3)
        return usage("create_user|login USER PASSWORD");
      if (verb == "create_user") {
        pb::CreateUser rq;
        rq.set_user(args[1]);
        rq.set_password(args[2]);
        return group_call(rq, text_reply);
      }
      if (!st.token.empty())
        return make_reply(1, "already logged in as " + st.user);
      pb::Login rq;
      rq.set_user(args[1]);
      rq.set_password(args[2]);
      return group_call(rq, [=](pb::GroupReply& r) {
        auto& st = self->state;
        st.user = r.user();
        st.token = r.token();
        // Share again what this user shared before, if unchanged on disk.
        std::string text = r.text() + "\n";
        for (auto& g : st.store->group_shares(st.user)) {
          std::string why, sha;
          auto key = group_key(g.group, g.name);
          if (!share_as(g.path, key, g.group, why, &sha)) {
            text += "not shared, missing: " + g.group + "/" + g.name + " ("
                    + why + ")\n";
          } else if (sha != g.file_sha256) {
            st.lib->remove(key);
            text += "not shared, changed on disk: " + g.group + "/" + g.name
                    + " (" + g.path + ")\n";
          } else {
            register_share(g.group, g.name);
            text += "sharing again: " + g.group + "/" + g.name + "\n";
          }
        }
        announce();
        return make_reply(0, text);
      });
    }
    if (st.token.empty())
      return make_reply(1, "not logged in: login USER PASSWORD first");
    if (verb == "logout") {
      pb::Logout rq;
      rq.set_token(st.token);
      return group_call(rq, [=](pb::GroupReply& r) {
        unshare_local("");
        self->state.user.clear();
        self->state.token.clear();
        announce();
        return make_reply(0, r.text());
      });
    }
    if (verb == "list_groups") {
      pb::ListGroups rq;
      rq.set_token(st.token);
      return group_call(rq, [](pb::GroupReply& r) { return groups_reply(r); });
    }
    if (verb == "create_group" || verb == "join_group" || verb == "leave_group"
        || verb == "list_requests" || verb == "list_files") {
      if (args.size() != 2)
        return usage("create_group|join_group|leave_group|list_requests|"
                     "list_files GROUP");
      auto items = [](pb::GroupReply& r) { return items_reply(r); };
      if (verb == "list_requests")
        return group_call(in_group(pb::ListRequests{}), items);
      if (verb == "list_files")
        return group_call(in_group(pb::ListFiles{}), items);
      if (verb == "leave_group")
        return group_call(in_group(pb::LeaveGroup{}), [=](pb::GroupReply& r) {
          auto& st = self->state;
          unshare_local(args[1]);
          st.store->remove_group_share(st.user, args[1], "");
          announce();
          return make_reply(0, r.text());
        });
      if (verb == "join_group")
        return group_call(in_group(pb::JoinGroup{}), text_reply);
      return group_call(in_group(pb::CreateGroup{}), text_reply);
    }
    if (verb == "accept_request" || verb == "reject_request") {
      if (args.size() != 3)
        return usage("accept_request|reject_request GROUP USER");
      if (verb == "accept_request") {
        auto rq = in_group(pb::AcceptRequest{});
        rq.set_user(args[2]);
        return group_call(rq, text_reply);
      }
      auto rq = in_group(pb::RejectRequest{});
      rq.set_user(args[2]);
      return group_call(rq, text_reply);
    }
    if (verb == "upload_file") {
      if (args.size() != 3)
        return usage("upload_file PATH GROUP");
      auto path = absolute(args[1]);
      auto name = base_name(path);
      auto group = args[2];
      auto key = group_key(group, name);
      std::string why, sha;
      if (!share_as(path, key, group, why, &sha))
        return make_reply(1, "cannot upload " + args[1] + ": " + why);
      pb::Share rq;
      rq.set_token(st.token);
      rq.set_group(group);
      rq.set_name(name);
      rq.set_peer_id(st.peer_id);
      return group_call(
        rq,
        [=](pb::GroupReply& r) {
          auto& st = self->state;
          st.store->add_group_share({st.user, group, name, path, sha});
          announce();
          return make_reply(0, "uploaded " + name + " to " + group + " ("
                                 + hex(sha).substr(0, 16) + "...)");
        },
        [=] { self->state.lib->remove(key); });
    }
    if (verb == "download_file") {
      if (args.size() != 4)
        return usage("download_file GROUP NAME DEST_DIR");
      auto group = args[1];
      auto name = args[2];
      if (!make_dirs(args[3]))
        return make_reply(1, "cannot create directory " + args[3]);
      auto dest = absolute(args[3]);
      auto key = group_key(group, name);
      if (st.fetchers.count(key) > 0)
        return make_reply(0, name + ": already downloading");
      if (st.lib->contains(key))
        return make_reply(0, name + ": already held by this peer");
      pb::GroupDownload rq;
      rq.set_token(st.token);
      rq.set_group(group);
      rq.set_name(name);
      return group_call(rq, [=](pb::GroupReply& r) {
        auto& st = self->state;
        download_record rec;
        rec.name = key;
        rec.dest_dir = dest;
        rec.part_path = dest + "/." + name + ".part";
        rec.state = "downloading";
        st.store->put_download(rec);
        spawn_fetcher(rec);
        // A member who downloads shares at once, piece by piece.
        st.store->add_group_share({st.user, group, name, dest + "/" + name,
                                   r.info().manifest().file_sha256()});
        register_share(group, name);
        return make_reply(0, "downloading " + name + " from " + group + " to "
                               + dest);
      });
    }
    if (verb == "stop_share") { // stop_share GROUP NAME
      auto key = group_key(args[1], args[2]);
      pb::Unshare rq;
      rq.set_token(st.token);
      rq.set_group(args[1]);
      rq.set_name(args[2]);
      return group_call(rq, [=](pb::GroupReply& r) {
        auto& st = self->state;
        st.lib->remove(key);
        st.store->remove_group_share(st.user, args[1], args[2]);
        announce();
        return make_reply(0, r.text());
      });
    }
    return make_reply(2, "unknown command '" + verb + "'");
  };
  self->send(self, reconnect_atom::value);
  self->send(self, heartbeat_atom::value);
  self->send(self, flush_atom::value);
  return {
    [=](command_atom, const pb::Command& cmd)
      -> caf::result<pb::CommandReply> {
      auto& st = self->state;
      std::vector<std::string> args(cmd.args().begin(), cmd.args().end());
      if (args.empty())
        return make_reply(2, "no command given\n" + help);
      auto& verb = args[0];
      LOG_DEBUG("peer", "command " << verb);
      if (verb == "help")
        return make_reply(0, help);
      if (verb == "status")
        return cmd_status();
      if (verb == "downloads")
        return downloads_reply(st.downloads);
      if (verb == "fetch")
        return cmd_fetch(args);
      if (verb == "list" || verb == "info") {
        if (verb == "info" && args.size() != 2)
          return make_reply(2, "usage: info NAME");
        if (st.session != session_state::online)
          return tracker_error();
        auto rp = self->make_response_promise<pb::CommandReply>();
        if (verb == "list")
          cmd_list(rp);
        else
          cmd_info(rp, args[1]);
        return rp;
      }
      if (verb == "publish") {
        if (args.size() < 2)
          return make_reply(2, "usage: publish FILE...");
        std::string text;
        int code = 0;
        for (size_t i = 1; i < args.size(); ++i) {
          auto path = absolute(args[i]);
          auto name = base_name(path);
          std::string why;
          if (st.lib->contains(name)) {
            text += name + ": already shared\n";
            code = 1;
          } else if (share(path, name, why)) {
            st.store->add_published(name, path);
            text += "published " + name + "\n";
          } else {
            text += "cannot publish " + args[i] + ": " + why + "\n";
            code = 1;
          }
        }
        announce();
        return make_reply(code, text);
      }
      if (verb == "show_downloads")
        return show_downloads_reply(st.downloads);
      if (verb == "create_user" || verb == "login" || verb == "logout"
          || verb == "create_group" || verb == "join_group"
          || verb == "leave_group" || verb == "list_requests"
          || verb == "accept_request" || verb == "reject_request"
          || verb == "list_groups" || verb == "list_files"
          || verb == "upload_file" || verb == "download_file"
          || (verb == "stop_share" && args.size() == 3))
        return group_command(args);
      if (verb == "stop_share") {
        if (args.size() != 2)
          return make_reply(2, "usage: stop_share NAME");
        if (!st.lib->remove(args[1]))
          return make_reply(1, "not shared: " + args[1]);
        st.store->remove_published(args[1]);
        if (st.tracker) {
          pb::Leave msg;
          msg.set_peer_id(st.peer_id);
          msg.set_name(args[1]);
          self->request(st.tracker, tracker_timeout, leave_atom::value, msg)
            .then([](caf::ok_atom) {}, [](const caf::error&) {});
        }
        return make_reply(0, "stopped sharing " + args[1]);
      }
      if (verb == "quit") {
        if (st.tracker) {
          pb::Leave msg;
          msg.set_peer_id(st.peer_id);
          self->request(st.tracker, tracker_timeout, leave_atom::value, msg)
            .then([](caf::ok_atom) {}, [](const caf::error&) {});
        }
        if (st.opts.on_quit)
          st.opts.on_quit();
        return make_reply(0, "bye");
      }
      return make_reply(2, "unknown command '" + verb + "'\n" + help);
    },
    [=](info_atom, const pb::FileQuery& q) -> caf::result<pb::FileInfo> {
      auto& st = self->state;
      if (st.session != session_state::online)
        return make_error(errc::tracker_unavailable,
                          to_string(st.session));
      std::string group, name;
      if (!split_group_key(q.name(), group, name))
        return self->delegate(st.tracker, info_atom::value, q);
      // A group's file: sources and a fresh ticket from the group manager.
      if (st.token.empty())
        return make_error(errc::not_logged_in, "log in to download " + name);
      pb::GroupDownload rq;
      rq.set_token(st.token);
      rq.set_group(group);
      rq.set_name(name);
      auto rp = self->make_response_promise<pb::FileInfo>();
      self->request(caf::actor_cast<group_actor>(st.tracker),
                    std::chrono::milliseconds(st.opts.group_timeout_ms),
                    download_atom::value, rq)
        .then([rp](pb::FileInfo& r) mutable { rp.deliver(std::move(r)); },
              [rp](const caf::error& err) mutable { rp.deliver(err); });
      return rp;
    },
    [=](manifest_atom, const pb::Manifest& m) {
      try {
        self->state.store->set_download_manifest(m.name(), m);
      } catch (std::exception& e) {
        LOG_ERROR("peer", "cannot record the manifest of " << m.name() << ": "
                                                           << e.what());
      }
    },
    [=](have_atom, const std::string& name, uint32_t piece) {
      self->state.pending_haves[name].push_back(piece);
    },
    [=](status_atom, const pb::DownloadStatus& s) {
      self->state.downloads[s.name()] = s;
    },
    [=](status_atom) {
      pb::DownloadList out;
      out.set_tracker_session(to_string(self->state.session));
      for (auto& kvp : self->state.downloads)
        *out.add_downloads() = kvp.second;
      return out;
    },
    [=](reconnect_atom) {
      auto& st = self->state;
      if (st.session != session_state::disconnected)
        return;
      st.transition(session_state::connecting);
      auto mm = self->system().middleman().actor_handle();
      self->request(mm, tracker_timeout, caf::connect_atom::value,
                    st.opts.tracker_host, st.opts.tracker_port)
        .then(
          [=](const caf::node_id&, caf::strong_actor_ptr& ptr,
              const std::set<std::string>& ifs) {
            auto& st = self->state;
            if (!ptr || !self->system().assignable<tracker_actor>(ifs)) {
              LOG_DEBUG("peer", "interfaces: " << caf::deep_to_string(ifs));
              st.session = session_state::connecting;
              lose_tracker("not a tracker at " + st.opts.tracker_host + ":"
                           + std::to_string(st.opts.tracker_port));
              return;
            }
            st.tracker = caf::actor_cast<tracker_actor>(std::move(ptr));
            self->monitor(st.tracker);
            announce();
          },
          [=](const caf::error& err) {
            auto& st = self->state;
            LOG_WARN("peer", "tracker " << st.opts.tracker_host << ":"
                                        << st.opts.tracker_port
                                        << " not reachable: " << render(err)
                                        << "; retrying in "
                                        << std::chrono::duration_cast<
                                             std::chrono::milliseconds>(
                                             st.backoff)
                                             .count()
                                        << " ms");
            lose_tracker("cannot connect");
          });
    },
    [=](heartbeat_atom) {
      auto& st = self->state;
      self->delayed_send(self, std::chrono::milliseconds(st.heartbeat_ms),
                         heartbeat_atom::value);
      if (st.session != session_state::online)
        return;
      pb::Heartbeat hb;
      hb.set_peer_id(st.peer_id);
      self->request(st.tracker, tracker_timeout, heartbeat_atom::value, hb)
        .then([](const pb::AnnounceReply&) {},
              [=](const caf::error& err) {
                auto& st = self->state;
                if (st.session != session_state::online)
                  return;
                if (err.category() == caf::atom("actorrent")
                    && err.code() == static_cast<uint8_t>(errc::unknown_peer)) {
                  LOG_INFO("peer", "tracker lost our session: announcing");
                  announce();
                } else if (err == caf::sec::request_timeout) {
                  lose_tracker("heartbeat timed out");
                } else {
                  LOG_WARN("peer", "heartbeat: " << render(err));
                }
              });
    },
    [=](flush_atom) {
      auto& st = self->state;
      self->delayed_send(self, std::chrono::milliseconds(100),
                         flush_atom::value);
      if (st.session != session_state::online || st.pending_haves.empty())
        return;
      for (auto& [name, pieces] : st.pending_haves) {
        pb::Have msg;
        msg.set_peer_id(st.peer_id);
        msg.set_name(name);
        for (auto p : pieces)
          msg.add_pieces(p);
        self->request(st.tracker, tracker_timeout, have_atom::value, msg)
          .then([](caf::ok_atom) {},
                [=](const caf::error& err) {
                  if (err.category() == caf::atom("actorrent")
                      && err.code()
                           == static_cast<uint8_t>(errc::unknown_peer))
                    announce();
                  else
                    LOG_WARN("peer", "have: " << render(err));
                });
      }
      st.pending_haves.clear();
    },
  };
}

} // namespace actorrent
