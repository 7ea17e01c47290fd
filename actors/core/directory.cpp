#include "actors/core/directory.hpp"

#include <chrono>
#include <thread>

#include <map>
#include <mutex>

#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/sec.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace actorrent {

directory::~directory() = default;

namespace {

std::string endpoint(const std::string& host, uint16_t port) {
  return host + ":" + std::to_string(port);
}

// CAF's middleman: TCP between processes. With the guard on, CAF listens on
// a loopback port of its own and the guard on the public one.
class middleman_directory : public directory {
public:
  middleman_directory(caf::actor_system& sys, guard_options opts)
    : sys_(sys), opts_(std::move(opts)) {}

  std::string publish(const caf::strong_actor_ptr& whom,
                      std::set<std::string> ifs, const std::string& host,
                      uint16_t& port) override {
    if (!opts_.enabled)
      return retrying(port, [&] { return caf_publish(whom, ifs, host, port); });
    uint16_t inner = 0;
    if (auto err = caf_publish(whom, ifs, "127.0.0.1", inner); !err.empty())
      return err;
    std::lock_guard<std::mutex> lock{mtx_};
    if (!guard_)
      guard_ = std::make_unique<guard>(opts_);
    auto err = retrying(port, [&] { return guard_->open(host, port, inner); });
    if (!err.empty()) {
      sys_.middleman().close(inner);
      return err;
    }
    inner_[port] = inner;
    return {};
  }

  void unpublish(const std::string&, uint16_t port) override {
    std::lock_guard<std::mutex> lock{mtx_};
    auto i = inner_.find(port);
    if (i == inner_.end()) {
      sys_.middleman().close(port);
      return;
    }
    guard_->close(port);
    sys_.middleman().close(i->second);
    inner_.erase(i);
  }

  connector_actor connector() override {
    return caf::actor_cast<connector_actor>(sys_.middleman().actor_handle());
  }

private:
  std::string caf_publish(const caf::strong_actor_ptr& whom,
                          const std::set<std::string>& ifs,
                          const std::string& host, uint16_t& port) {
    caf::scoped_actor self{sys_};
    std::string err;
    self
      ->request(sys_.middleman().actor_handle(), std::chrono::seconds(10),
                caf::publish_atom::value, port, whom, ifs, host, true)
      .receive([&](uint16_t actual) { port = actual; },
               [&](const caf::error& e) {
                 err = "cannot listen on " + endpoint(host, port) + ": "
                       + sys_.render(e);
               });
    return err;
  }

  // A node started again on its old port may find it still held for a
  // moment by its previous incarnation's closing connections: it tries for
  // up to 5 s before giving up.
  template <class F>
  static std::string retrying(uint16_t port, F attempt) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      auto err = attempt();
      if (err.empty() || port == 0
          || std::chrono::steady_clock::now() >= deadline)
        return err;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }

  caf::actor_system& sys_;
  guard_options opts_;
  std::mutex mtx_;
  std::unique_ptr<guard> guard_;
  std::map<uint16_t, uint16_t> inner_; // public port -> CAF's port
};

// An in-process table of published actors.
struct local_table {
  struct entry {
    caf::strong_actor_ptr whom;
    std::set<std::string> ifs;
  };
  std::mutex mtx;
  std::map<std::string, entry> entries;
  uint16_t next_port = 10000;
};

connector_actor::behavior_type
local_connector(connector_actor::pointer self,
                std::shared_ptr<local_table> table) {
  return {
    [=](caf::connect_atom, const std::string& host, uint16_t port)
      -> caf::result<caf::node_id, caf::strong_actor_ptr,
                     std::set<std::string>> {
      std::lock_guard<std::mutex> guard{table->mtx};
      auto i = table->entries.find(endpoint(host, port));
      if (i == table->entries.end())
        return caf::make_error(caf::sec::cannot_connect_to_node,
                               endpoint(host, port));
      return {self->home_system().node(), i->second.whom, i->second.ifs};
    },
  };
}

class local_directory : public directory {
public:
  explicit local_directory(caf::actor_system& sys)
    : table_(std::make_shared<local_table>()) {
    // Hidden: a test or simulation system does not wait for it at exit.
    connector_ = sys.spawn<caf::hidden>(local_connector, table_);
  }

  ~local_directory() override {
    caf::anon_send_exit(connector_, caf::exit_reason::user_shutdown);
  }

  std::string publish(const caf::strong_actor_ptr& whom,
                      std::set<std::string> ifs, const std::string& host,
                      uint16_t& port) override {
    std::lock_guard<std::mutex> guard{table_->mtx};
    if (port == 0)
      while (table_->entries.count(endpoint(host, table_->next_port)) > 0)
        ++table_->next_port;
    if (port == 0)
      port = table_->next_port++;
    auto key = endpoint(host, port);
    if (table_->entries.count(key) > 0)
      return "cannot listen on " + key + ": address in use";
    table_->entries[key] = local_table::entry{whom, std::move(ifs)};
    return {};
  }

  void unpublish(const std::string& host, uint16_t port) override {
    std::lock_guard<std::mutex> guard{table_->mtx};
    table_->entries.erase(endpoint(host, port));
  }

  connector_actor connector() override {
    return connector_;
  }

private:
  std::shared_ptr<local_table> table_;
  connector_actor connector_;
};

} // namespace

std::shared_ptr<directory> make_middleman_directory(caf::actor_system& sys,
                                                   guard_options opts) {
  return std::make_shared<middleman_directory>(sys, std::move(opts));
}

std::shared_ptr<directory> make_local_directory(caf::actor_system& sys) {
  return std::make_shared<local_directory>(sys);
}

} // namespace actorrent
