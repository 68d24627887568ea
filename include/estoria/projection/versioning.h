// estoria/projection/versioning.h: projection versions, rebuilds and cut-over.
//
// A projection has a name and a version. Version N of "balances" runs as the
// processor (and checkpoint) named VersionedName("balances", N) =
// "balances_v2" and writes tables named VersionedTable("balance", N) =
// "balance_v2". A rebuild starts version N+1 beside the live version N: it
// replays from position 0 into its own tables while N keeps serving. Once N+1
// has caught up, CutOver records it as the active version in a
// VersionRegistry; readers resolve their table names through ActiveVersion.
// The old version's processor can then be stopped and its tables dropped
// (SqliteReadModel / PostgresReadModel provide DropTables helpers).
// RebuildProjection (projection/rebuild.h) runs this whole sequence as one
// recorded operation, with resume, rollback and abandon.
//
// Thread safety: the free functions are pure; VersionRegistry implementations
// are safe for concurrent use from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "estoria/event_store.h"
#include "estoria/status.h"

namespace estoria {

// "name_vN". InvalidArgument when version < 1 or name is not an SQL-safe
// identifier ([a-z_][a-z0-9_]*, at most 48 characters).
Result<std::string> VersionedName(std::string_view name, int version);
// Same rule and result for table names (an alias that reads better at call
// sites).
inline Result<std::string> VersionedTable(std::string_view table, int version) { return VersionedName(table, version); }
// OK when text is [a-z_][a-z0-9_]* of 1..48 characters; InvalidArgument otherwise.
Status ValidateIdentifier(std::string_view text);

// Where the active version of each projection is recorded.
class VersionRegistry {
 public:
  virtual ~VersionRegistry() = default;
  // The active version. NotFound when none was set; InvalidArgument (empty
  // name or one with a NUL byte); Unavailable; Internal.
  virtual Result<int> ActiveVersion(std::string_view name) = 0;
  // Records the active version (readers switch on their next lookup).
  // InvalidArgument (empty name or one with a NUL byte, version < 1); Unavailable; Internal.
  virtual Status SetActiveVersion(std::string_view name, int version) = 0;
};

// Cut-over: makes `version` active once its projection has handled everything
// up to the head of the log. `reached_position` is the new version's position
// (Processor::state().position or its stored checkpoint). FailedPrecondition
// when reached_position < reader.HeadPosition() (not caught up: retry later);
// errors of the reader and the registry otherwise.
Status CutOver(VersionRegistry& registry, GlobalReader& reader, std::string_view name, int version,
               int64_t reached_position);

}  // namespace estoria
