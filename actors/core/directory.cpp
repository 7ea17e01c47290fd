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

// CAF's middleman: TCP between processes.
class middleman_directory : public directory {
public:
  explicit middleman_directory(caf::actor_system& sys) : sys_(sys) {}

  std::string publish(const caf::strong_actor_ptr& whom,
                      std::set<std::string> ifs, const std::string& host,
                      uint16_t& port) override {
    caf::scoped_actor self{sys_};
    std::string err;
    // A node started again on its old port may find it still held for a
    // moment by its previous incarnation's closing connections: it tries
    // for up to 5 s before giving up.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      err.clear();
      self
        ->request(sys_.middleman().actor_handle(), std::chrono::seconds(10),
                  caf::publish_atom::value, port, whom, ifs, host, true)
        .receive([&](uint16_t actual) { port = actual; },
                 [&](const caf::error& e) {
                   err = "cannot listen on " + endpoint(host, port) + ": "
                         + sys_.render(e);
                 });
      if (err.empty() || port == 0
          || std::chrono::steady_clock::now() >= deadline)
        return err;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }

  void unpublish(const std::string&, uint16_t port) override {
    sys_.middleman().close(port);
  }

  connector_actor connector() override {
    return caf::actor_cast<connector_actor>(sys_.middleman().actor_handle());
  }

private:
  caf::actor_system& sys_;
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

std::shared_ptr<directory> make_middleman_directory(caf::actor_system& sys) {
  return std::make_shared<middleman_directory>(sys);
}

std::shared_ptr<directory> make_local_directory(caf::actor_system& sys) {
  return std::make_shared<local_directory>(sys);
}

} // namespace actorrent
