// AppendWriter: group commit with commit-ordered, gap-free global positions.
//
// Mechanism. Each store object has one writer thread with its own connection.
// Appends submitted concurrently are queued; the writer takes everything queued
// (up to max_batch_appends) and runs ONE short transaction for the batch, in
// two pipelined round trips:
//   1. BEGIN; set synchronous_commit for this transaction (strict: on,
//      relaxed: off); pg_advisory_xact_lock(K) where K is derived from the
//      schema name; read log_head (the highest position ever assigned); read
//      the tip version of every stream in the batch; read where any
//      caller-chosen event ids are already stored.
//   2. (after deciding each append in memory) INSERT the accepted events with
//      positions head+1, head+2, ... (one statement: binary arrays unnested);
//      upsert their streams' rows (one statement); UPDATE log_head;
//      pg_notify(channel, new head); COMMIT.
// Each append keeps its own outcome: the writer checks, in batch order, the
// idempotency ids (ClassifyStoredIds) and the expectation (CheckExpectation)
// against the versions read under the lock plus the effect of the earlier
// appends of the same batch. A refused append (Conflict, AlreadyExists,
// InvalidArgument) is simply left out of the inserts, so it never fails its
// neighbours, and a later append of the batch sees the versions written by an
// earlier one. If the transaction fails for another reason, the batch is
// retried one append per transaction, so one bad append cannot fail others.
//
// Why positions follow commit order, across all processes: every transaction
// that assigns positions (and DeleteStream) first takes the same
// transaction-scoped advisory lock K, and PostgreSQL releases it only after the
// transaction's commit is complete and visible to new snapshots. Transaction
// T2 can therefore only read log_head after T1 (which took the lock before it)
// has committed or rolled back; T2's positions are all greater than T1's and
// T2 becomes visible after T1. log_head is updated in the same transaction, so
// a rolled-back batch leaves no gap and deleted events never free a position
// for reuse. The lock is held for two round trips plus the commit flush, and
// that cost is shared by every append of the batch.
//
// Why a reader resuming after P never misses a later commit: ReadAll fixes
// its frontier F by reading log_head, which only ever shows committed heads.
// Every position <= F belongs to a transaction that committed no later than
// the one that set log_head to F, so all of them are visible to every
// snapshot taken after F was read; positions > F are excluded by the query.
// Hence once a reader has seen position P, every position <= P that will ever
// exist is already visible: no later commit can land at or below P.
//
// Commit outcome: if the connection breaks while COMMIT may have been sent,
// the writer reconnects and looks up the batch's first event id (ids are
// assigned client-side) to learn whether the batch committed.
#include "append_writer.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "event_codec.h"

namespace estoria::postgres_internal {

using postgres::PgConnection;
using postgres::PgParams;
using postgres::PgPipeline;
using postgres::PgResult;

AppendWriter::AppendWriter(postgres::PgConnectOptions conn_options, const Statements* statements,
                           const PostgresOptions& options, AppendNotifier* notifier)
    : conn_options_(std::move(conn_options)),
      statements_(statements),
      strict_(options.durability == Durability::kStrict),
      max_batch_(std::max(1, options.max_batch_appends)),
      before_commit_hook_(options.before_commit_hook),
      logger_(options.logger),
      notifier_(notifier) {
  thread_ = std::thread([this] { Run(); });
}

AppendWriter::~AppendWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  queued_.notify_all();
  thread_.join();
}

WriterStats AppendWriter::stats() {
  int64_t queued;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queued = static_cast<int64_t>(queue_.size());
  }
  return WriterStats{transactions_.load(), commits_.load(), appends_.load(), events_.load(), conflicts_.load(), queued};
}

Result<std::vector<Event>> AppendWriter::Append(const TypeId& stream_id, std::span<const WritableEvent> events,
                                                const AppendOptions& options) {
  Request req{&stream_id, stream_id.ToString(), events, &options, std::nullopt, false};
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return Status::Unavailable("PostgreSQL event store is closing");
    queue_.push_back(&req);
  }
  queued_.notify_one();
  std::unique_lock<std::mutex> lock(mu_);
  finished_.wait(lock, [&] { return req.done; });
  return std::move(*req.result);
}

void AppendWriter::Run() {
  for (;;) {
    std::vector<Request*> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      queued_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping
      while (!queue_.empty() && static_cast<int>(batch.size()) < max_batch_) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    Process(batch);
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (Request* r : batch) r->done = true;
    }
    finished_.notify_all();
  }
}

void AppendWriter::Process(const std::vector<Request*>& batch) {
  Status st = Attempt(batch);
  if (st.ok()) return;
  if (batch.size() > 1 && !st.IsUnavailable()) {
    // Isolate the append that broke the transaction.
    for (Request* r : batch) Process({r});
    return;
  }
  for (Request* r : batch) r->result = st;
}

Status AppendWriter::ResolveCommit(const Uuid& probe, const Status& cause) {
  if (!conn_ || !conn_->EnsureConnected().ok()) {
    return Status::Unavailable(cause.message() + " (connection lost during COMMIT; outcome unknown)");
  }
  auto res = conn_->ExecPrepared(statements_->event_ids_exist, PgParams().Text("{" + probe.ToString() + "}"));
  if (!res) return Status::Unavailable(cause.message() + " (connection lost during COMMIT; outcome unknown)");
  if (res->Int64(0, 0) > 0) return Status::Ok();
  return Status::Unavailable(cause.message() + " (not committed)");
}

Status AppendWriter::Attempt(const std::vector<Request*>& batch) {
  ++transactions_;
  if (!conn_) {
    ESTORIA_ASSIGN_OR_RETURN(conn_, PgConnection::Connect(conn_options_));
  } else {
    ESTORIA_RETURN_IF_ERROR(conn_->EnsureConnected());
  }
  const Statements& s = *statements_;
  // Round trip 1: lock, then read the head and the state of the batch's streams and ids.
  std::vector<std::string> keys;
  std::string ids_literal = "{";
  bool any_ids = false;
  for (Request* r : batch) {
    keys.push_back(r->stream_key);
    for (const WritableEvent& e : r->events) {
      if (!e.id) continue;
      ids_literal += (any_ids ? "," : "") + e.id->ToString();
      any_ids = true;
    }
  }
  ids_literal += "}";
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  PgPipeline read;
  read.Add(s.begin)
      .Add(s.set_sync_commit, PgParams().Text(strict_ ? "on" : "off"))
      .Add(s.lock, PgParams().Int64(s.append_lock_key))
      .Add(s.head)
      .Add(s.stream_versions, PgParams().Text(TextArray(keys)));
  if (any_ids) read.Add(s.stored_ids, PgParams().Text(ids_literal));
  auto rollback = [&] {
    if (!conn_->broken() && conn_->transaction_status() != PQTRANS_IDLE) (void)conn_->Exec("ROLLBACK");
  };
  auto first = conn_->RunPipeline(read);
  if (!first && conn_->broken()) {
    // Nothing was written yet: a connection found dead (e.g. after a server
    // restart) is replaced and the batch tried once more.
    ESTORIA_RETURN_IF_ERROR(conn_->EnsureConnected());
    first = conn_->RunPipeline(read);
  }
  if (!first) {
    rollback();
    return first.error();
  }
  std::vector<PgResult>& r1 = *first;
  int64_t head = r1[3].Int64(0, 0);
  struct StreamState {
    bool exists = false;
    int64_t version = 0;
    int64_t first_position = 0;  // only for streams created in this batch
    bool touched = false;
  };
  std::map<std::string, StreamState> streams;
  for (int i = 0; i < r1[4].rows(); ++i) streams[r1[4].String(i, 0)] = StreamState{true, r1[4].Int64(i, 1), 0, false};
  std::unordered_map<Uuid, StoredEventLocation> stored;
  if (any_ids) {
    for (int i = 0; i < r1[5].rows(); ++i) {
      auto sid = TypeId::Parse(r1[5].String(i, 1));
      if (sid) stored[r1[5].UuidAt(i, 0)] = StoredEventLocation{*sid, r1[5].Int64(i, 2)};
    }
  }

  // Decide each append in batch order.
  Timestamp ts = std::max(Now(), last_timestamp_);
  int64_t position = head;
  std::vector<std::optional<Result<std::vector<Event>>>> outcomes(batch.size());
  std::vector<const Event*> inserts;
  int64_t accepted = 0, conflicts = 0;
  Uuid probe;
  for (size_t b = 0; b < batch.size(); ++b) {
    Request& req = *batch[b];
    std::vector<std::optional<StoredEventLocation>> where(req.events.size());
    for (size_t i = 0; i < req.events.size(); ++i) {
      if (!req.events[i].id) continue;
      auto it = stored.find(*req.events[i].id);
      if (it != stored.end()) where[i] = it->second;
    }
    Status st = ClassifyStoredIds(*req.stream_id, req.events, *req.options, where);
    StreamState& stream = streams[req.stream_key];
    if (st.ok()) st = CheckExpectation(*req.stream_id, *req.options, stream.exists, stream.version);
    if (!st.ok()) {
      if (st.IsConflict()) ++conflicts;
      outcomes[b] = st;
      continue;
    }
    std::vector<Event> out;
    out.reserve(req.events.size());
    for (const WritableEvent& w : req.events) {
      Event e;
      e.id = TypeId(w.type, w.id.value_or(Uuid::NewV7()));
      e.stream_id = *req.stream_id;
      e.stream_version = ++stream.version;
      e.global_position = ++position;
      e.timestamp = ts;
      e.content_type = w.content_type;
      e.data = w.data;
      e.metadata = w.metadata;
      stored[e.id.uuid()] = StoredEventLocation{*req.stream_id, e.stream_version};
      out.push_back(std::move(e));
    }
    if (!stream.exists) stream.first_position = out.front().global_position;
    stream.exists = true;
    stream.touched = true;
    if (probe.IsNil()) probe = out.front().id.uuid();
    ++accepted;
    outcomes[b] = std::move(out);
  }

  bool hook = static_cast<bool>(before_commit_hook_);
  if (accepted > 0) {
    // Round trip 2: write, advance the head, notify, commit.
    std::vector<std::string> pos, sid, ver, eid, etype, ctype, data, meta, stype;
    for (auto& o : outcomes) {
      if (!o->has_value()) continue;
      for (const Event& e : **o) {
        pos.push_back(postgres::PgBinaryInt64(e.global_position));
        sid.push_back(e.stream_id.ToString());
        ver.push_back(postgres::PgBinaryInt64(e.stream_version));
        eid.push_back(postgres::PgBinaryUuid(e.id.uuid()));
        etype.push_back(e.id.type());
        ctype.push_back(e.content_type);
        data.push_back(e.data);
        meta.push_back(postgres::PgBinaryJsonb(EncodeMetadata(e.metadata)));
        stype.push_back(e.stream_id.type());
      }
    }
    std::vector<std::string> skey, stname, sver, sfirst;
    for (const auto& [key, st] : streams) {
      if (!st.touched) continue;
      skey.push_back(key);
      stname.push_back(key.substr(0, key.rfind('_')));
      sver.push_back(postgres::PgBinaryInt64(st.version));
      sfirst.push_back(postgres::PgBinaryInt64(st.first_position));
    }
    using postgres::kByteaArrayOid, postgres::kByteaOid, postgres::kInt8ArrayOid, postgres::kInt8Oid,
        postgres::kJsonbArrayOid, postgres::kJsonbOid, postgres::kTextArrayOid, postgres::kTextOid,
        postgres::kUuidArrayOid, postgres::kUuidOid;
    PgPipeline write;
    write.Add(s.insert_events, PgParams()
                                   .BinaryArray(kInt8Oid, kInt8ArrayOid, pos)
                                   .BinaryArray(kTextOid, kTextArrayOid, sid)
                                   .BinaryArray(kInt8Oid, kInt8ArrayOid, ver)
                                   .BinaryArray(kUuidOid, kUuidArrayOid, eid)
                                   .BinaryArray(kTextOid, kTextArrayOid, etype)
                                   .TimestampValue(ts)
                                   .BinaryArray(kTextOid, kTextArrayOid, ctype)
                                   .BinaryArray(kByteaOid, kByteaArrayOid, data)
                                   .BinaryArray(kJsonbOid, kJsonbArrayOid, meta)
                                   .BinaryArray(kTextOid, kTextArrayOid, stype));
    write.Add(s.upsert_streams, PgParams()
                                    .BinaryArray(kTextOid, kTextArrayOid, skey)
                                    .BinaryArray(kTextOid, kTextArrayOid, stname)
                                    .BinaryArray(kInt8Oid, kInt8ArrayOid, sver)
                                    .BinaryArray(kInt8Oid, kInt8ArrayOid, sfirst)
                                    .TimestampValue(ts));
    write.Add(s.set_head, PgParams().Int64(position))
        .Add(s.notify, PgParams().Text(s.notify_channel).Text(std::to_string(position)));
    if (!hook) write.Add(s.commit);
    auto second = conn_->RunPipeline(write);
    Status st = second.error();
    if (st.ok() && hook) {
      before_commit_hook_();
      st = conn_->ExecPrepared(s.commit).error();
    }
    if (!st.ok()) {
      if (!conn_->broken()) {
        rollback();
        return st;
      }
      ESTORIA_RETURN_IF_ERROR(ResolveCommit(probe, st));
    }
    last_timestamp_ = ts;
    ++commits_;
    appends_ += accepted;
    events_ += position - head;
    notifier_->Publish(position);
  } else {
    (void)conn_->ExecPrepared(s.rollback);
    rollback();
  }
  conflicts_ += conflicts;
  for (size_t b = 0; b < batch.size(); ++b) batch[b]->result = std::move(outcomes[b]);
  return Status::Ok();
}

}  // namespace estoria::postgres_internal
