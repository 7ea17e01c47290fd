#include "actors/peer/sharing.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/core/json.hpp"
#include "actors/core/log.hpp"
#include "actors/peer/peer.hpp"

namespace actorrent {

sharing::sharing(peer_self self) : self_(self) {
}

bool sharing::share(const std::string& path, const std::string& name,
                    const std::string& group, std::string& why,
                    std::string* sha) {
  auto& st = self_->state;
  if (!valid_name(name, why))
    return false;
  try {
    auto m = manifest_of(*st.store, *st.env.io, path, name, st.opts.piece_size);
    auto n = static_cast<uint32_t>(m.piece_sha256_size());
    if (sha)
      *sha = m.file_sha256();
    st.lib->put(local_file{std::move(m), path, bitfield{n, true}, group});
    return true;
  } catch (std::exception& e) {
    why = e.what();
    return false;
  }
}

void sharing::load_share_dir() {
  auto& st = self_->state;
  std::vector<std::string> names;
  if (!st.env.io->list(st.opts.share_dir, names)) {
    LOG_WARN("peer", "cannot read share directory " << st.opts.share_dir);
    return;
  }
  for (auto& name : names) {
    auto path = absolute(st.opts.share_dir + "/" + name);
    std::string why;
    uint64_t size = 0;
    int64_t mtime = 0;
    st.env.io->stat(path, size, mtime);
    if (share(path, name, "", why))
      LOG_INFO("peer", "sharing " << name << " ("
                                  << human_bytes(static_cast<double>(size))
                                  << ")");
    else
      LOG_WARN("peer", "not sharing " << path << ": " << why);
  }
}

void sharing::load() {
  auto& st = self_->state;
  if (!st.opts.share_dir.empty())
    load_share_dir();
  for (auto& [name, path] : st.store->published()) {
    std::string why;
    if (!share(path, name, "", why))
      LOG_WARN("peer", "no longer sharing " << name << ": " << why);
  }
}

pb::PeerReply sharing::publish(const pb::PathList& paths) {
  auto& st = self_->state;
  auto out = make_reply(0);
  for (auto& arg : paths.paths()) {
    auto path = absolute(arg);
    auto name = base_name(path);
    std::string why;
    if (st.lib->contains(name)) {
      out.add_lines(name + ": already shared");
      out.set_code(1);
    } else if (share(path, name, "", why)) {
      st.store->add_published(name, path);
      out.add_lines("published " + name);
    } else {
      out.add_lines("cannot publish " + arg + ": " + why);
      out.set_code(1);
    }
  }
  st.tracker.announce();
  return out;
}

caf::result<pb::PeerReply>
sharing::mirror_publish(const pb::PathList& paths) {
  auto& st = self_->state;
  if (auto err = st.tracker.unavailable())
    return err;
  auto out = std::make_shared<pb::PeerReply>(make_reply(0));
  std::vector<pb::Manifest> files;
  for (auto& arg : paths.paths()) {
    auto path = absolute(arg);
    auto name = base_name(path);
    std::string why;
    if (!st.lib->contains(name)) {
      if (!share(path, name, "", why)) {
        out->add_lines("cannot publish " + arg + ": " + why);
        out->set_code(1);
        continue;
      }
      st.store->add_published(name, path);
    }
    for (auto& f : st.lib->snapshot()) {
      if (f.manifest->name() != name || !f.group.empty())
        continue;
      if (f.path != path) {
        // The name is taken by another file: that one must not go out.
        out->add_lines("cannot publish " + arg + ": another file named "
                       + name + " is shared (" + f.path + ")");
        out->set_code(1);
        continue;
      }
      files.push_back(f.manifest);
    }
  }
  st.tracker.announce();
  if (files.empty())
    return *out;
  auto rp = self_->make_response_promise<pb::PeerReply>();
  auto pending = std::make_shared<size_t>(files.size());
  auto placement = caf::actor_cast<placement_actor>(st.tracker.handle());
  for (auto& m : files) {
    pb::PlaceFile req;
    *req.mutable_manifest() = m;
    auto& src = *req.mutable_source();
    src.set_host(st.opts.host);
    src.set_port(st.opts.port);
    // Every replica of every part is copied from here: allow 60 s plus
    // the bytes at 5 MB/s.
    auto timeout = std::chrono::seconds(60)
                   + std::chrono::milliseconds(m.size() * 5 / 25000);
    auto name = m.name();
    auto done = [rp, out, pending]() mutable {
      if (--*pending == 0)
        rp.deliver(*out);
    };
    self_->request(placement, timeout, place_atom::value, req)
      .then(
        [out, name, done](pb::PlaceReply& r) mutable {
          size_t short_parts = 0;
          for (auto& p : r.parts())
            if (static_cast<uint32_t>(p.holders_size()) < r.replicas())
              ++short_parts;
          out->add_lines(name + ": " + std::to_string(r.parts_size())
                         + " parts on the mirrors"
                         + (short_parts == 0
                              ? ", each on " + std::to_string(r.replicas())
                              : ", " + std::to_string(short_parts)
                                  + " with fewer than "
                                  + std::to_string(r.replicas())
                                  + " replicas"));
          // Each part short of replicas: how many it has, where, why.
          constexpr size_t max_lines = 50;
          size_t listed = 0;
          for (auto& p : r.parts()) {
            if (static_cast<uint32_t>(p.holders_size()) >= r.replicas())
              continue;
            if (++listed > max_lines)
              continue;
            std::string line = "  part " + std::to_string(p.part()) + ": "
                               + std::to_string(p.holders_size()) + " of "
                               + std::to_string(r.replicas()) + " replicas";
            for (int i = 0; i < p.holders_size(); ++i)
              line += (i == 0 ? " (" : ", ") + p.holders(i);
            line += p.holders_size() > 0 ? ")" : "";
            if (!p.problem().empty())
              line += ": " + p.problem();
            out->add_lines(line);
          }
          if (listed > max_lines)
            out->add_lines("  and " + std::to_string(listed - max_lines)
                           + " more parts short of replicas");
          if (short_parts > 0)
            out->set_code(1);
          *out->add_placed() = std::move(r);
          done();
        },
        [out, name, done](const caf::error& err) mutable {
          out->add_lines("cannot publish " + name + " to the mirrors: "
                         + render(err));
          out->set_code(1);
          done();
        });
  }
  return rp;
}

pb::PeerReply sharing::stop_share(const std::string& name) {
  auto& st = self_->state;
  if (!st.lib->remove(name))
    return make_reply(1, "not shared: " + name);
  st.store->remove_published(name);
  st.tracker.leave(name);
  return make_reply(0, "stopped sharing " + name);
}

} // namespace actorrent
