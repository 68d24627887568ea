// estoria/sqlite/sqlite_checkpoint_store.h: SqliteCheckpointStore, projection
// checkpoints in an SQLite file (table estoria_checkpoints), either the event
// store's file or another one. The static *In functions work on a caller's
// connection, so that an SQL read model and its checkpoint commit in the same
// transaction (exactly-once effects):
//
//   auto tx = SqliteTransaction::Begin(db);           // db: the read model's file
//   ... write read-model rows with db ...
//   SqliteCheckpointStore::SaveIn(db, "balances", event.global_position);
//   tx->Commit();
//
// Thread safety: a SqliteCheckpointStore is safe for concurrent use from many
// threads (one connection behind a mutex). The static functions use the
// connection given (one thread at a time, as every SqliteDatabase).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "estoria/checkpoint_store.h"
#include "estoria/event_store.h"
#include "estoria/sqlite/database.h"

namespace estoria::sqlite {

class SqliteCheckpointStore final : public CheckpointStore {
 public:
  // Opens (creating when missing) the store. Errors as SqliteEventStore::Open.
  static Result<std::shared_ptr<SqliteCheckpointStore>> Open(SqliteStoreOptions options);

  // CheckpointStore; statuses as in checkpoint_store.h.
  Result<int64_t> Load(std::string_view name) override;
  Status Save(std::string_view name, int64_t position) override;
  Result<std::vector<Checkpoint>> List() override;
  Status Delete(std::string_view name) override;

  // Creates the checkpoint table in `db` when missing and checks its schema
  // version (FailedPrecondition when newer). Run it outside a transaction
  // (it opens its own). Errors as SqliteDatabase::Exec.
  static Status EnsureSchema(SqliteDatabase& db);
  // Load and Save on the caller's connection (inside the caller's transaction,
  // if one is open). Statuses as Load / Save.
  static Result<int64_t> LoadIn(SqliteDatabase& db, std::string_view name);
  static Status SaveIn(SqliteDatabase& db, std::string_view name, int64_t position);

  explicit SqliteCheckpointStore(std::unique_ptr<SqliteDatabase> db);

 private:
  std::mutex mu_;
  std::unique_ptr<SqliteDatabase> db_;
};

}  // namespace estoria::sqlite
