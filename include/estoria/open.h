// estoria/open.h: open an event store by URI (part of estoria::estoria, which links
// every backend built).
//   memory:                         a new in-memory store
//   sqlite:PATH, sqlite::memory:    the embedded SQLite store (see sqlite/)
//   postgres://..., postgresql://...  PostgreSQL (libpq URI; PG* variables apply)
//
// Thread safety: OpenEventStore may be called from many threads; the stores it
// returns are safe for concurrent use.
#pragma once

#include <memory>
#include <string_view>

#include "estoria/event_store.h"

namespace estoria {

// Errors: InvalidArgument for an unknown scheme or malformed URI; NotSupported when
// the backend was not built; whatever the backend's Open returns (Unavailable,
// Corruption, FailedPrecondition, ...).
Result<std::shared_ptr<EventStore>> OpenEventStore(std::string_view uri);

}  // namespace estoria
