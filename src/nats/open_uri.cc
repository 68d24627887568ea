// The "nats:" scheme of OpenEventStore (see NatsEventStore::OpenUri).
#include "estoria/backend/registry.h"
#include "estoria/nats/nats_event_store.h"

namespace estoria::nats {

// Called by estoria::estoria.
void RegisterUriSchemes() {
  (void)backend::RegisterEventStoreScheme(
      "nats", [](std::string_view uri) -> Result<std::shared_ptr<EventStore>> { return NatsEventStore::OpenUri(uri); });
}

}  // namespace estoria::nats
