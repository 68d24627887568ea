// estoria/postgres/postgres_checkpoint_store.h: PostgresCheckpointStore,
// projection checkpoints in the checkpoints table of the Estoria schema.
//
// For exactly-once SQL read models, SaveInTransaction writes a checkpoint on a
// caller's connection, inside the caller's transaction, so that the read model
// rows and the checkpoint commit together.
//
// Thread safety: safe for concurrent use from many threads (a small connection
// pool). SaveInTransaction uses the caller's connection from the caller's
// thread.
#pragma once

#include <memory>
#include <string_view>

#include "estoria/checkpoint_store.h"
#include "estoria/postgres/connection.h"
#include "estoria/postgres/postgres_options.h"

namespace estoria::postgres {

class PostgresCheckpointStore final : public CheckpointStore {
 public:
  // Connects and creates/migrates the schema like PostgresEventStore::Open; the
  // same errors.
  static Result<std::shared_ptr<PostgresCheckpointStore>> Open(PostgresOptions options);
  ~PostgresCheckpointStore() override;

  // CheckpointStore: statuses as documented in checkpoint_store.h.
  Result<int64_t> Load(std::string_view name) override;
  Status Save(std::string_view name, int64_t position) override;
  Result<std::vector<Checkpoint>> List() override;
  Status Delete(std::string_view name) override;

  // Upserts checkpoint `name` in `schema` on `conn` (typically inside the
  // caller's open transaction). InvalidArgument (bad name, position or schema),
  // and the errors of PgConnection::ExecParams.
  static Status SaveInTransaction(postgres::PgConnection& conn, std::string_view schema, std::string_view name,
                                  int64_t position);
  // Reads checkpoint `name` on `conn` (0 when absent); same errors.
  static Result<int64_t> LoadInTransaction(postgres::PgConnection& conn, std::string_view schema,
                                           std::string_view name);

  struct Core;  // implementation detail

 private:
  explicit PostgresCheckpointStore(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  std::shared_ptr<Core> core_;
};

}  // namespace estoria::postgres
