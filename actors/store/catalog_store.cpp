#include "actors/store/catalog_store.hpp"

#include "actors/store/sqlite_catalog_store.hpp"

namespace actorrent {

catalog_store::~catalog_store() = default;

std::unique_ptr<catalog_store> open_catalog_store(const std::string& db) {
  return std::make_unique<sqlite_catalog_store>(db);
}

} // namespace actorrent
