// SqliteEventStore: opening, appends and reads. Deletion, listing and waiting
// are in sqlite_event_store_admin.cc; the write path in group_commit_writer.cc.
#include "estoria/sqlite/sqlite_event_store.h"

#include "estoria/backend/paged_iterator.h"
#include "estoria/backend/validation.h"
#include "event_rows.h"
#include "event_sql.h"
#include "schema.h"
#include "store_core.h"

namespace estoria::sqlite {

namespace {
constexpr int64_t kStreamPageSize = 256;
constexpr int64_t kAllPageSize = 512;

Result<std::unique_ptr<SqliteDatabase>> OpenConnection(const SqliteOptions& o, bool reader) {
  SqliteDatabaseOptions dbo;
  dbo.read_only = o.read_only;
  dbo.create = !o.read_only && !reader;
  dbo.busy_timeout = o.busy_timeout;
  ESTORIA_ASSIGN_OR_RETURN(auto db, SqliteDatabase::Open(o.path, dbo));
  if (reader && !o.read_only) ESTORIA_RETURN_IF_ERROR(db->Exec("PRAGMA query_only = 1"));
  return db;
}

}  // namespace

SqliteEventStore::SqliteEventStore(std::shared_ptr<Core> core) : core_(std::move(core)) {}
SqliteEventStore::~SqliteEventStore() = default;

Result<std::shared_ptr<SqliteEventStore>> SqliteEventStore::Open(SqliteOptions options) {
  if (options.path.empty()) return Status::InvalidArgument("SqliteOptions.path is empty");
  if (options.busy_timeout.count() < 0) return Status::InvalidArgument("SqliteOptions.busy_timeout is negative");
  ESTORIA_RETURN_IF_ERROR(backend::ValidateEventLimits("SqliteOptions", options.event_limits, 1000000000));
  if (!options.logger) options.logger = StderrLogger();
  auto core = std::make_shared<Core>();
  core->memory = options.path == ":memory:";
  if (core->memory) options.read_only = false;
  core->options = options;
  // Refuses a read-only file, a non-database and a newer schema before
  // anything (the WAL switch included) writes.
  internal::StoreFileOptions file{options.path, options.durability, options.busy_timeout, options.read_only};
  ESTORIA_ASSIGN_OR_RETURN(
      auto db, internal::OpenStoreFile(file, "events", internal::kEventsSchemaVersion, internal::kEventsDdl));
  if (options.read_only) {
    ESTORIA_RETURN_IF_ERROR(db->Exec("PRAGMA query_only = 1"));
  } else if (!core->memory) {
    ESTORIA_RETURN_IF_ERROR(
        db->Exec("PRAGMA wal_autocheckpoint = " + std::to_string(std::max(options.wal_autocheckpoint_pages, 0))));
    if (options.max_page_count > 0) {
      ESTORIA_RETURN_IF_ERROR(
          db->QueryInt64("PRAGMA max_page_count = " + std::to_string(options.max_page_count)).status());
    }
  }
  ESTORIA_ASSIGN_OR_RETURN(core->known_head, internal::ReadHead(*db));

  size_t idle = static_cast<size_t>(std::max(options.max_idle_readers, 1));
  if (core->memory) {
    core->write_pool = internal::NewConnectionPool(nullptr, 1, 1);
    core->write_pool->Add(std::move(db));
  } else {
    core->read_pool =
        internal::NewConnectionPool([options] { return OpenConnection(options, /*reader=*/true); }, 0, idle);
    if (options.read_only) {
      core->read_pool->Add(std::move(db));
    } else {
      core->write_pool = internal::NewConnectionPool(nullptr, 1, 1);
      core->write_pool->Add(std::move(db));
    }
  }
  if (core->write_pool) {
    Core* raw = core.get();
    core->writer = std::make_unique<internal::GroupCommitWriter>(
        core->write_pool.get(), static_cast<size_t>(std::max(options.max_batch_appends, 1)),
        [raw](int64_t head) { raw->OnCommit(head); }, options.logger);
  }
  return std::make_shared<SqliteEventStore>(std::move(core));
}

const SqliteOptions& SqliteEventStore::options() const { return core_->options; }
EventLimits SqliteEventStore::event_limits() const { return core_->options.event_limits; }

SqliteStats SqliteEventStore::stats() const { return core_->writer ? core_->writer->stats() : SqliteStats{}; }

Result<std::vector<Event>> SqliteEventStore::AppendStream(const TypeId& stream_id,
                                                          std::span<const WritableEvent> events,
                                                          const AppendOptions& options) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateAppend(stream_id, events, options, core_->options.event_limits));
  if (!core_->writer) {
    return Status::FailedPrecondition("append to " + stream_id.ToString() + ": " + core_->options.path +
                                      " is open read-only");
  }
  return core_->writer->Append(stream_id, events, options);
}

Result<std::unique_ptr<EventIterator>> SqliteEventStore::ReadStream(const TypeId& stream_id,
                                                                    const ReadStreamOptions& options) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateReadStream(stream_id, options));
  std::shared_ptr<Core> core = core_;
  std::string name = stream_id.ToString();
  int64_t key = 0, tip = 0;
  {
    ESTORIA_ASSIGN_OR_RETURN(auto lease, core->readers().Acquire());
    ESTORIA_ASSIGN_OR_RETURN(std::optional<internal::StreamRow> stream, internal::FindStream(*lease, name));
    if (!stream) return Status::NotFound("stream " + name + " not found");
    key = stream->key;
    tip = stream->tip;
  }
  bool forward = options.direction == Direction::kForward;
  // The range is fixed now; later appends are not yielded.
  int64_t hi = tip;
  if (!forward && options.after_version > 0) hi = std::min(hi, options.after_version);
  int64_t cursor = forward ? options.after_version : hi + 1;  // exclusive bound of the next page
  std::string sql = "SELECT " + std::string(internal::kEventColumnsNoJoin) + " FROM estoria_events e " +
                    (forward ? "WHERE e.stream_key = ?1 AND e.stream_version > ?2 AND e.stream_version <= ?3 "
                               "ORDER BY e.stream_version LIMIT ?4"
                             : "WHERE e.stream_key = ?1 AND e.stream_version < ?2 AND e.stream_version >= ?3 "
                               "ORDER BY e.stream_version DESC LIMIT ?4");
  int64_t bound = forward ? hi : 1;
  auto fetch = [core, stream_id, key, bound, cursor, sql, decoder = internal::EventRowDecoder()](
                   int64_t limit, std::vector<Event>& page) mutable -> Status {
    ESTORIA_ASSIGN_OR_RETURN(auto lease, core->readers().Acquire());
    ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * stmt, lease->PrepareCached(sql));
    internal::ResetOnExit reset(stmt);
    ESTORIA_RETURN_IF_ERROR(stmt->BindInt64(1, key));
    ESTORIA_RETURN_IF_ERROR(stmt->BindInt64(2, cursor));
    ESTORIA_RETURN_IF_ERROR(stmt->BindInt64(3, bound));
    ESTORIA_RETURN_IF_ERROR(stmt->BindInt64(4, limit));
    for (;;) {
      ESTORIA_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      Event& e = page.emplace_back();
      ESTORIA_RETURN_IF_ERROR(decoder.Decode(*stmt, &stream_id, e));
      cursor = e.stream_version;
    }
    return Status::Ok();
  };
  return std::unique_ptr<EventIterator>(
      new backend::PagedIterator(backend::PagedIterator::FetchInto(std::move(fetch)), options.count, kStreamPageSize));
}

Result<std::unique_ptr<EventIterator>> SqliteEventStore::ReadAll(const ReadAllOptions& options) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateReadAll(options));
  std::shared_ptr<Core> core = core_;
  int64_t frontier = 0;
  {
    ESTORIA_ASSIGN_OR_RETURN(auto lease, core->readers().Acquire());
    ESTORIA_ASSIGN_OR_RETURN(frontier, internal::ReadHead(*lease));
  }
  // Without a stream type filter the streams table is not joined: the stream
  // ids come from a per-scan cache by stream_key (a seek per stream, not per
  // event).
  const bool by_key = options.stream_types.empty();
  std::string sql = by_key ? "SELECT " + std::string(internal::kEventColumnsByKey) +
                                 " FROM estoria_events e WHERE e.position > ?1 AND e.position <= ?2"
                           : "SELECT " + std::string(internal::kEventColumns) +
                                 " FROM estoria_events e CROSS JOIN estoria_streams s"
                                 " WHERE s.stream_key = e.stream_key AND e.position > ?1 AND e.position <= ?2";
  int param = 3;
  auto in_list = [&](const char* column, const std::vector<std::string>& values) {
    if (values.empty()) return;
    sql += std::string(" AND ") + column + " IN (";
    for (size_t i = 0; i < values.size(); ++i) sql += (i ? ", ?" : "?") + std::to_string(param++);
    sql += ")";
  };
  in_list("s.stream_type", options.stream_types);
  in_list("e.event_type", options.event_types);
  int limit_param = param;
  sql += " ORDER BY e.position LIMIT ?" + std::to_string(limit_param);
  std::vector<std::string> filters = options.stream_types;
  filters.insert(filters.end(), options.event_types.begin(), options.event_types.end());
  int64_t cursor = options.after_position;
  auto fetch = [core, sql, filters, frontier, cursor, limit_param, by_key, decoder = internal::EventRowDecoder(),
                streams = internal::StreamIdCache()](int64_t limit, std::vector<Event>& page) mutable -> Status {
    if (cursor >= frontier) return Status::Ok();
    ESTORIA_ASSIGN_OR_RETURN(auto lease, core->readers().Acquire());
    ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * stmt, lease->PrepareCached(sql));
    internal::ResetOnExit reset(stmt);
    ESTORIA_RETURN_IF_ERROR(stmt->BindInt64(1, cursor));
    ESTORIA_RETURN_IF_ERROR(stmt->BindInt64(2, frontier));
    for (size_t i = 0; i < filters.size(); ++i) {
      ESTORIA_RETURN_IF_ERROR(stmt->BindText(static_cast<int>(i) + 3, filters[i]));
    }
    ESTORIA_RETURN_IF_ERROR(stmt->BindInt64(limit_param, limit));
    for (;;) {
      ESTORIA_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      const TypeId* stream = nullptr;
      if (by_key) {
        ESTORIA_ASSIGN_OR_RETURN(stream, streams.Get(*lease, stmt->ColumnInt64(1)));
      }
      Event& e = page.emplace_back();
      ESTORIA_RETURN_IF_ERROR(decoder.Decode(*stmt, stream, e));
      cursor = e.global_position;
    }
    return Status::Ok();
  };
  return std::unique_ptr<EventIterator>(
      new backend::PagedIterator(backend::PagedIterator::FetchInto(std::move(fetch)), options.count, kAllPageSize));
}

Result<int64_t> SqliteEventStore::HeadPosition() {
  ESTORIA_ASSIGN_OR_RETURN(auto lease, core_->readers().Acquire());
  return internal::ReadHead(*lease);
}

}  // namespace estoria::sqlite
