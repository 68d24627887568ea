// SqliteEventStore: DeleteStream, ListStreams and WaitForAppend.
#include "estoria/sqlite/sqlite_event_store.h"
#include "event_rows.h"
#include "event_sql.h"
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
  ESTORIA_ASSIGN_OR_RETURN(std::optional<internal::StreamRow> stream, internal::FindStream(db, name));
  if (!stream) return Status::NotFound("stream " + name + " not found");
  // Raise the position floor to the head first: deleted positions are never
  // reused, even when the deleted events were the newest.
  ESTORIA_ASSIGN_OR_RETURN(int64_t head, internal::ReadHead(db));
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * floor,
                           db.PrepareCached("UPDATE estoria_position_floor SET position = ? WHERE id = 1"));
  ESTORIA_RETURN_IF_ERROR(floor->BindInt64(1, head));
  ESTORIA_RETURN_IF_ERROR(floor->Run());
  if (options.to_version.has_value()) {
    // Truncation keeps the tip (and last timestamp) in the stream row.
    ESTORIA_ASSIGN_OR_RETURN(
        SqliteStatement * keep,
        db.PrepareCached("UPDATE estoria_streams SET tip_floor = ?, tip_floor_timestamp_us = ? WHERE stream_key = ?"));
    ESTORIA_RETURN_IF_ERROR(keep->BindInt64(1, stream->tip));
    ESTORIA_RETURN_IF_ERROR(keep->BindInt64(2, stream->last.time_since_epoch().count()));
    ESTORIA_RETURN_IF_ERROR(keep->BindInt64(3, stream->key));
    ESTORIA_RETURN_IF_ERROR(keep->Run());
    ESTORIA_ASSIGN_OR_RETURN(
        SqliteStatement * del,
        db.PrepareCached("DELETE FROM estoria_events WHERE stream_key = ? AND stream_version <= ?"));
    ESTORIA_RETURN_IF_ERROR(del->BindInt64(1, stream->key));
    ESTORIA_RETURN_IF_ERROR(del->BindInt64(2, *options.to_version));
    ESTORIA_RETURN_IF_ERROR(del->Run());
  } else {
    ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * del,
                             db.PrepareCached("DELETE FROM estoria_events WHERE stream_key = ?"));
    ESTORIA_RETURN_IF_ERROR(del->BindInt64(1, stream->key));
    ESTORIA_RETURN_IF_ERROR(del->Run());
    ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * drop,
                             db.PrepareCached("DELETE FROM estoria_streams WHERE stream_key = ?"));
    ESTORIA_RETURN_IF_ERROR(drop->BindInt64(1, stream->key));
    ESTORIA_RETURN_IF_ERROR(drop->Run());
  }
  return tx.Commit();
}

Result<std::vector<StreamInfo>> SqliteEventStore::ListStreams(const ListStreamsOptions& options) {
  if (options.limit < 0) return Status::InvalidArgument("ListStreams: negative limit");
  std::string sql =
      std::string("SELECT ") + internal::kStreamColumns + " FROM estoria_streams s WHERE s.stream_name > ?1";
  if (!options.stream_type.empty()) sql += " AND s.stream_type = ?3";
  sql += " ORDER BY s.stream_name LIMIT ?2";
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
    internal::StreamRow stream = internal::DecodeStreamRow(*stmt);
    auto id = TypeId::Parse(stream.name);
    if (!id) return Status::Corruption("stored stream id is invalid: " + id.error().message());
    out.push_back(StreamInfo{std::move(*id), stream.tip, stream.last});
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
