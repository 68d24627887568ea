// estoria/sqlite/sqlite_read_model.h: SqliteReadModel, a dedicated read
// model in an SQLite file with exactly-once effects (part of estoria::sqlite).
//
// The handler receives the read model's connection with a transaction open and
// writes its rows with it; the processor's checkpoint row (estoria_checkpoints)
// is written in that same transaction, so after any crash the rows and the
// checkpoint agree: no event is applied twice or missed. Each event runs under
// a SAVEPOINT, so a failed handler call leaves no partial rows (retry and park
// work per event); a parked event is inserted in estoria_dead_letters in the
// same transaction.
//
//   auto model = SqliteReadModel::Open({.path = "views.db", .setup = create_tables},
//       [](SqliteDatabase& db, const Event& e) { ... db.Prepare("INSERT ...") ... }).value();
//   auto p = Processor::Create(store, model, {.name = "balances_v1", .lock = model}).value();
//
// The read-model file may be the event store's file or another one. Its
// transactions take SQLite's write lock (BEGIN IMMEDIATE) for one batch
// (ProcessorOptions::batch_size events): on the event store's own file, keep
// batches small so that appends do not wait long.
//
// One active processor per projection: SqliteReadModel is also a
// ProjectionLock: a lease row (estoria_projection_leases: name, owner,
// expires_at) in the read-model file, valid for lease_ttl and renewed every
// lease_ttl/3. Another process takes over at most lease_ttl after the holder
// dies. While it holds the lease, every batch transaction also checks and
// extends it (fencing): a processor that lost its lease (paused past the ttl)
// cannot commit, its Commit fails with FailedPrecondition.
//
// Thread safety: a SqliteReadModel serves one processor: the ProjectionSink
// and ProjectionLock methods are called from the processor's thread (an
// internal mutex makes concurrent calls safe but Replay fails with
// FailedPrecondition while a batch transaction is open; Processor::ReplayParked
// serialises correctly). dead_letters() is a separate connection, safe from
// any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "estoria/projection/projection_sink.h"
#include "estoria/sqlite/database.h"
#include "estoria/sqlite/sqlite_projection_stores.h"

namespace estoria::sqlite {

// Writes the rows for one event with `db`, inside the open transaction. Must not
// begin, commit or roll back transactions itself. A non-OK status (or an
// exception: Internal) is a handler failure; the event's writes are rolled back.
using SqliteReadModelHandler = std::function<Status(SqliteDatabase& db, const Event& event)>;

struct SqliteReadModelOptions {
  // Read-model database file (created when missing). Required.
  std::string path;
  // Default kStrict (synchronous FULL).
  Durability durability = Durability::kStrict;
  // Waiting for SQLite's write lock (held by appends or another processor),
  // then Unavailable (the processor retries). Default 5 s.
  std::chrono::milliseconds busy_timeout{5000};
  // Called once on Open inside a transaction, e.g. CREATE TABLE IF NOT EXISTS.
  // Default: none.
  std::function<Status(SqliteDatabase& db)> setup{};
  // This process's lease owner id. Default "<hostname>:<pid>:<random>".
  std::string owner{};
  // Lease validity; renewed every lease_ttl / 3. Default 3 s.
  std::chrono::milliseconds lease_ttl{3000};
};

class SqliteReadModel final : public ProjectionSink, public ProjectionLock {
 public:
  // Opens the file, creates the projection tables and runs setup.
  // Errors: InvalidArgument (empty path, null handler, bad ttl), errors of
  // SqliteDatabase::Open/Exec, setup's error.
  static Result<std::shared_ptr<SqliteReadModel>> Open(SqliteReadModelOptions options, SqliteReadModelHandler handler);
  ~SqliteReadModel() override;

  // ProjectionSink (statuses as documented in projection_sink.h). On a full
  // disk, Apply (when the handler's writes spill from the cache), Commit,
  // Renew and TryAcquire return Unavailable with "disk full" in the message
  // and write nothing; the processor retries (ApplyFailedInSink), and
  // continues from its checkpoint once space is freed
  // (tests/sqlite/disk_full_test.cc).
  bool transactional() const override { return true; }
  Result<int64_t> LoadPosition(std::string_view name) override;
  Status Begin(std::string_view name) override;
  Status Apply(const Event& event) override;
  // True after an Apply that failed in SQLite itself (disk full, I/O error,
  // out of memory, or the transaction rolled back by SQLite), not in the
  // handler's logic.
  bool ApplyFailedInSink() const override;
  Status Park(const DeadLetter& letter) override;
  Status Commit(std::string_view name, int64_t position) override;
  void Abort() override;
  DeadLetterStore& dead_letters() override { return *dead_letters_; }
  Status Replay(std::string_view name, int64_t global_position) override;
  Status ReplayWith(std::string_view name, int64_t global_position, const EventTransform& transform) override;

  // ProjectionLock: the lease row. TryAcquire succeeds when the row is absent,
  // expired, or ours. Errors: Unavailable (database busy, disk full),
  // Internal.
  Result<bool> TryAcquire(std::string_view name) override;
  Result<bool> Renew(std::string_view name) override;
  void Release(std::string_view name) override;
  std::chrono::milliseconds renew_interval() const override { return options_.lease_ttl / 3; }

  // Reads with the read model's connection, outside a batch (e.g. tests,
  // queries in the processing process). Errors: FailedPrecondition while a
  // batch is open; fn's status otherwise.
  Status Read(const std::function<Status(SqliteDatabase& db)>& fn);
  const std::string& owner() const { return options_.owner; }

 private:
  SqliteReadModel(SqliteReadModelOptions options, SqliteReadModelHandler handler, std::unique_ptr<SqliteDatabase> db,
                  std::shared_ptr<SqliteDeadLetterStore> dead_letters);
  // Takes or extends the lease in the current transaction; false when held by
  // another owner. `take`: also when expired/absent.
  Result<bool> ClaimLease(std::string_view name, bool take);
  // TryAcquire (take) and Renew: ClaimLease in a transaction of its own.
  Result<bool> ClaimOutsideBatch(std::string_view name, bool take, const char* what);
  Status ApplyLocked(const Event& event);

  SqliteReadModelOptions options_;
  SqliteReadModelHandler handler_;
  mutable std::mutex mu_;
  std::unique_ptr<SqliteDatabase> db_;
  std::optional<SqliteTransaction> tx_;
  bool lease_held_ = false;
  bool apply_failed_in_sink_ = false;
  std::shared_ptr<SqliteDeadLetterStore> dead_letters_;
};

// A default lease owner id: "<hostname>:<pid>:<random hex>".
std::string DefaultLeaseOwner();

}  // namespace estoria::sqlite
