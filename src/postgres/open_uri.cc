// The postgres:// and postgresql:// schemes of OpenEventStore.
#include "estoria/backend/registry.h"
#include "estoria/postgres/postgres_event_store.h"

namespace estoria::postgres {

// Called by estoria::estoria.
void RegisterUriSchemes() {
  auto open = [](std::string_view uri) -> Result<std::shared_ptr<EventStore>> {
    return PostgresEventStore::OpenUri(uri);
  };
  (void)backend::RegisterEventStoreScheme("postgres", open);
  (void)backend::RegisterEventStoreScheme("postgresql", open);
}

}  // namespace estoria::postgres
