// SqliteEventStore::ImportEvents: writes already-stored events verbatim in one
// transaction on the write connection (ordered with the group-commit batches).
#include <map>

#include "estoria/backend/import.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "event_rows.h"
#include "event_sql.h"
#include "store_core.h"

namespace estoria::sqlite {

Result<std::vector<int64_t>> SqliteEventStore::ImportEvents(std::span<const Event> events,
                                                            const ImportOptions& options) {
  if (!core_->write_pool) {
    return Status::FailedPrecondition("ImportEvents: " + core_->options.path + " is open read-only");
  }
  std::vector<std::string> metadata;
  metadata.reserve(events.size());
  ESTORIA_RETURN_IF_ERROR(backend::ValidateImportEvents(events, core_->options.event_limits));
  for (const Event& e : events) {
    ESTORIA_ASSIGN_OR_RETURN(std::string json, internal::MetadataColumn(e.metadata));
    metadata.push_back(std::move(json));
  }
  std::vector<int64_t> positions;
  if (events.empty()) return positions;
  positions.reserve(events.size());
  int64_t head = 0;
  {
    ESTORIA_ASSIGN_OR_RETURN(auto lease, core_->write_pool->Acquire());
    SqliteDatabase& db = *lease;
    ESTORIA_ASSIGN_OR_RETURN(SqliteTransaction tx, SqliteTransaction::Begin(db, SqliteTransaction::Mode::kImmediate));
    ESTORIA_ASSIGN_OR_RETURN(head, internal::ReadHead(db));
    // Validate and plan the whole batch inside the transaction: all or none.
    backend::ImportTarget target;
    target.head = head;
    std::map<std::string, int64_t> keys;  // stream name -> stream_key, found while planning or inserted below
    target.stream_tip = [&](const std::string& name) -> Result<std::optional<int64_t>> {
      ESTORIA_ASSIGN_OR_RETURN(std::optional<internal::StreamRow> stream, internal::FindStream(db, name));
      if (!stream) return std::optional<int64_t>();
      keys.emplace(name, stream->key);
      return std::optional<int64_t>(stream->tip);
    };
    target.id_stored = [&](const Uuid& id) -> Result<bool> {
      ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * find,
                               db.PrepareCached("SELECT 1 FROM estoria_events WHERE event_uuid = ?"));
      internal::ResetOnExit reset(find);
      ESTORIA_RETURN_IF_ERROR(find->BindBlob(1, internal::UuidBytes(id)));
      return find->Step();
    };
    ESTORIA_ASSIGN_OR_RETURN(backend::ImportPlan plan, backend::PlanImport(events, options, target));
    for (size_t i = 0; i < events.size(); ++i) {
      const Event& e = events[i];
      std::string name = e.stream_id.ToString();
      auto key = keys.find(name);
      if (key == keys.end()) {  // a stream new to this file (plan.new_stream[i])
        ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * add,
                                 db.PrepareCached("INSERT INTO estoria_streams (stream_name, stream_type, tip_floor, "
                                                  "tip_floor_timestamp_us) VALUES (?, ?, ?, ?)"));
        ESTORIA_RETURN_IF_ERROR(add->BindText(1, name));
        ESTORIA_RETURN_IF_ERROR(add->BindText(2, e.stream_id.type()));
        ESTORIA_RETURN_IF_ERROR(add->BindInt64(3, e.stream_version - 1));
        ESTORIA_RETURN_IF_ERROR(add->BindInt64(4, e.timestamp.time_since_epoch().count()));
        ESTORIA_RETURN_IF_ERROR(add->Run());
        key = keys.emplace(name, db.LastInsertRowId()).first;
      }
      head = plan.positions[i];
      ESTORIA_ASSIGN_OR_RETURN(
          SqliteStatement * ins,
          db.PrepareCached("INSERT INTO estoria_events (position, stream_key, stream_version, event_uuid, event_type, "
                           "timestamp_us, content_type, metadata, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
      ESTORIA_RETURN_IF_ERROR(ins->BindInt64(1, head));
      ESTORIA_RETURN_IF_ERROR(ins->BindInt64(2, key->second));
      ESTORIA_RETURN_IF_ERROR(ins->BindInt64(3, e.stream_version));
      ESTORIA_RETURN_IF_ERROR(ins->BindBlob(4, internal::UuidBytes(e.id.uuid())));
      ESTORIA_RETURN_IF_ERROR(ins->BindText(5, e.type()));
      ESTORIA_RETURN_IF_ERROR(ins->BindInt64(6, e.timestamp.time_since_epoch().count()));
      ESTORIA_RETURN_IF_ERROR(ins->BindText(7, e.content_type));
      ESTORIA_RETURN_IF_ERROR(metadata[i].empty() ? ins->BindNull(8) : ins->BindText(8, metadata[i]));
      ESTORIA_RETURN_IF_ERROR(ins->BindBlob(9, e.data));
      ESTORIA_RETURN_IF_ERROR(ins->Run());
      positions.push_back(head);
    }
    ESTORIA_RETURN_IF_ERROR(tx.Commit());
  }
  core_->OnCommit(head);
  return positions;
}

}  // namespace estoria::sqlite
