// estoria/internal/backend_open.h: the URI entry points each backend library
// provides to OpenEventStore. Not part of the stable API.
#pragma once

#include <memory>
#include <string_view>

#include "estoria/event_store.h"

namespace estoria::internal {

// Implemented by estoria::sqlite. `uri` is the whole "sqlite:..." text.
Result<std::shared_ptr<EventStore>> OpenSqliteEventStoreUri(std::string_view uri);
// Implemented by estoria::postgres. `uri` is the whole "postgres://..." text.
Result<std::shared_ptr<EventStore>> OpenPostgresEventStoreUri(std::string_view uri);

}  // namespace estoria::internal
