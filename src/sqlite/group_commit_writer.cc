// GroupCommitWriter: how SqliteEventStore writes.
//
// Single writer. All appends of a process go through one write connection (a
// pool of exactly one). Across processes, SQLite's write lock (BEGIN
// IMMEDIATE, waiting up to busy_timeout, then Unavailable) serialises the
// writers of different processes.
//
// Group commit (leader/follower). An appending thread enqueues its request and
// then either waits, or - when no batch is running - becomes the leader: it
// takes every queued request (up to max_batch), runs them all in one
// BEGIN IMMEDIATE ... COMMIT transaction (one WAL fsync with synchronous=FULL),
// publishes the outcomes and wakes the followers; a follower whose request is
// still queued becomes the next leader. While one batch is syncing, the next
// one accumulates, so N concurrent appenders pay far fewer than N flushes; a
// lone appender runs its own batch of one without any thread hand-off.
//
// Per-append outcomes. Inside the batch each append, in queue order: looks up
// caller-chosen event ids (ClassifyStoredIds: AlreadyExists / InvalidArgument),
// reads the stream's tip (CheckExpectation: Conflict), then writes its events
// and the new tip inside its own SAVEPOINT, rolled back on any error. The checks
// read the transaction's own writes, so an append sees the versions and ids
// written by earlier appends of the same batch, and a failed append never
// fails its neighbours. If the COMMIT itself fails, every append of the batch
// fails with that error (nothing was written).
//
// Global positions. The leader reads the head (the highest position ever
// assigned: max(estoria_position_floor, max(position))) inside the write
// transaction, so other processes' commits are seen, and numbers the batch's
// events head+1, head+2, ... (the INTEGER PRIMARY KEY of estoria_events).
// Positions are therefore gap-free and in commit order; a rolled-back append
// releases its numbers to the next append. Deleting events leaves gaps; the
// floor, raised to the head before any deletion, keeps positions from ever
// being reused.
//
// Cost of a commit: a one-event append writes one row of estoria_events and
// its two index entries (plus a estoria_streams row for a new stream); stream
// tips are derived from the events (see event_sql.h), not rewritten per append.
// A batch of one append skips the SAVEPOINT (the transaction is its savepoint).
#include "group_commit_writer.h"

#include <algorithm>

#include "event_rows.h"

namespace estoria::sqlite::internal {

namespace {
constexpr char kFindId[] =
    "SELECT s.stream_name, e.stream_version FROM estoria_events e JOIN estoria_streams s "
    "ON s.stream_key = e.stream_key WHERE e.event_uuid = ?";
constexpr char kNewStream[] =
    "INSERT INTO estoria_streams (stream_name, stream_type, tip_floor, tip_floor_timestamp_us) VALUES (?, ?, 0, ?)";
constexpr char kInsertEvent[] =
    "INSERT INTO estoria_events (position, stream_key, stream_version, event_uuid, event_type, timestamp_us, "
    "content_type, metadata, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kSavepoint[] = "SAVEPOINT estoria_append";
constexpr char kRelease[] = "RELEASE estoria_append";
constexpr char kRollbackTo[] = "ROLLBACK TO estoria_append";

Status RunCached(SqliteDatabase& db, const char* sql) {
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * stmt, db.PrepareCached(sql));
  return stmt->Run();
}
}  // namespace

struct GroupCommitWriter::Request {
  const TypeId* stream_id;
  std::string stream_name;
  std::span<const WritableEvent> events;
  const AppendOptions* options;
  std::vector<std::string> metadata_json;
  Result<std::vector<Event>> result{Status::Internal("append not run")};
  bool done = false;
};

GroupCommitWriter::GroupCommitWriter(ConnectionPool* pool, size_t max_batch, std::function<void(int64_t)> on_commit,
                                     std::shared_ptr<Logger> logger)
    : pool_(pool),
      max_batch_(std::max<size_t>(max_batch, 1)),
      on_commit_(std::move(on_commit)),
      logger_(logger ? std::move(logger) : NullLogger()) {}

SqliteStats GroupCommitWriter::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

Result<std::vector<Event>> GroupCommitWriter::Append(const TypeId& stream_id, std::span<const WritableEvent> events,
                                                     const AppendOptions& options) {
  Request req{&stream_id, stream_id.ToString(), events, &options, {}, Status::Internal("append not run"), false};
  req.metadata_json.reserve(events.size());
  for (const WritableEvent& e : events) {
    auto json = EncodeMetadata(e.metadata);
    if (!json) return json.error().WithContext("append to " + req.stream_name);
    req.metadata_json.push_back(std::move(*json));
  }

  std::unique_lock<std::mutex> lock(mu_);
  queue_.push_back(&req);
  while (!req.done) {
    if (leader_active_) {
      cv_.wait(lock);
      continue;
    }
    leader_active_ = true;
    std::vector<Request*> batch;
    while (!queue_.empty() && batch.size() < max_batch_) {
      batch.push_back(queue_.front());
      queue_.pop_front();
    }
    lock.unlock();
    int64_t head = 0;
    bool committed = RunBatch(batch, &head);
    if (committed && on_commit_) on_commit_(head);
    lock.lock();
    ++stats_.batches;
    if (committed) ++stats_.commits;
    stats_.max_batch = std::max<int64_t>(stats_.max_batch, static_cast<int64_t>(batch.size()));
    for (Request* r : batch) {
      if (r->result.has_value()) {
        ++stats_.appends;
        stats_.events += static_cast<int64_t>(r->result->size());
      }
      r->done = true;
    }
    leader_active_ = false;
    cv_.notify_all();
  }
  return std::move(req.result);
}

bool GroupCommitWriter::RunBatch(const std::vector<Request*>& batch, int64_t* head) {
  auto fail_all = [&](const Status& st) {
    logger_->Log(LogLevel::kWarning,
                 "sqlite: a batch of " + std::to_string(batch.size()) + " append(s) failed: " + st.ToString());
    for (Request* r : batch) r->result = st;
    return false;
  };
  auto lease = pool_->Acquire();
  if (!lease) return fail_all(lease.error());
  SqliteDatabase& db = **lease;
  auto tx = SqliteTransaction::Begin(db, SqliteTransaction::Mode::kImmediate);
  if (!tx) return fail_all(tx.error().WithContext("append"));
  auto start = ReadHead(db);
  if (!start) return fail_all(start.error());
  int64_t first_head = *start;
  *head = first_head;

  Timestamp ts = std::max(Now(), last_ts_);
  bool any_ok = false;
  for (Request* r : batch) {
    r->result = ApplyOne(db, *r, head, ts, /*savepoint=*/batch.size() > 1);
    any_ok = any_ok || r->result.has_value();
    if (!r->result.has_value() && !db.InTransaction()) {
      // SQLite rolled the whole transaction back (I/O error, disk full, ...):
      // nothing of the batch is written, and nothing more may run outside it.
      return fail_all(r->result.error().WithContext("batch rolled back"));
    }
  }
  if (!any_ok) {
    (void)tx->Rollback();
    return false;
  }
  Status st = tx->Commit();
  if (!st.ok()) {
    logger_->Log(LogLevel::kWarning, "sqlite: commit of a batch of " + std::to_string(batch.size()) +
                                         " append(s) failed: " + st.ToString());
    for (Request* r : batch) {
      if (r->result.has_value()) r->result = st.WithContext("append to " + r->stream_name + ": commit");
    }
    return false;
  }
  last_ts_ = ts;
  return true;
}

Result<std::vector<Event>> GroupCommitWriter::ApplyOne(SqliteDatabase& db, Request& r, int64_t* head, Timestamp ts,
                                                       bool savepoint) {
  // Idempotency: where are caller-chosen ids already stored?
  std::vector<std::optional<StoredEventLocation>> stored(r.events.size());
  bool any_id = false;
  for (size_t i = 0; i < r.events.size(); ++i) {
    if (!r.events[i].id) continue;
    any_id = true;
    ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * find, db.PrepareCached(kFindId));
    ResetOnExit reset(find);
    ESTORIA_RETURN_IF_ERROR(find->BindBlob(1, UuidBytes(*r.events[i].id)));
    ESTORIA_ASSIGN_OR_RETURN(bool row, find->Step());
    if (row) {
      auto sid = TypeId::Parse(find->ColumnTextView(0));
      if (!sid) return Status::Corruption("stored stream id is invalid in " + db.path());
      stored[i] = StoredEventLocation{*sid, find->ColumnInt64(1)};
    }
  }
  if (any_id) ESTORIA_RETURN_IF_ERROR(ClassifyStoredIds(*r.stream_id, r.events, *r.options, stored));

  int64_t saved_head = *head;
  if (!savepoint) {
    auto out = InsertAppend(db, r, head, ts);
    if (!out) *head = saved_head;  // the caller rolls the transaction back
    return out;
  }
  ESTORIA_RETURN_IF_ERROR(RunCached(db, kSavepoint));
  auto out = InsertAppend(db, r, head, ts);
  if (!out) {
    *head = saved_head;
    if (!db.InTransaction()) return out;  // SQLite already rolled everything back
    Status rb = RunCached(db, kRollbackTo);
    if (rb.ok()) rb = RunCached(db, kRelease);
    if (!rb.ok()) return rb.WithContext("roll back a failed append (" + out.error().ToString() + ")");
    return out;
  }
  ESTORIA_RETURN_IF_ERROR(RunCached(db, kRelease));
  return out;
}

Result<std::vector<Event>> GroupCommitWriter::InsertAppend(SqliteDatabase& db, Request& r, int64_t* head,
                                                           Timestamp ts) {
  ESTORIA_ASSIGN_OR_RETURN(std::optional<StreamRow> stream, FindStream(db, r.stream_name));
  bool exists = stream.has_value();
  int64_t key = exists ? stream->key : 0;
  int64_t version = exists ? stream->tip : 0;
  ESTORIA_RETURN_IF_ERROR(CheckExpectation(*r.stream_id, *r.options, exists, version));

  int64_t ts_us = ts.time_since_epoch().count();
  if (!exists) {
    ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * add, db.PrepareCached(kNewStream));
    ESTORIA_RETURN_IF_ERROR(add->BindText(1, r.stream_name));
    ESTORIA_RETURN_IF_ERROR(add->BindText(2, r.stream_id->type()));
    ESTORIA_RETURN_IF_ERROR(add->BindInt64(3, ts_us));
    ESTORIA_RETURN_IF_ERROR(add->Run());
    key = db.LastInsertRowId();
  }
  std::vector<Event> out;
  out.reserve(r.events.size());
  ESTORIA_ASSIGN_OR_RETURN(SqliteStatement * ins, db.PrepareCached(kInsertEvent));
  for (size_t i = 0; i < r.events.size(); ++i) {
    const WritableEvent& w = r.events[i];
    Event e;
    e.id = TypeId(w.type, w.id.value_or(Uuid::NewV7()));
    e.stream_id = *r.stream_id;
    e.stream_version = ++version;
    e.global_position = ++*head;
    e.timestamp = ts;
    e.content_type = w.content_type;
    e.data = w.data;
    e.metadata = w.metadata;
    ins->Reset();
    ESTORIA_RETURN_IF_ERROR(ins->BindInt64(1, e.global_position));
    ESTORIA_RETURN_IF_ERROR(ins->BindInt64(2, key));
    ESTORIA_RETURN_IF_ERROR(ins->BindInt64(3, e.stream_version));
    ESTORIA_RETURN_IF_ERROR(ins->BindBlob(4, UuidBytes(e.id.uuid())));
    ESTORIA_RETURN_IF_ERROR(ins->BindText(5, w.type));
    ESTORIA_RETURN_IF_ERROR(ins->BindInt64(6, ts_us));
    ESTORIA_RETURN_IF_ERROR(ins->BindText(7, w.content_type));
    if (r.metadata_json[i].empty()) {
      ESTORIA_RETURN_IF_ERROR(ins->BindNull(8));
    } else {
      ESTORIA_RETURN_IF_ERROR(ins->BindText(8, r.metadata_json[i]));
    }
    ESTORIA_RETURN_IF_ERROR(ins->BindBlob(9, w.data));
    ESTORIA_RETURN_IF_ERROR(ins->Run());
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace estoria::sqlite::internal
