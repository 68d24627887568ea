// The "memory:" scheme of OpenEventStore: a new, empty in-memory store.
//   memory:                                   default options
//   memory:?max_event_data_bytes=N&max_event_metadata_bytes=N
#include "estoria/backend/registry.h"
#include "estoria/backend/uri.h"
#include "estoria/memory/memory_event_store.h"

namespace estoria::memory {

namespace {
Result<std::shared_ptr<EventStore>> OpenMemoryUri(std::string_view uri) {
  if (uri == "memory") return MemoryEventStore::Open();
  ESTORIA_ASSIGN_OR_RETURN(backend::ParsedUri parsed, backend::ParseUri(uri));
  if (parsed.scheme != "memory" || !parsed.body.empty()) {
    return Status::InvalidArgument("memory: URI takes no path: \"" + std::string(uri) + "\"");
  }
  MemoryEventStoreOptions o;
  for (const backend::UriParam& p : parsed.query) {
    if (p.key == "max_event_data_bytes") {
      ESTORIA_ASSIGN_OR_RETURN(o.event_limits.max_event_data_bytes, backend::UriInteger("memory", p, 1));
    } else if (p.key == "max_event_metadata_bytes") {
      ESTORIA_ASSIGN_OR_RETURN(o.event_limits.max_event_metadata_bytes, backend::UriInteger("memory", p, 1));
    } else {
      return backend::UriUnknownOption("memory", p, "max_event_data_bytes, max_event_metadata_bytes");
    }
  }
  ESTORIA_ASSIGN_OR_RETURN(auto store, MemoryEventStore::Open(std::move(o)));
  return std::shared_ptr<EventStore>(std::move(store));
}
}  // namespace

// Called by estoria::estoria.
void RegisterUriSchemes() { (void)backend::RegisterEventStoreScheme("memory", OpenMemoryUri); }

}  // namespace estoria::memory
