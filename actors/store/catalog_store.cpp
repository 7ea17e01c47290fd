#include "actors/store/catalog_store.hpp"

#include "actors/store/sql_catalog_store.hpp"

namespace actorrent {

catalog_store::~catalog_store() = default;

std::unique_ptr<catalog_store> open_catalog_store(const std::string& db,
                                                  const std::string& tracker) {
  return std::make_unique<sql_catalog_store>(db, tracker);
}

} // namespace actorrent
