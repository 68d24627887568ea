// PostgresSnapshotStore (see postgres_snapshot_store.h).
#include "estoria/postgres/postgres_snapshot_store.h"

#include "estoria/backend/validation.h"
#include "pg_wire.h"
#include "store_core.h"

namespace estoria::postgres {

struct PostgresSnapshotStore::Core {
  std::shared_ptr<postgres::internal::StoreCore> store;
  SnapshotRetention retention;
};

Result<std::shared_ptr<PostgresSnapshotStore>> PostgresSnapshotStore::Open(PostgresOptions options,
                                                                           SnapshotRetention retention) {
  if (retention.keep_last < 0) return Status::InvalidArgument("SnapshotRetention.keep_last must not be negative");
  auto core = std::make_shared<Core>();
  ESTORIA_ASSIGN_OR_RETURN(core->store, postgres::internal::OpenStoreCore(options));
  core->retention = retention;
  return std::shared_ptr<PostgresSnapshotStore>(new PostgresSnapshotStore(std::move(core)));
}

PostgresSnapshotStore::~PostgresSnapshotStore() = default;

Status PostgresSnapshotStore::Save(const Snapshot& snapshot) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateSnapshot(snapshot));
  const auto& s = core_->store->statements;
  std::string key = snapshot.aggregate_id.ToString();
  return core_->store->pool.RunStatus([&](PgConnection& c) -> Status {
    PgPipeline p;
    p.Add(s.begin).Add(s.snapshot_save, PgParams()
                                            .Text(key)
                                            .Int64(snapshot.version)
                                            .TimestampValue(snapshot.timestamp)
                                            .Int32(snapshot.schema_version)
                                            .Text(snapshot.content_type)
                                            .Bytes(snapshot.data));
    if (core_->retention.keep_last > 0)
      p.Add(s.snapshot_retain, PgParams().Text(key).Int64(core_->retention.keep_last));
    p.Add(s.commit);
    Status st = c.RunPipeline(p).error();
    if (!st.ok() && !c.broken() && c.transaction_status() != PQTRANS_IDLE) (void)c.Exec("ROLLBACK");
    return st;
  });
}

Result<Snapshot> PostgresSnapshotStore::Load(const TypeId& aggregate_id, int64_t max_version) {
  if (max_version < 0) return Status::InvalidArgument("snapshot Load: negative max_version");
  Status valid = TypeId::ValidateTypeName(aggregate_id.type());
  if (!valid.ok()) return valid.WithContext("invalid aggregate id");
  const auto& s = core_->store->statements;
  std::string key = aggregate_id.ToString();
  ESTORIA_ASSIGN_OR_RETURN(PgResult res, core_->store->pool.Run<PgResult>([&](PgConnection& c) {
    return c.ExecPrepared(s.snapshot_load, PgParams().Text(key).Int64(max_version), PgFormat::kBinary);
  }));
  if (res.rows() == 0) {
    return Status::NotFound("no snapshot of " + key +
                            (max_version > 0 ? " at or below version " + std::to_string(max_version) : std::string()));
  }
  Snapshot snap;
  snap.aggregate_id = aggregate_id;
  snap.version = res.Int64(0, 1);
  snap.timestamp = res.TimestampAt(0, 2);
  snap.schema_version = static_cast<int>(res.Int64(0, 3));
  snap.content_type = res.String(0, 4);
  snap.data = res.String(0, 5);
  return snap;
}

Result<std::vector<int64_t>> PostgresSnapshotStore::ListVersions(const TypeId& aggregate_id) {
  const auto& s = core_->store->statements;
  std::string key = aggregate_id.ToString();
  ESTORIA_ASSIGN_OR_RETURN(PgResult res, core_->store->pool.Run<PgResult>([&](PgConnection& c) {
    return c.ExecPrepared(s.snapshot_versions, PgParams().Text(key), PgFormat::kBinary);
  }));
  std::vector<int64_t> out;
  for (int i = 0; i < res.rows(); ++i) out.push_back(res.Int64(i, 0));
  return out;
}

Status PostgresSnapshotStore::DeleteBelow(const TypeId& aggregate_id, int64_t below_version) {
  if (below_version < 0) return Status::InvalidArgument("snapshot DeleteBelow: negative version");
  const auto& s = core_->store->statements;
  std::string key = aggregate_id.ToString();
  return core_->store->pool.RunStatus([&](PgConnection& c) {
    return c.ExecPrepared(s.snapshot_delete_below, PgParams().Text(key).Int64(below_version)).error();
  });
}

}  // namespace estoria::postgres
