// estoria/backend/registry.h: the URI registry behind OpenEventStore (backend
// SDK). A backend registers a scheme and an opener; OpenEventStore("scheme:...")
// then calls that opener with the whole URI. The built-in backends register
// themselves when estoria::estoria is linked (see docs/backends.md); an
// out-of-tree backend calls RegisterEventStoreScheme once at start-up.
//
// Thread safety: every function may be called from many threads at once.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "estoria/event_store.h"

namespace estoria::backend {

// Opens a store from the whole URI text (scheme included). Returns the backend's
// errors (InvalidArgument for a malformed URI or unknown option, Unavailable, ...).
using EventStoreOpener = std::function<Result<std::shared_ptr<EventStore>>(std::string_view uri)>;

// Registers `scheme` (letters, digits, '+', '-', '.'; starting with a letter;
// case-sensitive, without the colon). Errors: InvalidArgument (bad scheme or
// null opener), AlreadyExists (the scheme is taken; the first opener stays).
Status RegisterEventStoreScheme(std::string_view scheme, EventStoreOpener opener);

// The opener of a scheme. NotFound when none is registered.
Result<EventStoreOpener> FindEventStoreScheme(std::string_view scheme);

// The registered schemes, sorted.
std::vector<std::string> RegisteredEventStoreSchemes();

}  // namespace estoria::backend
