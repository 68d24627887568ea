// PostgresCheckpointStore (see postgres_checkpoint_store.h).
#include "estoria/postgres/postgres_checkpoint_store.h"

#include "estoria/backend/validation.h"
#include "store_core.h"

namespace estoria::postgres {

struct PostgresCheckpointStore::Core {
  std::shared_ptr<postgres::internal::StoreCore> store;
};

Result<std::shared_ptr<PostgresCheckpointStore>> PostgresCheckpointStore::Open(PostgresOptions options) {
  auto core = std::make_shared<Core>();
  ESTORIA_ASSIGN_OR_RETURN(core->store, postgres::internal::OpenStoreCore(options));
  return std::shared_ptr<PostgresCheckpointStore>(new PostgresCheckpointStore(std::move(core)));
}

PostgresCheckpointStore::~PostgresCheckpointStore() = default;

Result<int64_t> PostgresCheckpointStore::Load(std::string_view name) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateCheckpoint(name, 0));
  const auto& s = core_->store->statements;
  ESTORIA_ASSIGN_OR_RETURN(PgResult res, core_->store->pool.Run<PgResult>([&](PgConnection& c) {
    return c.ExecPrepared(s.checkpoint_load, PgParams().Text(name), PgFormat::kBinary);
  }));
  return res.rows() == 0 ? int64_t{0} : res.Int64(0, 0);
}

Status PostgresCheckpointStore::Save(std::string_view name, int64_t position) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateCheckpoint(name, position));
  const auto& s = core_->store->statements;
  return core_->store->pool.RunStatus([&](PgConnection& c) {
    return c.ExecPrepared(s.checkpoint_save, PgParams().Text(name).Int64(position).TimestampValue(Now())).error();
  });
}

Result<std::vector<Checkpoint>> PostgresCheckpointStore::List() {
  const auto& s = core_->store->statements;
  ESTORIA_ASSIGN_OR_RETURN(PgResult res, core_->store->pool.Run<PgResult>([&](PgConnection& c) {
    return c.ExecPrepared(s.checkpoint_list, PgParams(), PgFormat::kBinary);
  }));
  std::vector<Checkpoint> out;
  for (int i = 0; i < res.rows(); ++i)
    out.push_back(Checkpoint{res.String(i, 0), res.Int64(i, 1), res.TimestampAt(i, 2)});
  return out;
}

Status PostgresCheckpointStore::Delete(std::string_view name) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateCheckpoint(name, 0));
  const auto& s = core_->store->statements;
  ESTORIA_ASSIGN_OR_RETURN(PgResult res, core_->store->pool.Run<PgResult>([&](PgConnection& c) {
    return c.ExecPrepared(s.checkpoint_delete, PgParams().Text(name));
  }));
  if (res.affected_rows() == 0) return Status::NotFound("no checkpoint named " + std::string(name));
  return Status::Ok();
}

Status PostgresCheckpointStore::SaveInTransaction(PgConnection& conn, std::string_view schema, std::string_view name,
                                                  int64_t position) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateCheckpoint(name, position));
  ESTORIA_RETURN_IF_ERROR(postgres::internal::ValidateSchemaName(schema));
  return conn
      .ExecParams(
          "INSERT INTO " + postgres::QuoteIdentifier(schema) +
              ".checkpoints (name, position, updated_at) VALUES ($1, $2, $3)"
              " ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = EXCLUDED.updated_at",
          PgParams().Text(name).Int64(position).TimestampValue(Now()))
      .error();
}

Result<int64_t> PostgresCheckpointStore::LoadInTransaction(PgConnection& conn, std::string_view schema,
                                                           std::string_view name) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateCheckpoint(name, 0));
  ESTORIA_RETURN_IF_ERROR(postgres::internal::ValidateSchemaName(schema));
  ESTORIA_ASSIGN_OR_RETURN(PgResult res, conn.ExecParams("SELECT position FROM " + postgres::QuoteIdentifier(schema) +
                                                             ".checkpoints WHERE name = $1",
                                                         PgParams().Text(name), PgFormat::kBinary));
  return res.rows() == 0 ? int64_t{0} : res.Int64(0, 0);
}

}  // namespace estoria::postgres
