// estoria/sqlite/sqlite_projection_stores.h: the SQLite tables behind SQL
// read models, usable on their own (part of estoria::sqlite):
//   SqliteDeadLetterStore    parked events (table estoria_dead_letters) and
//                            their replay requests (estoria_dead_letter_replays)
//   SqliteVersionRegistry    the active version of each projection
//                            (table estoria_projection_versions)
//   SqliteRebuildCatalog     versions, checkpoints and the rebuild history
//                            (table estoria_projection_rebuilds) of one file
//   SqliteProjectionTables   schema creation and the in-transaction helpers the
//                            read model uses on its own connection
// The tables live in any SQLite file: the event store's or a read model's.
//
// Thread safety: SqliteDeadLetterStore, SqliteVersionRegistry and
// SqliteRebuildCatalog are safe for
// concurrent use from many threads (one connection behind a mutex). The static
// functions of SqliteProjectionTables use the caller's connection (one thread
// at a time).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "estoria/checkpoint_store.h"
#include "estoria/event_store.h"
#include "estoria/projection/dead_letter_store.h"
#include "estoria/projection/rebuild.h"
#include "estoria/projection/versioning.h"
#include "estoria/sqlite/database.h"

namespace estoria::sqlite {

class SqliteProjectionTables {
 public:
  // Creates the dead-letter, lease, version and checkpoint tables when missing
  // (outside a transaction). Errors as SqliteDatabase::Exec.
  static Status EnsureSchema(SqliteDatabase& db);
  // Opens a connection configured like the stores' (WAL, busy timeout) and
  // ensures the schema. Errors as SqliteDatabase::Open and EnsureSchema.
  static Result<std::unique_ptr<SqliteDatabase>> Open(const SqliteStoreOptions& options);

  // Dead letters on the caller's connection (inside its transaction, if any).
  // Statuses as DeadLetterStore.
  static Status ParkIn(SqliteDatabase& db, const DeadLetter& letter);
  static Result<std::vector<DeadLetter>> ListIn(SqliteDatabase& db, std::string_view projection);
  static Result<DeadLetter> GetIn(SqliteDatabase& db, std::string_view projection, int64_t global_position);
  static Status DiscardIn(SqliteDatabase& db, std::string_view projection, int64_t global_position);
  static Result<int64_t> RequestReplayIn(SqliteDatabase& db, std::string_view projection,
                                         std::optional<int64_t> global_position);
  static Result<std::vector<int64_t>> ListReplayRequestsIn(SqliteDatabase& db, std::string_view projection);
  static Status ClearReplayRequestIn(SqliteDatabase& db, std::string_view projection, int64_t global_position);

  // Takes or extends the lease row of `name` for `owner` (expiry now + ttl) on
  // the caller's connection, which must be in a write transaction. Returns
  // false when another owner holds an unexpired lease, or (take = false) when
  // the row is not ours. Errors as Exec.
  static Result<bool> ClaimLeaseIn(SqliteDatabase& db, std::string_view name, std::string_view owner,
                                   std::chrono::milliseconds ttl, bool take);
  // Deletes `owner`'s lease row of `name` (no error when absent). Errors as Exec.
  static Status ReleaseLeaseIn(SqliteDatabase& db, std::string_view name, std::string_view owner);

  // Drops the given tables (names validated with ValidateIdentifier), in one
  // transaction: e.g. an old projection version's tables after a cut-over.
  // InvalidArgument for a bad name; errors as Exec.
  static Status DropTables(SqliteDatabase& db, const std::vector<std::string>& tables);
};

class SqliteDeadLetterStore final : public DeadLetterStore {
 public:
  // Errors as SqliteProjectionTables::Open.
  static Result<std::shared_ptr<SqliteDeadLetterStore>> Open(SqliteStoreOptions options);
  explicit SqliteDeadLetterStore(std::unique_ptr<SqliteDatabase> db) : db_(std::move(db)) {}

  // DeadLetterStore; statuses as documented there.
  Status Park(const DeadLetter& letter) override;
  Result<std::vector<DeadLetter>> List(std::string_view projection) override;
  Result<DeadLetter> Get(std::string_view projection, int64_t global_position) override;
  Status Discard(std::string_view projection, int64_t global_position) override;
  Result<int64_t> RequestReplay(std::string_view projection, std::optional<int64_t> global_position) override;
  Result<std::vector<int64_t>> ListReplayRequests(std::string_view projection) override;
  Status ClearReplayRequest(std::string_view projection, int64_t global_position) override;
  Status RecordProcessor(std::string_view projection, std::string_view owner, std::string_view failure_policy) override;

 private:
  std::mutex mu_;
  std::unique_ptr<SqliteDatabase> db_;
};

class SqliteVersionRegistry final : public VersionRegistry {
 public:
  // Errors as SqliteProjectionTables::Open.
  static Result<std::shared_ptr<SqliteVersionRegistry>> Open(SqliteStoreOptions options);
  explicit SqliteVersionRegistry(std::unique_ptr<SqliteDatabase> db) : db_(std::move(db)) {}

  // VersionRegistry; statuses as documented there.
  Result<int> ActiveVersion(std::string_view name) override;
  Status SetActiveVersion(std::string_view name, int version) override;

 private:
  std::mutex mu_;
  std::unique_ptr<SqliteDatabase> db_;
};

// The RebuildCatalog of a SQLite file (a read model's): SqliteVersionRegistry,
// SqliteCheckpointStore, the history table estoria_projection_rebuilds, and
// DropTables on the file's tables.
class SqliteRebuildCatalog final : public RebuildCatalog {
 public:
  // Errors as SqliteProjectionTables::Open and SqliteCheckpointStore::Open.
  static Result<std::shared_ptr<SqliteRebuildCatalog>> Open(SqliteStoreOptions options);
  SqliteRebuildCatalog(std::shared_ptr<SqliteVersionRegistry> versions, std::shared_ptr<CheckpointStore> checkpoints,
                       std::unique_ptr<SqliteDatabase> db)
      : versions_(std::move(versions)), checkpoints_(std::move(checkpoints)), db_(std::move(db)) {}

  // RebuildCatalog; statuses as documented there.
  VersionRegistry& versions() override { return *versions_; }
  CheckpointStore& checkpoints() override { return *checkpoints_; }
  Status Record(const RebuildStep& step) override;
  Result<std::vector<RebuildStep>> History(std::string_view projection) override;
  Status DropTables(const std::vector<std::string>& tables) override;

 private:
  std::shared_ptr<SqliteVersionRegistry> versions_;
  std::shared_ptr<CheckpointStore> checkpoints_;
  std::mutex mu_;
  std::unique_ptr<SqliteDatabase> db_;
};

}  // namespace estoria::sqlite
