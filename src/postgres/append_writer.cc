// AppendWriter: group commit with commit-ordered, gap-free global positions,
// and batches whose commits overlap their WAL flushes.
//
// Mechanism. Each store object has kWriterLanes (1; see there) writer threads
// ("lanes"), each with its own connection, pulling from one queue of appends.
// One lane at a time takes everything queued (up to max_batch_appends) as a batch. When the
// last batch held k > 1 appends, the lane first waits (at most as long as that
// batch took, capped at 2 ms) until k requests are queued: otherwise N looping
// appenders settle into alternating half batches. Each appender sleeps on its
// own condition variable and is woken when its batch is done. A batch runs in
// two pipelined round trips:
//   1. BEGIN; synchronous_commit = off for this transaction;
//      pg_advisory_xact_lock(K) where K is derived from the schema name; read
//      log_head (the highest position ever assigned); read the tip version of
//      every stream in the batch; read where any caller-chosen event ids are
//      already stored.
//   2. (after deciding each append in memory) INSERT the accepted events with
//      positions head+1, head+2, ... (one statement: binary arrays unnested);
//      upsert their streams' rows (one statement); UPDATE log_head; COMMIT.
//      Strict stores then run, in the same pipeline, the durable transaction:
//      BEGIN; synchronous_commit = on; UPDATE log_durable SET head =
//      GREATEST(head, end) on the lane's slot (backend pid % 64);
//      pg_notify(channel, end); COMMIT. Relaxed stores NOTIFY in the batch
//      transaction instead and have no durable transaction.
// Each append keeps its own outcome: the writer checks, in batch order, the
// idempotency ids (backend::ClassifyStoredIds) and the expectation
// (backend::CheckExpectation) against the versions read under the lock plus
// the effect of the earlier appends of the same batch. A refused append
// (Conflict, AlreadyExists, InvalidArgument) is simply left out of the
// inserts, so it never fails its neighbours. If the batch transaction fails
// for another reason (nothing committed), the batch is retried one append per
// transaction, so one bad append cannot fail others.
//
// Why positions follow commit order, across all processes: every transaction
// that assigns positions (appends, ImportEvents) and DeleteStream first take
// the same transaction-scoped advisory lock K, and PostgreSQL releases it only
// after the transaction's commit is complete and visible to new snapshots
// (with synchronous_commit = off too: the commit record is then written to the
// WAL buffers but not flushed, and the transaction is visible at once).
// Transaction T2 can therefore only read log_head after T1 (which took the
// lock before it) has committed or rolled back; T2's positions are all greater
// than T1's, T2 becomes visible after T1, and T2's commit record follows T1's
// in the WAL. log_head is updated in the same transaction, so a rolled-back
// batch leaves no gap and deleted events never free a position for reuse.
//
// Why the lock is not held through the flush, and what is durable. The batch
// transaction commits asynchronously, so K is released as soon as its commit
// record is in the WAL buffers and the next batch - of another process (or
// another lane) - takes K while this one waits for the flush. The durable
// transaction writes WAL (a row of log_durable) and commits with
// synchronous_commit = on, so its commit waits until the WAL is flushed up to
// its commit record (a transaction whose only WAL record is its commit would
// not wait). The WAL is flushed in order, and the batch's commit record -
// like that of every batch before it in position order - precedes it, so once
// the durable transaction has committed, every position <= end is durable.
// Only then is the batch acknowledged (strict). The durable frontier
// D = max(log_durable.head) only ever names such positions. A server crash
// loses at most commits after the last flush: a suffix of the position order,
// since WAL order is position order. Positions stay gap-free and strictly
// increasing after recovery; lost positions are assigned again.
//
// Why a reader resuming after P never misses a later commit, and never saw a
// position that a crash could reassign: strict readers (ReadAll, ReadStream,
// HeadPosition, the listener's start) fix their frontier F at D, never at
// log_head (StoreCore::Frontier). Every position <= D committed before the
// durable transaction that raised D began, so it is visible to every snapshot
// taken after D was read, and it is durable, so no crash can take it back and
// no later commit can land at or below it. Positions > F are excluded by the
// query. Strict stores NOTIFY from the durable transaction, so waiters wake
// for positions a reader can read. If log_head stays above D for longer than
// a flush can take (a writer died between its two commits, a relaxed store
// wrote, the server crashed after a batch's commit record was flushed but
// before its durable transaction), a reader runs the durable transaction
// itself with GREATEST(head, log_head) (CatchUp) and reads up to the result.
// Relaxed stores read up to log_head, as their appends may be lost in a crash
// anyway.
//
// One round trip when the writer can predict: after two batches in a row
// found log_head where the lanes left it (no other writer in between), a lane
// decides the next batch from the head and stream versions the lanes last
// planned and sends everything - BEGIN, lock, a guard statement, the writes,
// COMMIT - in one pipeline. As no other writer was seen lately, a strict
// predicted batch commits synchronously and raises log_durable in the same
// transaction (as a strict ImportEvents does): it holds K through its flush,
// which no one is waiting for, and saves the second commit. It records its plan as
// the new prediction state before it sends, and the next lane may plan on top
// of it only once the pipeline is on the wire, so that lane's batch normally
// queues for K behind it. The guard runs under the lock and fails the
// transaction unless log_head and every stream of the batch are exactly as
// predicted (caller-chosen ids are checked by the unique index), so a wrong
// prediction writes nothing; the batch then takes the two-round-trip path and
// prediction pauses until the head is quiet again. The ordering argument above
// is unchanged: positions are still assigned from the head under the lock.
//
// Commit outcome. If the connection breaks while a COMMIT may have been sent,
// the lane reconnects and looks up the batch's first event id (ids are
// assigned client-side): found, it committed; strict stores then make it
// durable (CatchUp) and report OK (Unavailable "(...; outcome unknown)" if that
// fails); not found, Unavailable "(not committed)"; Unavailable "(...; outcome
// unknown)" if the lookup fails. If the batch committed but its durable
// transaction failed with the connection intact, CatchUp is tried the same
// way. Test builds offer the sync points PostgresAppendWriter::AfterCommitSent
// (pg_wire.h: after the pipeline holding the COMMIT is sent, before any answer
// is read; tests/postgres/lost_commit_test.cc), ::BeforeCommit (the batch
// transaction held open before its COMMIT; stable_prefix_test.cc) and
// ::BeforeDurable (between the batch's COMMIT and its durable transaction;
// durable_frontier_test.cc, crash_before_flush_test.cc).
#include "append_writer.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "batch_plan.h"
#include "estoria/backend/validation.h"
#include "event_codec.h"
#include "pg_wire.h"
#include "store_core.h"
#include "sync_point.h"

namespace estoria::postgres::internal {

using postgres::PgConnection;
using postgres::PgParams;
using postgres::PgPipeline;
using postgres::PgResult;

namespace {
// Writer connections (lanes) per store object. With several, one lane's batch
// takes the append lock while another's waits for its WAL flush; but the
// appenders then split into smaller batches, each needing its own flush, and
// with a slow flush that halves the appends per flush: measured slower than
// one lane (bench/RESULTS.md, issue 20). Batches of different processes
// overlap either way, since the lock is released before the flush.
constexpr int kWriterLanes = 1;
}  // namespace

AppendWriter::AppendWriter(postgres::PgConnectOptions conn_options, const Statements* statements,
                           const PostgresOptions& options, AppendNotifier* notifier)
    : conn_options_(std::move(conn_options)),
      statements_(statements),
      strict_(options.durability == Durability::kStrict),
      max_batch_(std::max(1, options.max_batch_appends)),
      logger_(options.logger),
      notifier_(notifier) {
  for (int i = 0; i < kWriterLanes; ++i) lanes_.push_back(std::make_unique<Lane>());
  for (auto& lane : lanes_) lane->thread = std::thread([this, l = lane.get()] { Run(*l); });
}

AppendWriter::~AppendWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  queued_.notify_all();
  for (auto& lane : lanes_) lane->thread.join();
}

PostgresStats AppendWriter::stats() {
  int64_t queued;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queued = static_cast<int64_t>(queue_.size());
  }
  PostgresStats s;
  s.transactions = transactions_.load();
  s.commits = commits_.load();
  s.appends = appends_.load();
  s.events = events_.load();
  s.conflicts = conflicts_.load();
  s.queued = queued;
  s.mispredictions = mispredictions_.load();
  return s;
}

Result<std::vector<Event>> AppendWriter::Append(const TypeId& stream_id, std::span<const WritableEvent> events,
                                                const AppendOptions& options) {
  Request req;
  req.stream_id = &stream_id;
  req.stream_key = stream_id.ToString();
  req.events = events;
  req.options = &options;
  bool wake_writer = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return Status::Unavailable("PostgreSQL event store is closing");
    queue_.push_back(&req);
    wake_writer = (idle_ > 0 && !taking_) || (gathering_ > 0 && queue_.size() >= gather_target_);
  }
  if (wake_writer) queued_.notify_all();
  std::unique_lock<std::mutex> own(req.mu);
  req.wake.wait(own, [&] { return req.done; });
  return std::move(*req.result);
}

void AppendWriter::Run(Lane& lane) {
  for (;;) {
    std::vector<Request*> batch;
    bool more = false;
    {
      // One lane at a time takes (and gathers) a batch; the others wait for
      // their turn or run their own batch meanwhile.
      std::unique_lock<std::mutex> lock(mu_);
      ++idle_;
      queued_.wait(lock, [&] { return (stop_ && queue_.empty()) || (!taking_ && !queue_.empty()); });
      --idle_;
      if (queue_.empty()) return;  // stopping
      taking_ = true;
      // Gathering (estoria/backend/group_commit.h): wait until as many
      // requests are queued as the last batch held, within the window.
      gather_target_ = std::min(gather_.target(), static_cast<size_t>(max_batch_));
      if (gather_target_ > 1 && queue_.size() < gather_target_ && !stop_) {
        ++gathering_;
        queued_.wait_until(lock, gather_.deadline(), [&] { return stop_ || queue_.size() >= gather_target_; });
        --gathering_;
      }
      while (!queue_.empty() && static_cast<int>(batch.size()) < max_batch_) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
      taking_ = false;
      more = !queue_.empty() || stop_;
    }
    if (more) queued_.notify_all();
    auto started = std::chrono::steady_clock::now();
    Process(lane, batch);
    {
      auto now = std::chrono::steady_clock::now();
      std::lock_guard<std::mutex> lock(mu_);
      gather_.BatchDone(batch.size(), now - started, now);
    }
    // Each appender returns (destroying its request) only after taking its
    // own mutex, so nothing here touches a finished request.
    for (Request* r : batch) {
      std::lock_guard<std::mutex> own(r->mu);
      r->done = true;
      r->wake.notify_one();
    }
  }
}

void AppendWriter::Process(Lane& lane, const std::vector<Request*>& batch) {
  Status st = Attempt(lane, batch);
  if (st.ok()) return;
  if (batch.size() > 1 && !st.IsUnavailable()) {
    // Isolate the append that broke the transaction (nothing was committed:
    // every outcome after a commit is OK or Unavailable).
    for (Request* r : batch) Process(lane, {r});
    return;
  }
  for (Request* r : batch) r->result = st;
}

Status AppendWriter::ResolveCommit(Lane& lane, const Uuid& probe, const Status& cause) {
  InvalidatePrediction();
  const std::string unknown = cause.message() + " (connection lost during COMMIT; outcome unknown)";
  if (!lane.conn || !lane.conn->EnsureConnected().ok()) return Status::Unavailable(unknown);
  // Built by appending: GCC 12 -O3 reports a false -Wrestrict for "{" + str.
  std::string literal = "{";
  literal += probe.ToString();
  literal += '}';
  auto res = lane.conn->ExecPrepared(statements_->event_ids_exist, PgParams().Text(literal));
  if (!res) return Status::Unavailable(unknown);
  bool found = res->Int64(0, 0) > 0;
  if (strict_) {
    // Found: it committed, maybe without its flush (the connection broke, not
    // the server), so flush it now. Not found: still raise the durable
    // frontier to what survived (e.g. after a crash), for the readers.
    auto durable = CatchUp(*lane.conn, *statements_);
    if (found && !durable) {
      return Status::Unavailable(cause.message() + " (committed; its flush could not be confirmed: outcome unknown)");
    }
  }
  if (found) return Status::Ok();
  return Status::Unavailable(cause.message() + " (not committed)");
}

Status AppendWriter::EnsureDurable(Lane& lane, const Status& cause) {
  InvalidatePrediction();
  auto durable = CatchUp(*lane.conn, *statements_);
  if (durable) return Status::Ok();
  return Status::Unavailable(cause.message() + " (committed; its flush could not be confirmed: outcome unknown)");
}

void AppendWriter::AddDurable(Lane& lane, PgPipeline& p, int64_t end) const {
  const Statements& s = *statements_;
  p.Add(s.begin)
      .Add(s.set_sync_commit, PgParams().Text("on"))
      .Add(s.mark_durable, PgParams().Int32(DurableSlot(*lane.conn)).Int64(end));
  AddNotify(p, s, end);
  p.Add(s.commit);
}

Status AppendWriter::Failed(Lane& lane, const PgPipeline& p, size_t commit_at, const Uuid& probe, const Status& st) {
  if (lane.conn->broken()) return ResolveCommit(lane, probe, st);
  Rollback(*lane.conn);
  // Every statement before the failed one ran: the batch's COMMIT too.
  if (commit_at != kNoCommit && p.failed_at() > static_cast<int>(commit_at)) return EnsureDurable(lane, st);
  return st;
}

std::vector<BatchItem> AppendWriter::Items(const std::vector<Request*>& batch) {
  std::vector<BatchItem> items;
  items.reserve(batch.size());
  for (Request* r : batch) items.push_back(BatchItem{r->stream_id, &r->stream_key, r->events, r->options});
  return items;
}

void AppendWriter::Rollback(PgConnection& conn) {
  if (!conn.broken() && conn.transaction_status() != PQTRANS_IDLE) (void)conn.Exec("ROLLBACK");
}

void AppendWriter::InvalidatePrediction() {
  std::lock_guard<std::mutex> lock(pred_mu_);
  quiet_batches_ = 0;
  cached_head_ = -1;
  cached_versions_.clear();
}

void AppendWriter::Finish(const std::vector<Request*>& batch, BatchPlan& plan, bool predicted) {
  if (plan.accepted > 0) {
    ++commits_;
    appends_ += plan.accepted;
    events_ += plan.position - plan.head;
    notifier_->Publish(plan.position);
  }
  conflicts_ += plan.conflicts;
  if (!predicted) {
    // Remember what this transaction saw and wrote, for the next prediction
    // (a predicted batch recorded its plan when it was sent).
    std::lock_guard<std::mutex> lock(pred_mu_);
    if (cached_head_ != plan.head) quiet_batches_ = 0;
    if (cached_versions_.size() > 100000) cached_versions_.clear();
    for (const auto& [key, st] : plan.streams) cached_versions_[key] = st.exists ? st.version : 0;
    cached_head_ = plan.position;
    last_timestamp_ = std::max(last_timestamp_, plan.timestamp);
  }
  for (size_t b = 0; b < batch.size(); ++b) batch[b]->result = std::move(plan.outcomes[b]);
}

std::optional<Status> AppendWriter::AttemptPredicted(Lane& lane, const std::vector<Request*>& batch) {
  const Statements& s = *statements_;
  std::unique_lock<std::mutex> pred(pred_mu_);
  if (quiet_batches_ < 2 || cached_head_ < 0) return std::nullopt;
  std::map<std::string, PlannedStream> streams;
  for (Request* r : batch) {
    auto it = cached_versions_.find(r->stream_key);
    if (it == cached_versions_.end()) return std::nullopt;
    streams[r->stream_key] = PlannedStream{it->second > 0, it->second, 0, false};
  }
  std::vector<std::string> keys, expected;
  for (const auto& [key, st] : streams) {
    keys.push_back(key);
    if (st.exists) expected.push_back(key + ":" + std::to_string(st.version));
  }
  // Caller-chosen ids are predicted not to be stored; the unique index on
  // event_id fails the transaction otherwise, and the full path decides.
  std::vector<BatchItem> items = Items(batch);
  BatchPlan plan = PlanBatch(items, cached_head_, std::move(streams), {}, std::max(Now(), last_timestamp_));
  if (plan.accepted == 0) return std::nullopt;
  // Quiet (no other writer seen lately), so holding the lock through the
  // flush costs no one anything: strict batches commit synchronously and
  // raise the durable frontier in the same transaction, one commit and one
  // flush instead of two commits (the asynchronous one could also wake the
  // WAL writer into a flush of its own that the durable commit then waits
  // behind).
  PgPipeline p;
  p.Add(s.begin)
      .Add(s.set_sync_commit, PgParams().Text(strict_ ? "on" : "off"))
      .Add(s.lock, PgParams().Int64(s.append_lock_key))
      .Add(s.guard, PgParams().Int64(plan.head).Text(TextArray(keys)).Text(TextArray(expected)));
  ESTORIA_RETURN_IF_ERROR(AddWrites(p, s, plan, /*notify=*/false));  // nothing was sent yet
  if (strict_) p.Add(s.mark_durable, PgParams().Int32(DurableSlot(*lane.conn)).Int64(plan.position));
  AddNotify(p, s, plan.position);
  p.Add(s.commit);
  const size_t commit_at = p.size() - 1;
  ESTORIA_PG_PIPELINE_AFTER_SENT(p, "PostgresAppendWriter::AfterCommitSent");
  // Claim the plan: another lane predicts its batch on top of this one, and
  // sends it only after this pipeline is on the wire, so it normally queues
  // for the lock behind this batch (if not, its guard fails it harmlessly).
  cached_head_ = plan.position;
  for (const auto& [key, st] : plan.streams) cached_versions_[key] = st.exists ? st.version : 0;
  last_timestamp_ = plan.timestamp;
  p.set_on_sent([&pred] { pred.unlock(); });
  ++transactions_;
  auto res = lane.conn->RunPipeline(p);
  if (pred.owns_lock()) pred.unlock();
  if (!res) {
    if (!lane.conn->broken() && p.failed_at() <= static_cast<int>(commit_at)) {
      Rollback(*lane.conn);
      ++mispredictions_;
      InvalidatePrediction();
      return std::nullopt;  // another writer got in between: take the full path
    }
    ESTORIA_RETURN_IF_ERROR(Failed(lane, p, commit_at, plan.probe, res.error()));
  }
  Finish(batch, plan, /*predicted=*/true);
  return Status::Ok();
}

Status AppendWriter::Attempt(Lane& lane, const std::vector<Request*>& batch) {
  if (!lane.conn) {
    ESTORIA_ASSIGN_OR_RETURN(lane.conn, PgConnection::Connect(conn_options_));
  } else {
    ESTORIA_RETURN_IF_ERROR(lane.conn->EnsureConnected());
  }
  PgConnection& conn = *lane.conn;
  // A test holding the transaction open before COMMIT, or between the COMMIT
  // and the durable transaction, needs the two-round-trip path with those
  // sent on their own.
  const bool split_commit = ESTORIA_TEST_SYNC_POINT_ARMED("PostgresAppendWriter::BeforeCommit");
  const bool split_durable = strict_ && ESTORIA_TEST_SYNC_POINT_ARMED("PostgresAppendWriter::BeforeDurable");
  if (!split_commit && !split_durable) {
    std::optional<Status> predicted = AttemptPredicted(lane, batch);
    if (predicted) return *predicted;
  }
  ++transactions_;
  const Statements& s = *statements_;
  // Round trip 1: lock, then read the head and the state of the batch's streams and ids.
  std::vector<std::string> keys;
  std::string ids_literal = "{";
  bool any_ids = false;
  for (Request* r : batch) {
    keys.push_back(r->stream_key);
    for (const WritableEvent& e : r->events) {
      if (!e.id) continue;
      if (any_ids) ids_literal += ',';
      ids_literal += e.id->ToString();
      any_ids = true;
    }
  }
  ids_literal += "}";
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  // The batch commits asynchronously in both modes, releasing the lock before
  // the WAL flush; strict stores then wait for durability in a second
  // transaction (see the top of this file).
  PgPipeline read;
  read.Add(s.begin)
      .Add(s.set_sync_commit, PgParams().Text("off"))
      .Add(s.lock, PgParams().Int64(s.append_lock_key))
      .Add(s.head)
      .Add(s.stream_versions, PgParams().Text(TextArray(keys)));
  if (any_ids) read.Add(s.stored_ids, PgParams().Text(ids_literal));
  auto first = conn.RunPipeline(read);
  if (!first && conn.broken()) {
    // Nothing was written yet: a connection found dead (e.g. after a server
    // restart) is replaced and the batch tried once more.
    ESTORIA_RETURN_IF_ERROR(conn.EnsureConnected());
    first = conn.RunPipeline(read);
  }
  if (!first) {
    Rollback(conn);
    return first.error();
  }
  std::vector<PgResult>& r1 = *first;
  int64_t head = r1[3].Int64(0, 0);
  Timestamp timestamp;
  {
    std::lock_guard<std::mutex> lock(pred_mu_);
    quiet_batches_ = head == cached_head_ ? quiet_batches_ + 1 : 0;
    timestamp = std::max(Now(), last_timestamp_);
  }
  std::map<std::string, PlannedStream> streams;
  for (const auto& key : keys) streams[key] = PlannedStream{};
  for (int i = 0; i < r1[4].rows(); ++i) streams[r1[4].String(i, 0)] = PlannedStream{true, r1[4].Int64(i, 1), 0, false};
  std::unordered_map<Uuid, backend::StoredEventLocation> stored;
  if (any_ids) {
    for (int i = 0; i < r1[5].rows(); ++i) {
      auto sid = TypeId::Parse(r1[5].String(i, 1));
      if (sid) stored[r1[5].UuidAt(i, 0)] = backend::StoredEventLocation{*sid, r1[5].Int64(i, 2)};
    }
  }
  std::vector<BatchItem> items = Items(batch);
  BatchPlan plan = PlanBatch(items, head, std::move(streams), std::move(stored), timestamp);

  if (plan.accepted > 0) {
    // Round trip 2: write, advance the head, commit; strict: then the durable
    // transaction (raise this lane's log_durable slot, NOTIFY), flushed.
    PgPipeline write;
    if (Status w = AddWrites(write, s, plan, !strict_); !w.ok()) {
      Rollback(conn);
      return w;
    }
    size_t commit_at = kNoCommit;
    if (!split_commit) {
      write.Add(s.commit);
      commit_at = write.size() - 1;
      if (strict_ && !split_durable) AddDurable(lane, write, plan.position);
      ESTORIA_PG_PIPELINE_AFTER_SENT(write, "PostgresAppendWriter::AfterCommitSent");
    }
    auto written = conn.RunPipeline(write);
    if (!written) {
      ESTORIA_RETURN_IF_ERROR(Failed(lane, write, commit_at, plan.probe, written.error()));
      Finish(batch, plan, /*predicted=*/false);  // committed after all (and durable)
      return Status::Ok();
    }
    if (split_commit) {
      ESTORIA_TEST_SYNC_POINT("PostgresAppendWriter::BeforeCommit");
      PgPipeline commit;
      commit.Add(s.commit);
      if (strict_ && !split_durable) AddDurable(lane, commit, plan.position);
      ESTORIA_PG_PIPELINE_AFTER_SENT(commit, "PostgresAppendWriter::AfterCommitSent");
      auto committed = conn.RunPipeline(commit);
      if (!committed) ESTORIA_RETURN_IF_ERROR(Failed(lane, commit, 0, plan.probe, committed.error()));
    }
    if (split_durable) {
      // Committed (visible, lock released), not yet known to be flushed.
      ESTORIA_TEST_SYNC_POINT("PostgresAppendWriter::BeforeDurable");
      PgPipeline durable;
      AddDurable(lane, durable, plan.position);
      auto flushed = conn.RunPipeline(durable);
      if (!flushed) {
        if (conn.broken()) {
          ESTORIA_RETURN_IF_ERROR(ResolveCommit(lane, plan.probe, flushed.error()));
        } else {
          Rollback(conn);
          ESTORIA_RETURN_IF_ERROR(EnsureDurable(lane, flushed.error()));
        }
      }
    }
  } else {
    Rollback(conn);
  }
  Finish(batch, plan, /*predicted=*/false);
  return Status::Ok();
}

}  // namespace estoria::postgres::internal
