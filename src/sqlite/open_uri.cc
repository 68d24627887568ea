// SqliteEventStore::ParseUri / OpenUri and OpenSqliteEventStoreUri, the
// "sqlite:" entry point of OpenEventStore.
//
// URI forms:
//   sqlite:PATH                 a file (relative or absolute path)
//   sqlite::memory:             a private in-memory store
//   sqlite:PATH?opt=v&opt=v     options:
//     durability=strict|relaxed   default strict (synchronous FULL / NORMAL)
//     busy_timeout_ms=N           default 5000
//     mode=rw|ro                  default rw; ro opens read-only
//     wal_autocheckpoint=N        pages (SqliteOptions::wal_autocheckpoint_pages)
#include <charconv>
#include <optional>

#include "estoria/internal/backend_open.h"
#include "estoria/sqlite/sqlite_event_store.h"

namespace estoria::sqlite {
namespace {

// The whole of `text` as a non-negative integer, or nullopt.
template <typename Int>
std::optional<Int> NonNegative(std::string_view text) {
  Int v = -1;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < 0) return std::nullopt;
  return v;
}

}  // namespace

Result<SqliteOptions> SqliteEventStore::ParseUri(std::string_view uri) {
  constexpr std::string_view kScheme = "sqlite:";
  if (!uri.starts_with(kScheme)) return Status::InvalidArgument("not an sqlite: URI: " + std::string(uri));
  std::string_view rest = uri.substr(kScheme.size());
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (rest.starts_with("//")) rest.remove_prefix(2);  // tolerate sqlite://path
  if (rest.empty()) return Status::InvalidArgument("sqlite: URI without a path: " + std::string(uri));
  SqliteOptions o;
  o.path = std::string(rest);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    auto bad = [&] {
      return Status::InvalidArgument(
          "sqlite: URI option " + std::string(pair) +
          " is not valid (durability=strict|relaxed, busy_timeout_ms=N, mode=rw|ro, wal_autocheckpoint=N)");
    };
    if (key == "durability") {
      if (value == "strict") {
        o.durability = Durability::kStrict;
      } else if (value == "relaxed") {
        o.durability = Durability::kRelaxed;
      } else {
        return bad();
      }
    } else if (key == "busy_timeout_ms") {
      auto ms = NonNegative<int64_t>(value);
      if (!ms) return bad();
      o.busy_timeout = std::chrono::milliseconds(*ms);
    } else if (key == "wal_autocheckpoint") {
      auto pages = NonNegative<int>(value);
      if (!pages) return bad();
      o.wal_autocheckpoint_pages = *pages;
    } else if (key == "mode") {
      if (value == "ro") {
        o.read_only = true;
      } else if (value == "rw") {
        o.read_only = false;
      } else {
        return bad();
      }
    } else {
      return bad();
    }
  }
  return o;
}

Result<std::shared_ptr<SqliteEventStore>> SqliteEventStore::OpenUri(std::string_view uri) {
  ESTORIA_ASSIGN_OR_RETURN(SqliteOptions o, ParseUri(uri));
  return Open(std::move(o));
}

}  // namespace estoria::sqlite

namespace estoria::internal {

Result<std::shared_ptr<EventStore>> OpenSqliteEventStoreUri(std::string_view uri) {
  ESTORIA_ASSIGN_OR_RETURN(auto store, sqlite::SqliteEventStore::OpenUri(uri));
  return std::shared_ptr<EventStore>(std::move(store));
}

}  // namespace estoria::internal
