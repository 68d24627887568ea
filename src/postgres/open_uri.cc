// OpenPostgresEventStoreUri: the postgres:// entry point of OpenEventStore.
#include "estoria/internal/backend_open.h"

namespace estoria::internal {

Result<std::shared_ptr<EventStore>> OpenPostgresEventStoreUri(std::string_view) {
  return Status::NotSupported("the PostgreSQL event store is not finished yet");
}

}  // namespace estoria::internal
