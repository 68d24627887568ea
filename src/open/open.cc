#include "estoria/open.h"

#include <string>

#include "estoria/internal/backend_open.h"
#include "estoria/memory_event_store.h"

namespace estoria {

Result<std::shared_ptr<EventStore>> OpenEventStore(std::string_view uri) {
  if (uri == "memory:" || uri == "memory") return std::shared_ptr<EventStore>(MemoryEventStore::Create());
  if (uri.starts_with("sqlite:")) {
#ifdef ESTORIA_SQLITE_ENABLED
    return internal::OpenSqliteEventStoreUri(uri);
#else
    return Status::NotSupported("this build of Estoria has no SQLite backend");
#endif
  }
  if (uri.starts_with("postgres://") || uri.starts_with("postgresql://") || uri == "postgres:" ||
      uri == "postgresql:") {
#ifdef ESTORIA_POSTGRES_ENABLED
    return internal::OpenPostgresEventStoreUri(uri);
#else
    return Status::NotSupported("this build of Estoria has no PostgreSQL backend");
#endif
  }
  return Status::InvalidArgument("unknown store URI \"" + std::string(uri) +
                                 "\": expected memory:, sqlite:PATH, sqlite::memory: or postgres://...");
}

}  // namespace estoria
