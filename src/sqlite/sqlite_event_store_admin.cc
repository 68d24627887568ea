// SqliteEventStore: DeleteStream, ListStreams and WaitForAppend.
#include "estoria/sqlite/sqlite_event_store.h"
#include "event_rows.h"
#include "store_core.h"

namespace estoria::sqlite {

Status SqliteEventStore::DeleteStream(const TypeId& stream_id, const DeleteStreamOptions& options) {
  Status valid = TypeId::ValidateTypeName(stream_id.type());
  if (!valid.ok()) return valid.WithContext("invalid stream id");
  if (options.to_version.has_value() && *options.to_version < 0) {
    return Status::InvalidArgument("DeleteStream: negative to_version");
  }
  std::string name = stream_id.ToString();
  if (!core_->write_pool) {
    return Status::FailedPrecondition("delete " + name + ": " + core_->options.path + " is open read-only");
  }
  // The write connection: deletions are ordered with the group-commit batches.
  ESTORIA_ASSIGN_OR_RETURN(auto lease, core_->write_pool->Acquire());
  SqliteDatabase& db = *lease;
  ESTORIA_ASSIGN_OR_RETURN(SqliteTransaction tx, SqliteTransaction::Begin(db, SqliteTransaction::Mode::kImmediate));
  int64_t key = 0;
  {
    ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * find,
                             db.PrepareCached("SELECT stream_key FROM estoria_streams WHERE stream_name = ?"));
    internal::ResetOnExit reset(find);
    ESTORIA_RETURN_IF_ERROR(find->BindText(1, name));
    ESTORIA_ASSIGN_OR_RETURN(bool row, find->Step());
    if (!row) return Status::NotFound("stream " + name + " not found");
    key = find->ColumnInt64(0);
  }
  if (options.to_version.has_value()) {
    ESTORIA_ASSIGN_OR_RETURN(
        SqliteStatement * del,
        db.PrepareCached("DELETE FROM estoria_events WHERE stream_key = ? AND stream_version <= ?"));
    ESTORIA_RETURN_IF_ERROR(del->BindInt64(1, key));
    ESTORIA_RETURN_IF_ERROR(del->BindInt64(2, *options.to_version));
    ESTORIA_RETURN_IF_ERROR(del->Run());
  } else {
    ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * del,
                             db.PrepareCached("DELETE FROM estoria_events WHERE stream_key = ?"));
    ESTORIA_RETURN_IF_ERROR(del->BindInt64(1, key));
    ESTORIA_RETURN_IF_ERROR(del->Run());
    ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * drop,
                             db.PrepareCached("DELETE FROM estoria_streams WHERE stream_key = ?"));
    ESTORIA_RETURN_IF_ERROR(drop->BindInt64(1, key));
    ESTORIA_RETURN_IF_ERROR(drop->Run());
  }
  return tx.Commit();
}

Result<std::vector<StreamInfo>> SqliteEventStore::ListStreams(const ListStreamsOptions& options) {
  if (options.limit < 0) return Status::InvalidArgument("ListStreams: negative limit");
  std::string sql = "SELECT stream_name, version, last_timestamp_us FROM estoria_streams WHERE stream_name > ?1";
  if (!options.stream_type.empty()) sql += " AND stream_type = ?3";
  sql += " ORDER BY stream_name LIMIT ?2";
  ESTORIA_ASSIGN_OR_RETURN(auto lease, core_->readers().Acquire());
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * stmt, lease->PrepareCached(sql));
  internal::ResetOnExit reset(stmt);
  ESTORIA_RETURN_IF_ERROR(stmt->BindText(1, options.after));
  ESTORIA_RETURN_IF_ERROR(stmt->BindInt64(2, options.limit > 0 ? options.limit : -1));
  if (!options.stream_type.empty()) ESTORIA_RETURN_IF_ERROR(stmt->BindText(3, options.stream_type));
  std::vector<StreamInfo> out;
  for (;;) {
    ESTORIA_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    auto id = TypeId::Parse(stmt->ColumnTextView(0));
    if (!id) return Status::Corruption("stored stream id is invalid: " + id.error().message());
    out.push_back(
        StreamInfo{std::move(*id), stmt->ColumnInt64(1), Timestamp(std::chrono::microseconds(stmt->ColumnInt64(2)))});
  }
  return out;
}

Result<int64_t> SqliteEventStore::WaitForAppend(int64_t after_position, std::chrono::milliseconds timeout) {
  ESTORIA_ASSIGN_OR_RETURN(int64_t head, HeadPosition());
  if (head > after_position) return head;
  {
    std::unique_lock<std::mutex> lock(core_->watch_mu);
    core_->watch_cv.wait_for(lock, timeout, [&] { return core_->known_head > after_position; });
  }
  // Re-read: also reports appends made by other processes meanwhile.
  return HeadPosition();
}

}  // namespace estoria::sqlite
