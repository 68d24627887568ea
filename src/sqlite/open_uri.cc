// OpenSqliteEventStoreUri: the "sqlite:" entry point of OpenEventStore.
#include "estoria/internal/backend_open.h"

namespace estoria::internal {

Result<std::shared_ptr<EventStore>> OpenSqliteEventStoreUri(std::string_view uri) {
  return Status::NotSupported("the SQLite event store is not finished yet (" + std::string(uri) + ")");
}

}  // namespace estoria::internal
