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
// publishes the outcomes and wakes the followers; the thread of the first
// request still queued is woken to lead the next batch. While one batch is
// syncing, the next one accumulates, so N concurrent appenders pay far fewer
// than N flushes; a lone appender runs its own batch of one without any thread
// hand-off. Each request has its own mutex and condition variable, so a leader
// wakes exactly the threads it finished (and the next leader), which then do
// not contend for the queue's mutex.
//
// Followers spin before they sleep. When the last batch held at least three
// appends, a waiting thread first yields the CPU in a loop for up to twice the
// last batch's duration (capped at 1 ms), checking its request's state, and
// only then sleeps on its condition variable; a follower that sees its outcome
// while spinning needs no futex wake-up (see estoria/backend/group_commit.h for
// the measurements and bounds). With two appenders (one follower per batch)
// spinning measured 10-20 % slower than sleeping, hence the threshold.
//
// Gathering. Left alone, N appenders that loop settle into alternating half
// batches (one half appends while the other half's batch syncs). So when the
// last batch held k > 1 appends, the next batch starts once k requests are
// queued, or at the latest twice as long as the last batch took after it
// (capped at 1 ms; twice measured better than once, bench/RESULTS.md):
// concurrent appenders then share one flush, and a lone appender never waits.
// The arrival that completes the gathering leads the batch itself.
//
// Per-append outcomes. Inside the batch each append, in queue order: looks up
// caller-chosen event ids (backend::ClassifyStoredIds: AlreadyExists / InvalidArgument),
// finds the stream's tip (backend::CheckExpectation: Conflict), then writes its rows.
// The checks see the transaction's own writes, so an append sees the versions
// and ids written by earlier appends of the same batch, and a failed append
// never fails its neighbours: an append that writes several rows (a new
// stream, several events) does so inside its own SAVEPOINT, rolled back on any
// error; one that writes a single row needs none, since a failed statement
// undoes itself. If the COMMIT itself fails, every append of the batch fails
// with that error (nothing was written). A batch of one append never uses a
// savepoint (the transaction is its savepoint).
//
// Known state. The writer remembers the head and the key and tip of the
// streams it wrote, so that a steady append runs no query before its INSERT.
// What it remembers is valid while the database's data version
// (SQLITE_FCNTL_DATA_VERSION, read inside the write lock at the start of each
// batch) equals the one recorded after this writer's last commit: a commit by
// another process, or a delete or import through the same connection, changes
// it, and the writer then forgets everything and reads the head again (stream
// tips are read as streams are met). A failed batch forgets too.
//
// Global positions. The leader takes the head (the highest position ever
// assigned: max(estoria_position_floor, max(position)), read inside the write
// transaction unless known as above, so other processes' commits are seen) and
// numbers the batch's events head+1, head+2, ... (the INTEGER PRIMARY KEY of
// estoria_events). Positions are therefore gap-free and in commit order; a
// rolled-back append releases its numbers to the next append. Deleting events
// leaves gaps; the floor, raised to the head before any deletion, keeps
// positions from ever being reused.
//
// Cost of a commit: a one-event append writes one row of estoria_events and
// its two index entries (plus a estoria_streams row for a new stream); stream
// tips are derived from the events (see event_sql.h), not rewritten per append.
// Each B-tree page a commit touches is one WAL frame, so a one-event commit
// writes three frames (the table, the two indexes).
#include "group_commit_writer.h"

#include <algorithm>

#include "estoria/backend/validation.h"
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
  const TypeId* stream_id = nullptr;
  std::string stream_name;
  std::span<const WritableEvent> events;
  const AppendOptions* options = nullptr;
  std::vector<std::string> metadata_json;
  Result<std::vector<Event>> result{Status::Internal("append not run")};
  // Set under `mu` (and signalled on `wake`) by a leader: kDone when the
  // request has run, kLead when its thread should lead the next batch.
  enum State { kWaiting, kLead, kDone };
  // Atomic so that a follower can spin on it (backend::FollowerSpin) before sleeping.
  std::atomic<State> state{kWaiting};
  std::mutex mu;
  std::condition_variable wake;
  int64_t stream_key = 0;  // set by a successful InsertAppend, with the new tip
  int64_t tip = 0;
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
  Request req;
  req.stream_id = &stream_id;
  req.stream_name = stream_id.ToString();
  req.events = events;
  req.options = &options;
  req.metadata_json.reserve(events.size());
  for (const WritableEvent& e : events) {
    auto json = MetadataColumn(e.metadata);
    if (!json) return json.error().WithContext("append to " + req.stream_name);
    req.metadata_json.push_back(std::move(*json));
  }

  std::unique_lock<std::mutex> lock(mu_);
  queue_.push_back(&req);
  for (;;) {
    // Lead when no batch runs and the gathering is over: as many requests are
    // queued as the last batch held, or its deadline passed. The arrival that
    // completes a gathering thus leads at once, without waking anyone.
    if (!leader_active_ && !queue_.empty() && gather_.Ready(queue_.size(), std::chrono::steady_clock::now())) {
      if (Lead(lock, &req)) return std::move(req.result);
      continue;  // this thread's request did not fit in the batch (max_batch)
    }
    // Follow: sleep on this request's own mutex and condition variable until a
    // leader finished it or asks it to look again. The first queued request
    // of a gathering sleeps only until the gathering's deadline.
    bool timed = !leader_active_ && queue_.front() == &req;
    auto deadline = gather_.deadline();
    auto budget = gather_.spin_budget();
    if (timed) {
      budget = std::min(
          budget, std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now()));
    }
    lock.unlock();
    // Spin first (see estoria/backend/group_commit.h): the outcome usually arrives within a
    // batch time or two, and then no wake-up is needed.
    spin_.Spin([&] { return req.state.load(std::memory_order_acquire) != Request::kWaiting; }, budget);
    {
      std::unique_lock<std::mutex> own(req.mu);
      auto woken = [&] { return req.state != Request::kWaiting; };
      if (timed) {
        req.wake.wait_until(own, deadline, woken);
      } else {
        req.wake.wait(own, woken);
      }
      if (req.state == Request::kDone) return std::move(req.result);
      req.state = Request::kWaiting;
    }
    lock.lock();
  }
}

bool GroupCommitWriter::Lead(std::unique_lock<std::mutex>& lock, Request* self) {
  leader_active_ = true;
  std::vector<Request*> batch;
  while (!queue_.empty() && batch.size() < max_batch_) {
    batch.push_back(queue_.front());
    queue_.pop_front();
  }
  lock.unlock();

  auto started = std::chrono::steady_clock::now();
  int64_t head = 0;
  bool committed = RunBatch(batch, &head);
  auto took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
  if (committed && on_commit_) on_commit_(head);

  lock.lock();
  // Gathering: when this batch held k > 1 appends, their threads are about to
  // append again; the next batch starts once k requests are queued, or after
  // twice as long as this batch took (capped), so that concurrent appenders
  // share one commit instead of splitting into alternating smaller batches.
  gather_.BatchDone(batch.size(), took, std::chrono::steady_clock::now());
  ++stats_.batches;
  if (committed) ++stats_.commits;
  stats_.max_batch = std::max<int64_t>(stats_.max_batch, static_cast<int64_t>(batch.size()));
  for (Request* r : batch) {
    if (r->result.has_value()) {
      ++stats_.appends;
      stats_.events += static_cast<int64_t>(r->result->size());
    }
  }
  leader_active_ = false;
  // The thread of the first queued request (only it: no thundering herd)
  // looks again: it leads the next batch, or waits for the gathering's
  // deadline. Signalled under mu_, while that request is still queued and so
  // still alive.
  if (!queue_.empty() && queue_.front() != self) {
    Request* next = queue_.front();
    std::lock_guard<std::mutex> own(next->mu);
    if (next->state == Request::kWaiting) next->state = Request::kLead;
    next->wake.notify_one();
  }
  lock.unlock();
  // The batch's requests belong to this leader until marked done; each
  // follower returns (and destroys its request) only after taking its own
  // mutex, so nothing here touches a dead request.
  bool mine = false;
  for (Request* r : batch) {
    if (r == self) {
      mine = true;
      continue;
    }
    std::lock_guard<std::mutex> own(r->mu);
    r->state = Request::kDone;
    r->wake.notify_one();
  }
  if (!mine) lock.lock();
  return mine;
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
  // The head and stream tips known from this writer's last commit hold while
  // nobody else wrote since (the data version is read inside the write lock).
  uint32_t data_version = db.DataVersion();
  if (!known_.valid || data_version == 0 || data_version != known_.data_version) {
    known_.Forget();
    auto start = ReadHead(db);
    if (!start) return fail_all(start.error());
    known_.head = *start;
  }
  *head = known_.head;
  auto fail_all_forget = [&](const Status& st) {
    known_.Forget();
    return fail_all(st);
  };

  Timestamp ts = std::max(Now(), last_ts_);
  bool any_ok = false;
  for (Request* r : batch) {
    r->result = ApplyOne(db, *r, head, ts, /*savepoint=*/batch.size() > 1);
    any_ok = any_ok || r->result.has_value();
    if (r->result.has_value() && r->stream_key > 0) Learn(r->stream_name, r->stream_key, r->tip);
    if (!r->result.has_value() && !db.InTransaction()) {
      // SQLite rolled the whole transaction back (I/O error, disk full, ...):
      // nothing of the batch is written, and nothing more may run outside it.
      return fail_all_forget(r->result.error().WithContext("batch rolled back"));
    }
  }
  if (!any_ok) {
    // Nothing was written and no stream tip was learnt from a write; keep what
    // is known only if the rollback worked.
    if (!tx->Rollback().ok()) known_.Forget();
    return false;
  }
  Status st = tx->Commit();
  if (!st.ok()) {
    known_.Forget();
    logger_->Log(LogLevel::kWarning, "sqlite: commit of a batch of " + std::to_string(batch.size()) +
                                         " append(s) failed: " + st.ToString());
    for (Request* r : batch) {
      if (r->result.has_value()) r->result = st.WithContext("append to " + r->stream_name + ": commit");
    }
    return false;
  }
  last_ts_ = ts;
  known_.head = *head;
  known_.data_version = db.DataVersion();
  known_.valid = true;
  return true;
}

Result<std::vector<Event>> GroupCommitWriter::ApplyOne(SqliteDatabase& db, Request& r, int64_t* head, Timestamp ts,
                                                       bool savepoint) {
  // Idempotency: where are caller-chosen ids already stored?
  std::vector<std::optional<backend::StoredEventLocation>> stored(r.events.size());
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
      stored[i] = backend::StoredEventLocation{*sid, find->ColumnInt64(1)};
    }
  }
  if (any_id) ESTORIA_RETURN_IF_ERROR(backend::ClassifyStoredIds(*r.stream_id, r.events, *r.options, stored));

  // The stream's key and tip: known from an earlier commit of this writer, or
  // read (both see the writes of earlier appends in this transaction).
  bool exists = false;
  int64_t key = 0, version = 0;
  if (auto known = known_.streams.find(r.stream_name); known != known_.streams.end()) {
    exists = true;
    key = known->second.key;
    version = known->second.tip;
  } else {
    ESTORIA_ASSIGN_OR_RETURN(std::optional<StreamRow> stream, FindStream(db, r.stream_name));
    exists = stream.has_value();
    key = exists ? stream->key : 0;
    version = exists ? stream->tip : 0;
  }
  ESTORIA_RETURN_IF_ERROR(backend::CheckExpectation(*r.stream_id, *r.options, exists, version));

  // A failed statement undoes itself, so an append that writes one row (one
  // event to an existing stream) needs no savepoint; one that writes several
  // rows does, when it shares the transaction with other appends.
  int64_t saved_head = *head;
  bool use_savepoint = savepoint && (!exists || r.events.size() > 1);
  if (!use_savepoint) {
    auto out = InsertAppend(db, r, exists, key, version, head, ts);
    if (!out) *head = saved_head;  // with several rows: the caller rolls the transaction back
    return out;
  }
  ESTORIA_RETURN_IF_ERROR(RunCached(db, kSavepoint));
  auto out = InsertAppend(db, r, exists, key, version, head, ts);
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

Result<std::vector<Event>> GroupCommitWriter::InsertAppend(SqliteDatabase& db, Request& r, bool exists, int64_t key,
                                                           int64_t version, int64_t* head, Timestamp ts) {
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
  r.stream_key = key;
  r.tip = version;
  return out;
}

void GroupCommitWriter::Learn(const std::string& stream_name, int64_t key, int64_t tip) {
  if (known_.streams.size() >= kMaxKnownStreams && !known_.streams.contains(stream_name)) known_.streams.clear();
  known_.streams[stream_name] = StreamTip{key, tip};
}

}  // namespace estoria::sqlite::internal
