#include "read_model_info.h"

#include <algorithm>
#include <chrono>
#include <mutex>

#include "estoria/backend/dead_letter_row.h"
#ifdef ESTORIA_UI_SQLITE
#include "estoria/sqlite/database.h"
#include "estoria/sqlite/sqlite_checkpoint_store.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "estoria/sqlite/sqlite_projection_stores.h"
#endif
#ifdef ESTORIA_UI_POSTGRES
#include "estoria/postgres/connection.h"
#include "estoria/postgres/postgres_checkpoint_store.h"
#include "estoria/postgres/postgres_options.h"
#include "estoria/postgres/postgres_projection_stores.h"
#endif

namespace estoria::ui {
namespace {

#ifdef ESTORIA_UI_SQLITE
class SqliteInfo : public ReadModelInfo {
 public:
  SqliteInfo(std::shared_ptr<CheckpointStore> c, std::shared_ptr<DeadLetterStore> d,
             std::unique_ptr<sqlite::SqliteDatabase> db)
      : checkpoints_(std::move(c)), dead_(std::move(d)), db_(std::move(db)) {}

  CheckpointStore& checkpoints() override { return *checkpoints_; }
  DeadLetterStore& dead_letters() override { return *dead_; }

  Result<int64_t> CountDeadLetters(std::string_view projection) override {
    std::lock_guard<std::mutex> lock(mu_);
    ESTORIA_ASSIGN_OR_RETURN(sqlite::SqliteStatement * st,
                             db_->PrepareCached("SELECT count(*) FROM estoria_dead_letters WHERE projection = ?"));
    ResetOnExit reset{st};
    ESTORIA_RETURN_IF_ERROR(st->BindText(1, projection));
    ESTORIA_ASSIGN_OR_RETURN(bool row, st->Step());
    return row ? st->ColumnInt64(0) : 0;
  }

  Result<std::vector<DeadLetter>> PageDeadLetters(std::string_view projection, int64_t after, int64_t limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    ESTORIA_ASSIGN_OR_RETURN(
        sqlite::SqliteStatement * st,
        db_->PrepareCached(std::string("SELECT ") + backend::kDeadLetterColumns +
                           " FROM estoria_dead_letters WHERE projection = ?1 AND global_position > ?2"
                           " ORDER BY global_position LIMIT ?3"));
    ResetOnExit reset{st};
    ESTORIA_RETURN_IF_ERROR(st->BindText(1, projection));
    ESTORIA_RETURN_IF_ERROR(st->BindInt64(2, after));
    ESTORIA_RETURN_IF_ERROR(st->BindInt64(3, limit));
    std::vector<DeadLetter> out;
    for (;;) {
      ESTORIA_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) break;
      backend::DeadLetterRow r;
      r.global_position = st->ColumnInt64(0);
      r.event_id = st->ColumnText(1);
      r.stream_id = st->ColumnText(2);
      r.stream_version = st->ColumnInt64(3);
      r.timestamp_us = st->ColumnInt64(4);
      r.content_type = st->ColumnText(5);
      r.data = st->ColumnBlob(6);
      r.metadata = st->ColumnText(7);
      r.error = st->ColumnText(8);
      r.attempts = st->ColumnInt64(9);
      r.parked_at_us = st->ColumnInt64(10);
      ESTORIA_ASSIGN_OR_RETURN(DeadLetter d, backend::FromDeadLetterRow(projection, r));
      out.push_back(std::move(d));
    }
    return out;
  }

  Result<std::optional<LeaseInfo>> Lease(std::string_view projection) override {
    std::lock_guard<std::mutex> lock(mu_);
    ESTORIA_ASSIGN_OR_RETURN(bool exists, TableExists("estoria_projection_leases"));
    if (!exists) return std::optional<LeaseInfo>();
    ESTORIA_ASSIGN_OR_RETURN(
        sqlite::SqliteStatement * st,
        db_->PrepareCached("SELECT owner, expires_at_us FROM estoria_projection_leases WHERE name = ?"));
    ResetOnExit reset{st};
    ESTORIA_RETURN_IF_ERROR(st->BindText(1, projection));
    ESTORIA_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return std::optional<LeaseInfo>();
    Timestamp expires{std::chrono::microseconds(st->ColumnInt64(1))};
    if (expires <= Now()) return std::optional<LeaseInfo>();  // expired: nobody holds it
    return std::optional<LeaseInfo>(LeaseInfo{st->ColumnText(0), expires});
  }

  Result<std::optional<std::string>> FailurePolicy(std::string_view projection) override {
    std::lock_guard<std::mutex> lock(mu_);
    ESTORIA_ASSIGN_OR_RETURN(bool exists, TableExists("estoria_projection_processors"));
    if (!exists) return std::optional<std::string>();
    ESTORIA_ASSIGN_OR_RETURN(
        sqlite::SqliteStatement * st,
        db_->PrepareCached("SELECT failure_policy FROM estoria_projection_processors WHERE name = ?"));
    ResetOnExit reset{st};
    ESTORIA_RETURN_IF_ERROR(st->BindText(1, projection));
    ESTORIA_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(st->ColumnText(0));
  }

 private:
  struct ResetOnExit {
    sqlite::SqliteStatement* st;
    ~ResetOnExit() { (void)st->Reset(); }
  };
  Result<bool> TableExists(const char* name) {
    ESTORIA_ASSIGN_OR_RETURN(
        sqlite::SqliteStatement * st,
        db_->PrepareCached("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"));
    ResetOnExit reset{st};
    ESTORIA_RETURN_IF_ERROR(st->BindText(1, name));
    ESTORIA_ASSIGN_OR_RETURN(bool row, st->Step());
    return row && st->ColumnInt64(0) > 0;
  }

  std::shared_ptr<CheckpointStore> checkpoints_;
  std::shared_ptr<DeadLetterStore> dead_;
  std::mutex mu_;
  std::unique_ptr<sqlite::SqliteDatabase> db_;
};
#endif

#ifdef ESTORIA_UI_POSTGRES
class PostgresInfo : public ReadModelInfo {
 public:
  PostgresInfo(std::shared_ptr<CheckpointStore> c, std::shared_ptr<DeadLetterStore> d,
               std::unique_ptr<postgres::PgConnection> conn, std::string schema)
      : checkpoints_(std::move(c)), dead_(std::move(d)), conn_(std::move(conn)), schema_(std::move(schema)) {}

  CheckpointStore& checkpoints() override { return *checkpoints_; }
  DeadLetterStore& dead_letters() override { return *dead_; }

  Result<int64_t> CountDeadLetters(std::string_view projection) override {
    std::lock_guard<std::mutex> lock(mu_);
    ESTORIA_ASSIGN_OR_RETURN(
        postgres::PgResult r,
        conn_->ExecParams("SELECT count(*) FROM " + schema_ + ".projection_dead_letters WHERE projection = $1",
                          postgres::PgParams().Text(projection)));
    return r.rows() == 1 ? r.Int64(0, 0) : 0;
  }

  Result<std::vector<DeadLetter>> PageDeadLetters(std::string_view projection, int64_t after, int64_t limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    ESTORIA_ASSIGN_OR_RETURN(
        postgres::PgResult r,
        conn_->ExecParams(std::string("SELECT ") + backend::kDeadLetterColumns + " FROM " + schema_ +
                              ".projection_dead_letters WHERE projection = $1 AND global_position > $2"
                              " ORDER BY global_position LIMIT $3",
                          postgres::PgParams().Text(projection).Int64(after).Int64(limit),
                          postgres::PgFormat::kBinary));
    std::vector<DeadLetter> out;
    for (int i = 0; i < r.rows(); ++i) {
      backend::DeadLetterRow row;
      row.global_position = r.Int64(i, 0);
      row.event_id = r.String(i, 1);
      row.stream_id = r.String(i, 2);
      row.stream_version = r.Int64(i, 3);
      row.timestamp_us = r.Int64(i, 4);
      row.content_type = r.String(i, 5);
      row.data = r.String(i, 6);
      row.metadata = r.String(i, 7);
      row.error = r.String(i, 8);
      row.attempts = r.Int64(i, 9);
      row.parked_at_us = r.Int64(i, 10);
      ESTORIA_ASSIGN_OR_RETURN(DeadLetter d, backend::FromDeadLetterRow(projection, row));
      out.push_back(std::move(d));
    }
    return out;
  }

  // PostgreSQL read models hold a session advisory lock (class 'ESTP', key
  // hashtext("<schema>.<name>")) while they process; pg_stat_activity names the
  // holding session.
  Result<std::optional<LeaseInfo>> Lease(std::string_view projection) override {
    std::lock_guard<std::mutex> lock(mu_);
    ESTORIA_ASSIGN_OR_RETURN(
        postgres::PgResult r,
        conn_->ExecParams("SELECT l.pid::text, coalesce(a.application_name, ''), coalesce(a.client_addr::text, '')"
                          " FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid"
                          " WHERE l.locktype = 'advisory' AND l.classid = 1163087952::oid"
                          " AND l.objid = hashtext($1)::oid AND l.objsubid = 2 AND l.granted LIMIT 1",
                          postgres::PgParams().Text(schema_ + "." + std::string(projection))));
    if (r.rows() == 0) return std::optional<LeaseInfo>();
    std::string holder = "pid " + r.String(0, 0);
    if (!r.String(0, 1).empty()) holder += " (" + r.String(0, 1) + ")";
    if (!r.String(0, 2).empty()) holder += " from " + r.String(0, 2);
    return std::optional<LeaseInfo>(LeaseInfo{holder, std::nullopt});
  }

  Result<std::optional<std::string>> FailurePolicy(std::string_view projection) override {
    std::lock_guard<std::mutex> lock(mu_);
    ESTORIA_ASSIGN_OR_RETURN(postgres::PgResult t,
                             conn_->ExecParams("SELECT to_regclass($1) IS NOT NULL",
                                               postgres::PgParams().Text(schema_ + ".projection_processors")));
    if (t.rows() != 1 || t.String(0, 0) != "t") return std::optional<std::string>();
    ESTORIA_ASSIGN_OR_RETURN(postgres::PgResult r, conn_->ExecParams("SELECT failure_policy FROM " + schema_ +
                                                                         ".projection_processors WHERE name = $1",
                                                                     postgres::PgParams().Text(projection)));
    if (r.rows() == 0) return std::optional<std::string>();
    return std::optional<std::string>(r.String(0, 0));
  }

 private:
  std::shared_ptr<CheckpointStore> checkpoints_;
  std::shared_ptr<DeadLetterStore> dead_;
  std::mutex mu_;
  std::unique_ptr<postgres::PgConnection> conn_;
  std::string schema_;
};
#endif

}  // namespace

Result<int64_t> OldestUnhandledAgeMs(GlobalReader& reader, int64_t position) {
  ReadAllOptions o;
  o.after_position = position;
  o.count = 1;
  ESTORIA_ASSIGN_OR_RETURN(auto it, reader.ReadAll(o));
  ESTORIA_ASSIGN_OR_RETURN(std::optional<Event> first, it->Next());
  if (!first) return int64_t{0};
  return std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(Now() - first->timestamp).count());
}

Result<std::unique_ptr<ReadModelInfo>> ReadModelInfo::Open(const std::string& uri, std::string_view flag) {
#ifdef ESTORIA_UI_SQLITE
  if (uri.starts_with("sqlite:")) {
    ESTORIA_ASSIGN_OR_RETURN(sqlite::SqliteOptions so, sqlite::SqliteEventStore::ParseUri(uri));
    sqlite::SqliteStoreOptions co;
    co.path = so.path;
    ESTORIA_ASSIGN_OR_RETURN(auto checkpoints, sqlite::SqliteCheckpointStore::Open(co));
    ESTORIA_ASSIGN_OR_RETURN(auto dead, sqlite::SqliteDeadLetterStore::Open(co));
    ESTORIA_ASSIGN_OR_RETURN(auto db, sqlite::SqliteDatabase::Open(so.path));
    return std::unique_ptr<ReadModelInfo>(
        std::make_unique<SqliteInfo>(std::move(checkpoints), std::move(dead), std::move(db)));
  }
#endif
#ifdef ESTORIA_UI_POSTGRES
  if (uri.starts_with("postgres")) {
    ESTORIA_ASSIGN_OR_RETURN(postgres::PostgresOptions po, postgres::ParsePostgresUri(uri));
    ESTORIA_ASSIGN_OR_RETURN(auto checkpoints, postgres::PostgresCheckpointStore::Open(po));
    ESTORIA_ASSIGN_OR_RETURN(auto dead, postgres::PostgresDeadLetterStore::Open(po));
    postgres::PgConnectOptions co;
    co.conninfo = po.conninfo;
    co.connect_timeout = po.connect_timeout;
    co.query_timeout = po.query_timeout;
    ESTORIA_ASSIGN_OR_RETURN(auto conn, postgres::PgConnection::Connect(co));
    return std::unique_ptr<ReadModelInfo>(
        std::make_unique<PostgresInfo>(std::move(checkpoints), std::move(dead), std::move(conn), po.schema));
  }
#endif
  return Status::NotSupported("projection state is kept in SQLite or PostgreSQL; " + uri + " is neither (pass " +
                              std::string(flag) + " URI)");
}

Result<std::shared_ptr<RebuildCatalog>> OpenRebuildCatalog(const std::string& uri, std::string_view flag) {
#ifdef ESTORIA_UI_SQLITE
  if (uri.starts_with("sqlite:")) {
    ESTORIA_ASSIGN_OR_RETURN(sqlite::SqliteOptions so, sqlite::SqliteEventStore::ParseUri(uri));
    sqlite::SqliteStoreOptions co;
    co.path = so.path;
    ESTORIA_ASSIGN_OR_RETURN(auto catalog, sqlite::SqliteRebuildCatalog::Open(co));
    return std::shared_ptr<RebuildCatalog>(std::move(catalog));
  }
#endif
#ifdef ESTORIA_UI_POSTGRES
  if (uri.starts_with("postgres")) {
    ESTORIA_ASSIGN_OR_RETURN(postgres::PostgresOptions po, postgres::ParsePostgresUri(uri));
    ESTORIA_ASSIGN_OR_RETURN(auto catalog, postgres::PostgresRebuildCatalog::Open(po));
    return std::shared_ptr<RebuildCatalog>(std::move(catalog));
  }
#endif
  return Status::NotSupported("projection versions are kept in SQLite or PostgreSQL; " + uri + " is neither (pass " +
                              std::string(flag) + " URI)");
}

}  // namespace estoria::ui
