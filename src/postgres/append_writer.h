// append_writer.h (internal): the group-commit writer of PostgresEventStore.
// One per store object: a thread with its own connection that takes every
// append queued since its last transaction and commits them together. The
// position/commit-order mechanism is described at the top of append_writer.cc.
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

  void Run();
  void Process(const std::vector<Request*>& batch);
  // One transaction for the batch. On OK every request has its result; on an
  // error none has (the caller decides).
  Status Attempt(const std::vector<Request*>& batch);
  // After the connection broke while COMMIT may have been sent: OK when the
  // batch's first event is stored (it committed), otherwise Unavailable.
  Status ResolveCommit(const Uuid& probe, const Status& cause);
  // The one-round-trip path: decisions from the versions this writer last saw,
  // verified under the lock by a guard statement in the same pipeline.
  // nullopt when the prediction is impossible or was wrong (nothing written).
  std::optional<Status> AttemptPredicted(const std::vector<Request*>& batch);
  static std::vector<BatchItem> Items(const std::vector<Request*>& batch);
  void Finish(const std::vector<Request*>& batch, BatchPlan& plan);
  void Rollback();

  const postgres::PgConnectOptions conn_options_;
  const Statements* statements_;
  const bool strict_;
  const int max_batch_;
  const std::shared_ptr<Logger> logger_;
  AppendNotifier* notifier_;

  std::unique_ptr<postgres::PgConnection> conn_;  // writer thread only
  Timestamp last_timestamp_{};                    // writer thread only
  // Prediction state (writer thread only): the head after this writer's last
  // transaction, the versions it last saw (0 = no such stream), and how many
  // full-path batches in a row found the head unchanged by other writers.
  int64_t cached_head_ = -1;
  std::unordered_map<std::string, int64_t> cached_versions_;
  int quiet_batches_ = 0;

  std::mutex mu_;
  std::condition_variable queued_;
  std::deque<Request*> queue_;
  bool stop_ = false;
  // Gathering (see Run): the backend SDK's policy, under mu_.
  backend::GatherPolicy gather_;
  bool idle_ = false;       // the writer waits for work (under mu_)
  bool gathering_ = false;  // the writer waits for gather_target_ requests (under mu_)
  size_t gather_target_ = 0;
  std::thread thread_;

  std::atomic<int64_t> transactions_{0}, commits_{0}, appends_{0}, events_{0}, conflicts_{0}, mispredictions_{0};
};

}  // namespace estoria::postgres::internal
