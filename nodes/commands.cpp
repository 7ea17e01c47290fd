#include "nodes/commands.hpp"

#include <map>

#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "nodes/replies.hpp"

namespace actorrent {

const char* command_help
  = "commands:\n"
    "  publish FILE...          share files (hashed once, kept across restarts)\n"
    "  list                     files the tracker knows\n"
    "  info NAME                manifest and online sources of a file\n"
    "  fetch NAME... [--to DIR] download files (in the background)\n"
    "  downloads                progress of each download\n"
    "  stop_share NAME          stop sharing a file\n"
    "  mirror_publish FILE...   publish files to the mirror cluster\n"
    "groups (a session at the tracker; files only members see and fetch):\n"
    "  create_user USER PASSWORD | login USER PASSWORD | logout\n"
    "  create_group GROUP | join_group GROUP | leave_group GROUP | list_groups\n"
    "  list_requests GROUP | accept_request GROUP USER | reject_request GROUP USER\n"
    "  list_files GROUP | upload_file PATH GROUP | stop_share GROUP NAME\n"
    "  download_file GROUP NAME DEST_DIR | show_downloads\n"
    "  status                   this peer: tracker session, bytes served/received\n"
    "  actors | kill [--hard] NAME | restart NAME   supervision (every node)\n"
    "  placement                mirrors, parts short of replicas, copies (tracker)\n"
    "  quit                     leave the tracker and stop this peer\n";

namespace {

using args_t = std::vector<std::string>;
using pb::PeerRequest;

// The commands that take fixed arguments: how many, their usage, and how
// they fill the request.
struct fixed_command {
  size_t argc;
  const char* usage;
  void (*fill)(PeerRequest&, const args_t&);
};

const std::map<std::string, fixed_command>& fixed_commands() {
  static const std::map<std::string, fixed_command> table{
    {"list", {0, "list", [](PeerRequest& r, const args_t&) {
                r.mutable_list();
              }}},
    {"info", {1, "info NAME", [](PeerRequest& r, const args_t& a) {
                r.mutable_info()->set_name(a[1]);
              }}},
    {"downloads", {0, "downloads", [](PeerRequest& r, const args_t&) {
                     r.mutable_downloads();
                   }}},
    {"show_downloads", {0, "show_downloads", [](PeerRequest& r, const args_t&) {
                          r.mutable_show_downloads();
                        }}},
    {"status", {0, "status", [](PeerRequest& r, const args_t&) {
                  r.mutable_status();
                }}},
    {"quit", {0, "quit", [](PeerRequest& r, const args_t&) {
                r.mutable_quit();
              }}},
    {"create_user", {2, "create_user USER PASSWORD",
                     [](PeerRequest& r, const args_t& a) {
                       r.mutable_create_user()->set_user(a[1]);
                       r.mutable_create_user()->set_password(a[2]);
                     }}},
    {"login", {2, "login USER PASSWORD", [](PeerRequest& r, const args_t& a) {
                 r.mutable_login()->set_user(a[1]);
                 r.mutable_login()->set_password(a[2]);
               }}},
    {"logout", {0, "logout", [](PeerRequest& r, const args_t&) {
                  r.mutable_logout();
                }}},
    {"create_group", {1, "create_group GROUP",
                      [](PeerRequest& r, const args_t& a) {
                        r.mutable_create_group()->set_group(a[1]);
                      }}},
    {"join_group", {1, "join_group GROUP", [](PeerRequest& r, const args_t& a) {
                      r.mutable_join_group()->set_group(a[1]);
                    }}},
    {"leave_group", {1, "leave_group GROUP",
                     [](PeerRequest& r, const args_t& a) {
                       r.mutable_leave_group()->set_group(a[1]);
                     }}},
    {"list_requests", {1, "list_requests GROUP",
                       [](PeerRequest& r, const args_t& a) {
                         r.mutable_list_requests()->set_group(a[1]);
                       }}},
    {"accept_request", {2, "accept_request GROUP USER",
                        [](PeerRequest& r, const args_t& a) {
                          r.mutable_accept_request()->set_group(a[1]);
                          r.mutable_accept_request()->set_user(a[2]);
                        }}},
    {"reject_request", {2, "reject_request GROUP USER",
                        [](PeerRequest& r, const args_t& a) {
                          r.mutable_reject_request()->set_group(a[1]);
                          r.mutable_reject_request()->set_user(a[2]);
                        }}},
    {"list_groups", {0, "list_groups", [](PeerRequest& r, const args_t&) {
                       r.mutable_list_groups();
                     }}},
    {"list_files", {1, "list_files GROUP", [](PeerRequest& r, const args_t& a) {
                      r.mutable_list_files()->set_group(a[1]);
                    }}},
    {"upload_file", {2, "upload_file PATH GROUP",
                     [](PeerRequest& r, const args_t& a) {
                       r.mutable_upload_file()->set_path(a[1]);
                       r.mutable_upload_file()->set_group(a[2]);
                     }}},
    {"download_file", {3, "download_file GROUP NAME DEST_DIR",
                       [](PeerRequest& r, const args_t& a) {
                         auto& x = *r.mutable_download_file();
                         x.set_group(a[1]);
                         x.set_name(a[2]);
                         x.set_dest(a[3]);
                       }}},
  };
  return table;
}

parsed_command invalid(std::string usage) {
  parsed_command out;
  out.usage = "usage: " + std::move(usage);
  return out;
}

parsed_command peer_command(PeerRequest rq) {
  parsed_command out;
  out.kind = parsed_command::peer;
  out.request = std::move(rq);
  return out;
}

// fetch NAME... [--to DIR]
parsed_command parse_fetch(const args_t& args) {
  PeerRequest rq;
  auto& f = *rq.mutable_fetch();
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--to" && i + 1 < args.size())
      f.set_dest(args[++i]);
    else if (args[i].rfind("--to=", 0) == 0)
      f.set_dest(args[i].substr(5));
    else
      f.add_names(args[i]);
  }
  if (f.names().empty())
    return invalid("fetch NAME... [--to DIR]");
  return peer_command(std::move(rq));
}

parsed_command parse_supervision(const args_t& args) {
  parsed_command out;
  bool hard = args.size() == 3 && args[1] == "--hard";
  if (args.size() != (hard ? 3u : 2u) || (args[0] == "restart" && hard))
    return invalid("kill [--hard] NAME | restart NAME");
  out.kind = args[0] == "kill" ? parsed_command::kill : parsed_command::restart;
  out.name = args.back();
  out.hard = hard;
  return out;
}

} // namespace

parsed_command parse_command(const args_t& args) {
  if (args.empty())
    return invalid("COMMAND [ARGS...]\n" + std::string{command_help});
  auto& verb = args[0];
  parsed_command out;
  if (verb == "help") {
    out.kind = parsed_command::help;
    return out;
  }
  if (verb == "actors" && args.size() == 1) {
    out.kind = parsed_command::actors;
    return out;
  }
  if (verb == "placement" && args.size() == 1) {
    out.kind = parsed_command::placement;
    return out;
  }
  if (verb == "kill" || verb == "restart")
    return parse_supervision(args);
  if (verb == "fetch")
    return parse_fetch(args);
  PeerRequest rq;
  if (verb == "publish" || verb == "mirror_publish") {
    if (args.size() < 2)
      return invalid(verb + " FILE...");
    auto& paths = verb == "publish" ? *rq.mutable_publish()
                                    : *rq.mutable_mirror_publish();
    for (size_t i = 1; i < args.size(); ++i)
      paths.add_paths(args[i]);
    return peer_command(std::move(rq));
  }
  if (verb == "stop_share") {
    if (args.size() == 2)
      rq.mutable_stop_share()->set_name(args[1]);
    else if (args.size() == 3) {
      rq.mutable_stop_group_share()->set_group(args[1]);
      rq.mutable_stop_group_share()->set_name(args[2]);
    } else
      return invalid("stop_share NAME | stop_share GROUP NAME");
    return peer_command(std::move(rq));
  }
  auto i = fixed_commands().find(verb);
  if (i == fixed_commands().end())
    return invalid("unknown command '" + verb + "'\n" + command_help);
  if (args.size() != i->second.argc + 1)
    return invalid(i->second.usage);
  i->second.fill(rq, args);
  return peer_command(std::move(rq));
}

caf::expected<control_actor> connect_control(caf::scoped_actor& self,
                                             const std::string& host,
                                             uint16_t port,
                                             std::chrono::milliseconds timeout) {
  caf::expected<control_actor> out{caf::sec::cannot_connect_to_node};
  auto& sys = self->system();
  self->request(sys.middleman().actor_handle(), timeout,
                caf::connect_atom::value, host, port)
    .receive(
      [&](const caf::node_id&, caf::strong_actor_ptr& ptr,
          const std::set<std::string>& ifs) {
        if (!ptr)
          out = caf::make_error(caf::sec::no_actor_published_at_port, port);
        else if (!sys.assignable<control_actor>(ifs))
          out = caf::make_error(caf::sec::unexpected_actor_messaging_interface);
        else
          out = caf::actor_cast<control_actor>(std::move(ptr));
      },
      [&](caf::error& err) { out = std::move(err); });
  return out;
}

command_output run_command(caf::scoped_actor& self, const control_actor& node,
                           const parsed_command& cmd,
                           std::chrono::seconds timeout,
                           const std::string& token) {
  if (cmd.kind == parsed_command::invalid)
    return plain_output(2, cmd.usage);
  if (cmd.kind == parsed_command::help)
    return plain_output(0, command_help);
  // What is left in the mailbox belongs to earlier commands (a reply that
  // came after its timeout, a down message): it must not answer this one.
  bool stale = true;
  while (stale)
    self->receive([](const pb::PeerReply&) {}, [](const pb::ActorList&) {},
                  [](const pb::PlacementStatus&) {},
                  [](caf::ok_atom) {}, [](const caf::error&) {},
                  [](const caf::down_msg&) {},
                  caf::after(std::chrono::seconds(0)) >> [&] { stale = false; });
  switch (cmd.kind) {
    case parsed_command::invalid:
    case parsed_command::help:
      break;
    case parsed_command::actors:
      self->send(node, list_atom::value, token);
      break;
    case parsed_command::kill:
      self->send(node, kill_atom::value, cmd.name, cmd.hard, token);
      break;
    case parsed_command::restart:
      self->send(node, restart_atom::value, cmd.name, token);
      break;
    case parsed_command::peer:
      self->send(node, command_atom::value, cmd.request, token);
      break;
    case parsed_command::placement:
      self->send(node, placement_atom::value, token);
      break;
  }
  self->monitor(node);
  command_output out;
  self->receive(
    [&](const pb::ActorList& xs) { out = actors_output(xs); },
    [&](caf::ok_atom) { out = supervision_output(cmd.kind == parsed_command::kill, cmd.hard, cmd.name); },
    [&](const pb::PeerReply& r) { out = peer_output(cmd.request, r); },
    [&](const pb::PlacementStatus& s) { out = placement_output(s); },
    [&](const caf::error& err) { out = plain_output(1, render(err)); },
    [&](const caf::down_msg& dm) {
      out = plain_output(1, "the node went away: " + render(dm.reason));
    },
    caf::after(timeout) >> [&] {
      out = plain_output(1, "no answer within "
                              + std::to_string(timeout.count()) + " s");
    });
  self->demonitor(node.address());
  return out;
}

} // namespace actorrent
