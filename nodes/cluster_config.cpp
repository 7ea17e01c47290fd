#include "nodes/cluster_config.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>

#include <google/protobuf/util/json_util.h>

#include "actors/core/file_io.hpp"

namespace actorrent {

namespace {

std::string quoted(const std::string& s) {
  return "\"" + s + "\"";
}

std::string id_list(const pb::ClusterNode& node) {
  std::string out = "[";
  for (int i = 0; i < node.mirror_ids_size(); ++i)
    out += (i ? ", " : "") + quoted(node.mirror_ids(i));
  return out + "]";
}

std::string tracker_endpoint(const pb::ClusterFile& file) {
  return "127.0.0.1:" + std::to_string(file.nodes(0).port());
}

std::string log_section(const cluster_options& opts) {
  return "\n[log]\nlevel = " + quoted(opts.log_level) + "\n";
}

// The tracker's [placement] keys exist only where there are mirrors: a
// tracker built without placement refuses the section.
std::string tracker_ini(const cluster_options& opts,
                        const pb::ClusterNode& node) {
  std::ostringstream out;
  out << "; actorrent tracker node (written by `actorrent cluster up`)\n"
      << "[tracker]\nhost = \"127.0.0.1\"\nport = " << node.port()
      << "\ncontrol-port = " << node.control_port()
      << "\ndb = \"tracker.db\"\nheartbeat-ms = 1000\noffline-ms = 2500\n";
  if (opts.mirrors > 0)
    out << "\n[placement]\nreplicas = " << opts.replicas
        << "\npart-size = " << opts.part_size
        << "\ndead-after-ms = " << opts.dead_after_ms
        << "\nmax-copies-per-mirror = " << opts.max_copies_per_mirror << "\n";
  out << log_section(opts);
  return out.str();
}

std::string mirror_ini(const cluster_options& opts, const pb::ClusterFile& file,
                       const pb::ClusterNode& node) {
  std::ostringstream out;
  out << "; actorrent mirror node (written by `actorrent cluster up`)\n"
      << "[mirror]\ntracker = " << quoted(tracker_endpoint(file))
      << "\nhost = \"127.0.0.1\"\nport = " << node.port()
      << "\ncontrol-port = " << node.control_port()
      << "\ndata-dir = " << quoted(node.name() + "-data")
      << "\nids = " << id_list(node) << "\ncapacity = " << opts.capacity
      << "\nheartbeat-ms = " << std::max<uint64_t>(opts.dead_after_ms / 4, 1)
      << "\nscrub-interval-ms = " << opts.scrub_interval_ms << "\n"
      << log_section(opts);
  return out.str();
}

std::string peer_ini(const cluster_options& opts, const pb::ClusterFile& file,
                     const pb::ClusterNode& node) {
  std::ostringstream out;
  out << "; actorrent peer node (written by `actorrent cluster up`)\n"
      << "[peer]\ntracker = " << quoted(tracker_endpoint(file))
      << "\nhost = \"127.0.0.1\"\nport = " << node.port()
      << "\ncontrol-port = " << node.control_port()
      << "\nshare-dir = " << quoted(node.name() + "-share")
      << "\ndownload-dir = " << quoted(node.name() + "-downloads")
      << "\nstate-db = " << quoted(node.name() + ".db")
      << "\npiece-size = " << opts.piece_size << "\n"
      << log_section(opts);
  return out.str();
}

std::string write_text(const std::string& path, const std::string& text) {
  std::ofstream f{path, std::ios::trunc};
  f << text;
  f.close();
  return f ? std::string{} : "cannot write " + path;
}

pb::ClusterNode& add_node(pb::ClusterFile& file, const std::string& kind,
                          const std::string& name,
                          const std::vector<uint16_t>& ports) {
  auto& node = *file.add_nodes();
  auto i = static_cast<size_t>(file.nodes_size() - 1) * 2;
  node.set_name(name);
  node.set_kind(kind);
  node.set_port(ports[i]);
  node.set_control_port(ports[i + 1]);
  node.set_config(file.dir() + "/" + name + ".ini");
  node.set_log(file.dir() + "/" + name + ".log");
  return node;
}

// The nodes in start order, two ports each.
void plan_nodes(const cluster_options& opts, const std::vector<uint16_t>& ports,
                pb::ClusterFile& file) {
  add_node(file, "tracker", "tracker", ports);
  auto ids = mirror_ids(opts.mirrors, opts.mirror_processes);
  for (size_t k = 0; k < ids.size(); ++k) {
    auto& node = add_node(file, "mirror", "mirror-" + std::to_string(k), ports);
    for (auto& id : ids[k])
      node.add_mirror_ids(id);
  }
  for (uint64_t k = 0; k < opts.peers; ++k)
    add_node(file, "peer", "peer-" + std::to_string(k), ports);
}

std::string write_config(const cluster_options& opts,
                         const pb::ClusterFile& file,
                         const pb::ClusterNode& node) {
  auto dir = file.dir() + "/" + node.name();
  if (node.kind() == "tracker")
    return write_text(node.config(), tracker_ini(opts, node));
  if (node.kind() == "mirror") {
    if (!make_dirs(dir + "-data"))
      return "cannot create " + dir + "-data";
    return write_text(node.config(), mirror_ini(opts, file, node));
  }
  if (!make_dirs(dir + "-share") || !make_dirs(dir + "-downloads"))
    return "cannot create " + dir + "-share or " + dir + "-downloads";
  return write_text(node.config(), peer_ini(opts, file, node));
}

} // namespace

std::vector<std::vector<std::string>> mirror_ids(uint64_t mirrors,
                                                 uint64_t processes) {
  std::vector<std::vector<std::string>> out;
  if (mirrors == 0 || processes == 0)
    return out;
  out.resize(processes);
  auto width = mirrors > 100 ? 3 : 2;
  for (uint64_t i = 0, k = 0; k < processes; ++k) {
    auto count = mirrors / processes + (k < mirrors % processes ? 1 : 0);
    for (uint64_t j = 0; j < count; ++j, ++i) {
      char id[16];
      std::snprintf(id, sizeof(id), "m%0*llu", width,
                    static_cast<unsigned long long>(i));
      out[k].push_back(id);
    }
  }
  return out;
}

namespace {

// A loopback TCP socket bound to `port` (0: any), or -1 when it is taken.
int bind_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (fd >= 0
      && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    fd = -1;
  }
  return fd;
}

uint16_t port_of(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

} // namespace

std::vector<uint16_t> free_ports(size_t count) {
  // Below the kernel's ephemeral range (net.ipv4.ip_local_port_range,
  // 32768-60999 by default): the kernel never gives those ports to outgoing
  // connections, which could otherwise take one between this choice and
  // the node's bind ("cannot listen on 127.0.0.1:40325: Address already in
  // use", seen in e2e_mirrors). Each call starts where the last one ended,
  // each process somewhere else; all sockets stay bound until every port
  // is known, so no port comes twice.
  int low = 32768;
  std::ifstream{"/proc/sys/net/ipv4/ip_local_port_range"} >> low;
  int first = std::max(1024, low - 12000);
  int span = low - first;
  static std::mutex mtx;
  static int next = static_cast<int>(::getpid() % 12000);
  std::lock_guard<std::mutex> guard{mtx};
  std::vector<int> fds;
  std::vector<uint16_t> out;
  for (int tries = 0; out.size() < count && span > 0 && tries < span;
       ++tries) {
    auto port = static_cast<uint16_t>(first + next++ % span);
    if (int fd = bind_loopback(port); fd >= 0) {
      fds.push_back(fd);
      out.push_back(port);
    }
  }
  // No room below the range: any free ports.
  while (out.size() < count) {
    int fd = bind_loopback(0);
    if (fd < 0) {
      out.clear();
      break;
    }
    fds.push_back(fd);
    out.push_back(port_of(fd));
  }
  for (auto fd : fds)
    ::close(fd);
  return out;
}

std::string write_node_configs(const cluster_options& opts,
                               pb::ClusterFile& out) {
  out.Clear();
  out.set_dir(opts.dir);
  auto processes = opts.mirrors > 0 ? opts.mirror_processes : 0;
  auto ports = free_ports(2 * (1 + processes + opts.peers));
  if (ports.empty())
    return "no free loopback ports";
  plan_nodes(opts, ports, out);
  for (auto& node : out.nodes())
    if (auto err = write_config(opts, out, node); !err.empty())
      return err;
  return {};
}

std::string cluster_file_path(const std::string& dir) {
  return dir + "/cluster.json";
}

std::string save_cluster(const pb::ClusterFile& file) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = true;
  opts.preserve_proto_field_names = true;
  opts.always_print_primitive_fields = true;
  std::string text;
  if (!google::protobuf::util::MessageToJsonString(file, &text, opts).ok())
    return "cannot render the cluster file";
  auto path = cluster_file_path(file.dir());
  if (auto err = write_text(path + ".tmp", text); !err.empty())
    return err;
  if (std::rename((path + ".tmp").c_str(), path.c_str()) != 0)
    return "cannot write " + path;
  return {};
}

std::string load_cluster(const std::string& dir, pb::ClusterFile& out) {
  auto path = cluster_file_path(dir);
  std::ifstream f{path};
  if (!f)
    return "cannot read " + path + " (no cluster in " + dir + "?)";
  std::stringstream ss;
  ss << f.rdbuf();
  auto st = google::protobuf::util::JsonStringToMessage(ss.str(), &out);
  if (!st.ok())
    return path + ": " + std::string{st.message()};
  if (out.nodes_size() == 0 || out.nodes(0).kind() != "tracker")
    return path + ": no tracker node listed first";
  return {};
}

} // namespace actorrent
