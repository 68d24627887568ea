// estoria/projection/rebuild.h: rebuilds as an operation. RebuildProjection
// builds version N+1 of a projection beside the live version N (its own
// tables, VersionedTable(table, N+1), and its own checkpoint,
// VersionedName(name, N+1)), reports progress, resumes after a crash, cuts
// over when caught up (or waits for a manual cut-over), and records each step
// of the rebuild's life in a rebuild history next to the version registry.
// RollbackProjection, AbandonProjectionVersion and CutOverProjection operate on
// the recorded versions; they need no handler code, so `estoria projections
// rollback|abandon|cutover|history NAME` run them from the CLI.
//
//   auto catalog = sqlite::SqliteRebuildCatalog::Open({.path = "views.db"}).value();
//   RebuildOptions o{.name = "balances", .tables = {"balance"}};
//   o.on_progress = [](const RebuildProgress& p) { ... };
//   auto done = RebuildProjection(store, *catalog, [&](int version) -> Result<RebuildSink> {
//     ESTORIA_ASSIGN_OR_RETURN(auto model, OpenBalancesModel(version));  // tables balance_vN
//     return RebuildSink{model, model};
//   }, o);
//
// Versions and their life, as recorded (RebuildStep::Kind):
//   started     a rebuild of version V began at position 0 (V = the highest
//               version ever recorded or active, + 1)
//   resumed     an unfinished rebuild of V (started, not promoted nor
//               abandoned) continued from its checkpoint after a crash or stop
//   caught_up   V handled everything up to the head
//   promoted    V became the active version (cut-over); previous_version is
//               the version active before (0 when none)
//   rolled_back the active version V was replaced by the version it had
//               replaced (active_version), whose tables were kept
//   abandoned   V's tables and checkpoint were dropped (any version but the
//               active one)
// The previous version's tables are never dropped by a cut-over: the operator
// abandons them (AbandonProjectionVersion) once the rollback window is over.
// The service that serves reads resolves its table names through
// VersionRegistry::ActiveVersion and runs the processor of the active version.
//
// Thread safety: the functions may be called from any thread; RebuildCatalog
// implementations are safe for concurrent use. Two rebuilds of one projection
// at the same time are not coordinated here: give the sinks a ProjectionLock
// (SqliteReadModel / PostgresReadModel are their own) so that one processes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "estoria/checkpoint_store.h"
#include "estoria/event_store.h"
#include "estoria/projection/processor.h"
#include "estoria/projection/versioning.h"
#include "estoria/status.h"

namespace estoria {

struct RebuildStep {
  enum class Kind { kStarted, kResumed, kCaughtUp, kPromoted, kRolledBack, kAbandoned };
  // Order of recording (assigned by the catalog; 0 when recording).
  int64_t seq = 0;
  std::string projection{};
  Kind kind = Kind::kStarted;
  // The version the step is about.
  int version = 0;
  // The active version after the step (0: none).
  int active_version = 0;
  // promoted: the version active before (0: none). Otherwise 0.
  int previous_version = 0;
  // The version's position (its checkpoint) and the head of the log then.
  int64_t position = 0;
  int64_t head = 0;
  // started: the version's base table names, comma-separated (what abandon
  // drops, versioned); otherwise free text (e.g. who did it).
  std::string detail{};
  Timestamp at{};
};
// "started", "resumed", "caught_up", "promoted", "rolled_back", "abandoned".
std::string_view RebuildStepKindName(RebuildStep::Kind kind);
// The inverse; Corruption for any other text (a catalog row not written by Estoria).
Result<RebuildStep::Kind> ParseRebuildStepKind(std::string_view text);

// Where a projection's versions are kept: the version registry, the
// checkpoints, the rebuild history and the version tables, in one database
// (the read model's). Implementations: sqlite::SqliteRebuildCatalog,
// postgres::PostgresRebuildCatalog.
class RebuildCatalog {
 public:
  virtual ~RebuildCatalog() = default;
  virtual VersionRegistry& versions() = 0;
  virtual CheckpointStore& checkpoints() = 0;
  // Appends a step (seq and, when zero, `at` are assigned). InvalidArgument
  // (bad projection name); Unavailable; Internal.
  virtual Status Record(const RebuildStep& step) = 0;
  // A projection's steps in the order recorded (empty when none).
  // InvalidArgument; Unavailable; Internal.
  virtual Result<std::vector<RebuildStep>> History(std::string_view projection) = 0;
  // Drops the tables (IF EXISTS; names validated with ValidateIdentifier) in
  // one transaction. InvalidArgument; Unavailable; Internal.
  virtual Status DropTables(const std::vector<std::string>& tables) = 0;
};

// What a rebuild writes to: the sink of the new version (tables
// VersionedTable(..., version)) and, optionally, its ProjectionLock.
struct RebuildSink {
  std::shared_ptr<ProjectionSink> sink;
  std::shared_ptr<ProjectionLock> lock{};
};
using RebuildSinkFactory = std::function<Result<RebuildSink>(int version)>;

struct RebuildProgress {
  int version = 0;
  // The new version's position, where this run started from (0, or the
  // checkpoint when resumed), and the head of the log.
  int64_t position = 0;
  int64_t start_position = 0;
  int64_t head = 0;
  // Events handled by this run, and their rate since it started.
  int64_t events_done = 0;
  double events_per_second = 0;
  // (head - position) / rate; nullopt while the rate is unknown.
  std::optional<std::chrono::seconds> eta{};
  bool caught_up = false;
};

struct RebuildOptions {
  // The projection's base name (VersionedName rules). Required.
  std::string name;
  // The projection's base table names, recorded with `started` so that
  // abandon (from the CLI too) can drop VersionedTable(t, version). Default: none.
  std::vector<std::string> tables{};
  // Cut over as soon as the new version has caught up (default). When false,
  // the rebuild records caught_up and keeps tailing until the version is made
  // active by CutOverProjection (e.g. `estoria projections cutover NAME`), is
  // abandoned, or `stop` is requested.
  bool cutover = true;
  // Processor options for the new version (batch size, failure policy...):
  // name and lock are set by the rebuild. Default: defaults.
  ProcessorOptions processor{};
  // Called on the calling thread every progress_interval and once when
  // caught up. Default: none; 500 ms.
  std::function<void(const RebuildProgress&)> on_progress{};
  std::chrono::milliseconds progress_interval{500};
  // Stops the rebuild early (RebuildResult::stopped; the checkpoint is kept,
  // a later run resumes). Default: never.
  std::stop_token stop{};
};

struct RebuildResult {
  int version = 0;
  bool resumed = false;
  // True when the version is active on return.
  bool promoted = false;
  int64_t position = 0;
  int64_t events_done = 0;
  // True when `stop` ended the run before the version was active.
  bool stopped = false;
};

// Builds (or resumes) the next version and cuts over (see RebuildOptions).
// Errors: InvalidArgument (bad name or table name, null store or factory,
// progress_interval <= 0), NotSupported (no GlobalReader), FailedPrecondition
// (the processor failed on a handler error: the message names the version,
// the position and the error; or the version was abandoned meanwhile), errors
// of the factory, the catalog (Unavailable, Internal), the reader and
// Processor::Create/Start.
//
// The operations below validate everything before they write: a refusal
// (InvalidArgument for a bad name, NotFound, FailedPrecondition) changes
// nothing. Each writes the registry or drops tables first and records its step
// last; an I/O error (Unavailable, Internal) between the two leaves the step
// unrecorded (abandon may simply be run again; after a failed rollback or
// cut-over, check `history` and ActiveVersion before retrying).
Result<RebuildResult> RebuildProjection(std::shared_ptr<EventStore> store, RebuildCatalog& catalog,
                                        const RebuildSinkFactory& make_sink, RebuildOptions options);

// Makes the unfinished rebuild's version (or `version`) active once its
// checkpoint has reached the head. NotFound (no such projection or recorded
// version, or no unfinished rebuild), FailedPrecondition (not caught up: the
// message gives both positions; the version is abandoned or already active),
// errors of the catalog and the reader.
Result<RebuildStep> CutOverProjection(RebuildCatalog& catalog, GlobalReader& reader, std::string_view name,
                                      std::optional<int> version = std::nullopt);

// Makes the version the active one replaced active again. NotFound (unknown
// projection), FailedPrecondition (no active version, no previous version, or
// its tables were abandoned), errors of the catalog and the reader.
Result<RebuildStep> RollbackProjection(RebuildCatalog& catalog, GlobalReader& reader, std::string_view name);

// Drops a version's tables and checkpoint and records it. Default version:
// the unfinished rebuild's, else the most recently rolled-back one.
// NotFound (unknown projection or version, nothing to abandon),
// FailedPrecondition (the version is active, or already abandoned), errors of
// the catalog and the reader.
Result<RebuildStep> AbandonProjectionVersion(RebuildCatalog& catalog, GlobalReader& reader, std::string_view name,
                                             std::optional<int> version = std::nullopt);

// What the history says about a projection's versions.
struct ProjectionVersions {
  int active = 0;                   // 0: none
  int unfinished = 0;               // a started, not promoted nor abandoned version; 0: none
  int highest = 0;                  // the highest version recorded or active
  std::vector<std::string> tables;  // base tables of `unfinished` (or the latest started)
};
// NotFound when the projection has no history and no active version;
// InvalidArgument (bad name); catalog errors.
Result<ProjectionVersions> DescribeProjectionVersions(RebuildCatalog& catalog, std::string_view name);

}  // namespace estoria
