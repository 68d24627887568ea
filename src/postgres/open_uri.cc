// OpenPostgresEventStoreUri: the postgres:// entry point of OpenEventStore.
#include "estoria/internal/backend_open.h"
#include "estoria/postgres/postgres_event_store.h"

namespace estoria::internal {

Result<std::shared_ptr<EventStore>> OpenPostgresEventStoreUri(std::string_view uri) {
  ESTORIA_ASSIGN_OR_RETURN(auto store, postgres::PostgresEventStore::OpenUri(uri));
  return std::shared_ptr<EventStore>(std::move(store));
}

}  // namespace estoria::internal
