// append_writer.h (internal): the group-commit writer of PostgresEventStore.
// One per store object: kWriterLanes threads (one today), each with its own
// connection, pulling from one queue; a lane takes every append queued since
// the last batch and commits them together. The append lock is released
// before the batch's WAL flush, so batches of other processes (or lanes)
// overlap it. The position/commit-order and durability mechanism is described
// at the top of append_writer.cc.
//
// Thread safety: Append may be called from many threads at once; each call
// blocks until its batch is committed or failed.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include "append_notifier.h"
#include "batch_plan.h"
#include "estoria/backend/group_commit.h"
#include "estoria/event_store.h"
#include "estoria/postgres/connection.h"
#include "estoria/postgres/postgres_event_store.h"
#include "estoria/postgres/postgres_options.h"
#include "schema.h"

namespace estoria::postgres::internal {

using postgres::PostgresOptions;

class AppendWriter {
 public:
  AppendWriter(postgres::PgConnectOptions conn_options, const Statements* statements, const PostgresOptions& options,
               AppendNotifier* notifier);
  ~AppendWriter();

  // Queues the append and waits for its outcome (see StreamWriter::AppendStream;
  // the arguments must already be validated).
  Result<std::vector<Event>> Append(const TypeId& stream_id, std::span<const WritableEvent> events,
                                    const AppendOptions& options);
  // The writer's counters (listener_connects is left 0: the notifier counts them).
  PostgresStats stats();

 private:
  struct Request {
    const TypeId* stream_id;
    std::string stream_key;
    std::span<const WritableEvent> events;
    const AppendOptions* options;
    std::optional<Result<std::vector<Event>>> result;
    // Set under `mu` and signalled on `wake` by the writer thread when the
    // request has run: each appender sleeps on its own, so finishing a batch
    // wakes exactly its appenders.
    bool done = false;
    std::mutex mu;
    std::condition_variable wake;
  };

  // One writer thread and its connection.
  struct Lane {
    std::unique_ptr<postgres::PgConnection> conn;  // its thread only
    std::thread thread;
  };

  void Run(Lane& lane);
  void Process(Lane& lane, const std::vector<Request*>& batch);
  // One batch. On OK every request has its result; on an error none has (the
  // caller decides; Unavailable is never retried).
  Status Attempt(Lane& lane, const std::vector<Request*>& batch);
  // After the connection broke while COMMIT may have been sent: OK when the
  // batch's first event is stored (it committed; it is then made durable),
  // otherwise Unavailable.
  Status ResolveCommit(Lane& lane, const Uuid& probe, const Status& cause);
  // After the batch's own commit succeeded and its durable transaction did
  // not (connection intact): make the log durable with CatchUp, else
  // Unavailable "outcome unknown".
  Status EnsureDurable(Lane& lane, const Status& cause);
  // Adds the batch's durable transaction (strict stores).
  void AddDurable(Lane& lane, postgres::PgPipeline& p, int64_t end) const;
  // Handles a failed pipeline that ended with the batch's COMMIT at index
  // `commit_at` (and, if any, its durable transaction after it).
  Status Failed(Lane& lane, const postgres::PgPipeline& p, size_t commit_at, const Uuid& probe, const Status& st);
  // The one-round-trip path: decisions from the head and versions the lanes
  // last planned, verified under the lock by a guard statement in the same
  // pipeline. nullopt when the prediction is impossible or was wrong (nothing
  // written).
  std::optional<Status> AttemptPredicted(Lane& lane, const std::vector<Request*>& batch);
  static std::vector<BatchItem> Items(const std::vector<Request*>& batch);
  void Finish(const std::vector<Request*>& batch, BatchPlan& plan, bool predicted);
  static void Rollback(postgres::PgConnection& conn);
  // Forgets the prediction state (after a misprediction or an unclear outcome).
  void InvalidatePrediction();
  static constexpr size_t kNoCommit = static_cast<size_t>(-1);

  const postgres::PgConnectOptions conn_options_;
  const Statements* statements_;
  const bool strict_;
  const int max_batch_;
  const std::shared_ptr<Logger> logger_;
  AppendNotifier* notifier_;

  // Prediction state, shared by the lanes (under pred_mu_): the head after the
  // last batch a lane planned or committed, the stream versions it left (0 =
  // no such stream), how many full-path batches in a row found the head where
  // the lanes expected it, and the last commit timestamp.
  std::mutex pred_mu_;
  int64_t cached_head_ = -1;
  std::unordered_map<std::string, int64_t> cached_versions_;
  int quiet_batches_ = 0;
  Timestamp last_timestamp_{};

  std::mutex mu_;
  std::condition_variable queued_;
  std::deque<Request*> queue_;
  bool stop_ = false;
  // Gathering (see Run): the backend SDK's policy, under mu_.
  backend::GatherPolicy gather_;
  int idle_ = 0;         // lanes waiting for work (under mu_)
  int gathering_ = 0;    // lanes waiting for gather_target_ requests (under mu_)
  bool taking_ = false;  // a lane is taking (gathering) the next batch (under mu_)
  size_t gather_target_ = 0;
  std::vector<std::unique_ptr<Lane>> lanes_;

  std::atomic<int64_t> transactions_{0}, commits_{0}, appends_{0}, events_{0}, conflicts_{0}, mispredictions_{0};
};

}  // namespace estoria::postgres::internal
