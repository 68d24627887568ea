// SqliteEventStore::ParseUri / OpenUri and the "sqlite:" scheme of
// OpenEventStore.
//
// URI forms:
//   sqlite:PATH                 a file (relative or absolute path)
//   sqlite::memory:             a private in-memory store
//   sqlite:PATH?opt=v&opt=v     options:
//     durability=strict|relaxed   default strict (synchronous FULL / NORMAL)
//     busy_timeout_ms=N           default 5000
//     mode=rw|ro                  default rw; ro opens read-only
//     wal_autocheckpoint=N        pages (SqliteOptions::wal_autocheckpoint_pages)
//     max_event_data_bytes=N      SqliteOptions::event_limits (default 1 MiB)
//     max_event_metadata_bytes=N  SqliteOptions::event_limits (default 64 KiB)
#include <limits>

#include "estoria/backend/registry.h"
#include "estoria/backend/uri.h"
#include "estoria/sqlite/sqlite_event_store.h"

namespace estoria::sqlite {

Result<SqliteOptions> SqliteEventStore::ParseUri(std::string_view uri) {
  if (!uri.starts_with("sqlite:")) return Status::InvalidArgument("not an sqlite: URI: " + std::string(uri));
  ESTORIA_ASSIGN_OR_RETURN(backend::ParsedUri parsed, backend::ParseUri(uri));
  std::string_view path = parsed.body;
  if (path.starts_with("//")) path.remove_prefix(2);  // tolerate sqlite://path
  if (path.empty()) return Status::InvalidArgument("sqlite: URI without a path: " + std::string(uri));
  SqliteOptions o;
  o.path = std::string(path);
  for (const backend::UriParam& p : parsed.query) {
    if (p.key == "durability") {
      ESTORIA_ASSIGN_OR_RETURN(o.durability, backend::UriDurability("sqlite", p));
    } else if (p.key == "busy_timeout_ms") {
      ESTORIA_ASSIGN_OR_RETURN(int64_t ms, backend::UriInteger("sqlite", p, 0));
      o.busy_timeout = std::chrono::milliseconds(ms);
    } else if (p.key == "wal_autocheckpoint") {
      ESTORIA_ASSIGN_OR_RETURN(int64_t pages, backend::UriInteger("sqlite", p, 0, std::numeric_limits<int>::max()));
      o.wal_autocheckpoint_pages = static_cast<int>(pages);
    } else if (p.key == "max_event_data_bytes") {
      ESTORIA_ASSIGN_OR_RETURN(o.event_limits.max_event_data_bytes, backend::UriInteger("sqlite", p, 1));
    } else if (p.key == "max_event_metadata_bytes") {
      ESTORIA_ASSIGN_OR_RETURN(o.event_limits.max_event_metadata_bytes, backend::UriInteger("sqlite", p, 1));
    } else if (p.key == "mode") {
      ESTORIA_ASSIGN_OR_RETURN(size_t mode, backend::UriChoice("sqlite", p, {"rw", "ro"}));
      o.read_only = mode == 1;
    } else {
      return backend::UriUnknownOption(
          "sqlite", p,
          "durability, busy_timeout_ms, mode, wal_autocheckpoint, max_event_data_bytes, max_event_metadata_bytes");
    }
  }
  return o;
}

Result<std::shared_ptr<SqliteEventStore>> SqliteEventStore::OpenUri(std::string_view uri) {
  ESTORIA_ASSIGN_OR_RETURN(SqliteOptions o, ParseUri(uri));
  return Open(std::move(o));
}

// The "sqlite:" scheme of OpenEventStore (called by estoria::estoria).
void RegisterUriSchemes() {
  (void)backend::RegisterEventStoreScheme("sqlite", [](std::string_view uri) -> Result<std::shared_ptr<EventStore>> {
    return SqliteEventStore::OpenUri(uri);
  });
}

}  // namespace estoria::sqlite
