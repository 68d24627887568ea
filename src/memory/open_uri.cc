// The "memory:" scheme of OpenEventStore: a new, empty in-memory store.
#include "estoria/backend/registry.h"
#include "estoria/memory/memory_event_store.h"

namespace estoria::memory {

// Called by estoria::estoria.
void RegisterUriSchemes() {
  (void)backend::RegisterEventStoreScheme("memory", [](std::string_view uri) -> Result<std::shared_ptr<EventStore>> {
    if (uri != "memory:" && uri != "memory") {
      return Status::InvalidArgument("memory: URI takes no path or options: \"" + std::string(uri) + "\"");
    }
    return MemoryEventStore::Open();
  });
}

}  // namespace estoria::memory
