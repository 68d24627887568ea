// estoria/snapshotting_store.h: SnapshottingStore<S>, a decorator that writes
// snapshots of aggregate states to a SnapshotStore after saves chosen by a
// policy, and loads from the newest usable snapshot, replaying only the events
// after it.
//
// - Policy: every N events (a save that crosses a multiple of N), or a user
//   predicate on the saved aggregate, the versions and the commit time.
// - Writing: right after a successful save, on the saving thread, or (option
//   background) on a worker thread; Flush() waits for queued snapshots.
// - Retention: the snapshot store's own SnapshotRetention (keep last N), and/or
//   keep_within_versions here (DeleteBelow after each snapshot), and/or
//   DeleteSnapshotsBelow on demand.
// - Load (latest or to_version): the newest snapshot at or below the bound, then
//   Hydrate through the wrapped store. A snapshot that is missing, unreadable,
//   undecodable or of another content type is ignored (full replay through the
//   wrapped store) and reported through the logger, never returned as an
//   error. to_time loads always replay in full.
// - Snapshot schema versions: a snapshot stored at an older state schema
//   version is brought to SchemaVersionOf<S>() by options.upcasters (N -> N+1
//   steps of the stored payload) and used: only the events after it are
//   replayed (stats().upcast counts these loads). The stored snapshot is not
//   rewritten; the next one the policy takes is at the current version. A
//   snapshot with no path to the current version (a missing step, a failing
//   step) or a newer version than the current one (written by a newer build)
//   is ignored like an unusable one: full replay, logged, counted in
//   stats().ignored.
// The state is encoded with CodecFor<S> (JSON by default: S needs to_json and
// from_json) and tagged with SchemaVersionOf<S>() (S::kSchemaVersion or 1).
//
// Thread safety: safe for concurrent use from many threads; the policy
// predicate may be called from many threads at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "estoria/aggregate_store.h"
#include "estoria/codec.h"
#include "estoria/logger.h"
#include "estoria/snapshot_store.h"
#include "estoria/upcaster.h"

namespace estoria {

// What a snapshot predicate sees about a successful save.
struct SnapshotContext {
  int64_t previous_version = 0;  // the aggregate's version before the save
  int64_t version = 0;           // its version after the save
  Timestamp time{};              // commit time of the last saved event
};

template <typename S>
struct SnapshotPolicy {
  // Snapshot when a save moves the version across a multiple of this (0 =
  // never by count). Default 100.
  int64_t every_n_events = 100;
  // When set, decides instead of every_n_events. Default unset. An exception
  // it throws fails the Save with Internal (events_appended() set).
  std::function<bool(const Aggregate<S>& aggregate, const SnapshotContext& context)> predicate = nullptr;

  static SnapshotPolicy EveryNEvents(int64_t n) { return SnapshotPolicy{n, nullptr}; }
  static SnapshotPolicy When(std::function<bool(const Aggregate<S>&, const SnapshotContext&)> p) {
    return SnapshotPolicy{0, std::move(p)};
  }
};

template <typename S>
struct SnapshottingStoreOptions {
  // Where snapshots are kept. Required (null: every operation is
  // InvalidArgument). Default null.
  std::shared_ptr<SnapshotStore> snapshots = nullptr;
  // Default: every 100 events.
  SnapshotPolicy<S> policy = {};
  // Write snapshots on a background worker instead of the saving thread.
  // Default false.
  bool background = false;
  // Background queue bound; when full, snapshots are dropped (and logged).
  // Default 1024.
  size_t max_queued = 1024;
  // After writing a snapshot at version v, delete the aggregate's snapshots
  // below v - keep_within_versions (0: keep only the newest). Default unset
  // (rely on the snapshot store's retention).
  std::optional<int64_t> keep_within_versions = std::nullopt;
  // With synchronous writes, return a failed snapshot write from Save (with
  // events_appended() set) instead of only logging it. Default false.
  bool report_snapshot_errors = false;
  // Where ignored snapshots and write failures are reported. Default StderrLogger().
  std::shared_ptr<Logger> logger = nullptr;
  // Steps from older state schema versions to SchemaVersionOf<S>() (see the
  // top of this file). An invalid registration makes every Load and Save
  // InvalidArgument. Default none: snapshots of another version are ignored.
  SnapshotUpcasterRegistry upcasters{};
};

struct SnapshotStats {
  int64_t written = 0;  // snapshots stored
  int64_t used = 0;     // loads that started from a snapshot
  int64_t ignored = 0;  // snapshots found but unusable (logged)
  int64_t failed = 0;   // snapshot writes that failed or were dropped (logged)
  int64_t upcast = 0;   // loads (counted in used) from a snapshot upcast to the current state schema
};

namespace internal {
// Non-template helpers of SnapshottingStore (snapshotting_store.cc).
bool CrossesMultiple(int64_t previous_version, int64_t version, int64_t every_n);
void LogIgnoredSnapshot(Logger& logger, const TypeId& id, const Status& why);
void LogSnapshotWriteFailure(Logger& logger, const TypeId& id, int64_t version, const Status& why);
// Commit time of a stream's event at `version`; zero when it cannot be read
// (e.g. truncated).
Timestamp EventTime(StreamReader& reader, const TypeId& stream, int64_t version);
Status WriteSnapshot(SnapshotStore& store, Snapshot snapshot, std::optional<int64_t> keep_within_versions);
// The background thread of SnapshottingStore (defined in src/core): jobs run in
// order; Submit is false (job dropped) when max_queued jobs wait; Flush blocks
// until every job submitted before it ran; destruction runs the queued jobs.
class BackgroundWorker;
struct BackgroundWorkerDeleter {
  void operator()(BackgroundWorker* worker) const;
};
using BackgroundWorkerPtr = std::unique_ptr<BackgroundWorker, BackgroundWorkerDeleter>;
BackgroundWorkerPtr NewBackgroundWorker(size_t max_queued);
bool SubmitBackground(BackgroundWorker& worker, std::function<void()> job);
void FlushBackground(BackgroundWorker& worker);
}  // namespace internal

template <typename S>
class SnapshottingStore final : public AggregateStoreDecorator<S> {
 public:
  SnapshottingStore(std::shared_ptr<AggregateStore<S>> inner, SnapshottingStoreOptions<S> options)
      : AggregateStoreDecorator<S>(std::move(inner)), options_(std::move(options)) {
    if (!options_.logger) options_.logger = StderrLogger();
    if (options_.background) worker_ = internal::NewBackgroundWorker(options_.max_queued);
  }
  static std::shared_ptr<SnapshottingStore> Create(std::shared_ptr<AggregateStore<S>> inner,
                                                   SnapshottingStoreOptions<S> options) {
    return std::make_shared<SnapshottingStore>(std::move(inner), std::move(options));
  }
  // Runs the snapshots still queued, then stops the worker.
  ~SnapshottingStore() override { worker_.reset(); }

  using AggregateStore<S>::New;

  std::shared_ptr<SnapshotStore> snapshot_store() override { return options_.snapshots; }

  // Errors: as AggregateStore::Load; InvalidArgument without a snapshot store
  // or with an invalid snapshot upcaster registration. Snapshot problems are
  // logged, never returned.
  Result<Aggregate<S>> Load(const Uuid& id, const LoadOptions& options = {}) override {
    ESTORIA_RETURN_IF_ERROR(CheckOptions());
    ESTORIA_RETURN_IF_ERROR(ValidateLoadOptions(options));
    if (options.to_time) return this->inner()->Load(id, options);
    TypeId aggregate_id(this->aggregate_type(), id);
    bool upcast = false;
    auto state = ReadSnapshot(aggregate_id, options.to_version, &upcast);
    if (!state) return this->inner()->Load(id, options);
    Aggregate<S> aggregate =
        internal::AggregateAccess::Restore(aggregate_id, state->first, std::move(state->second), Timestamp{});
    ESTORIA_RETURN_IF_ERROR(this->inner()->Hydrate(aggregate, options));
    if (aggregate.last_event_time() == Timestamp{}) {
      // No event after the snapshot: take the commit time of the one it covers.
      Timestamp t = internal::EventTime(*this->event_store(), aggregate.id(), aggregate.version());
      internal::AggregateAccess::SetVersion(aggregate, aggregate.version(), t);
    }
    stats_used_.fetch_add(1, std::memory_order_relaxed);
    if (upcast) stats_upcast_.fetch_add(1, std::memory_order_relaxed);
    return aggregate;
  }

  // Errors: as AggregateStore::Save; InvalidArgument as Load's (nothing
  // saved); snapshot write failures are logged (or, with
  // report_snapshot_errors, returned with events_appended() set).
  Status Save(Aggregate<S>& aggregate) override {
    ESTORIA_RETURN_IF_ERROR(CheckOptions());
    int64_t previous = aggregate.version();
    ESTORIA_RETURN_IF_ERROR(this->inner()->Save(aggregate));
    if (aggregate.version() == previous) return Status::Ok();
    SnapshotContext context{previous, aggregate.version(), aggregate.last_event_time()};
    bool take = false;
    try {
      take = options_.policy.predicate
                 ? options_.policy.predicate(aggregate, context)
                 : internal::CrossesMultiple(previous, aggregate.version(), options_.policy.every_n_events);
    } catch (const std::exception& e) {
      return Status::Internal(std::string("snapshot policy threw: ") + e.what()).MarkEventsAppended();
    } catch (...) {
      return Status::Internal("snapshot policy threw an unknown exception").MarkEventsAppended();
    }
    if (!take) return Status::Ok();
    if (worker_) {
      auto job = [this, id = aggregate.id(), version = aggregate.version(), state = aggregate.state()]() mutable {
        (void)Write(id, version, state);  // failures are logged and counted
      };
      if (!internal::SubmitBackground(*worker_, std::move(job))) {
        stats_failed_.fetch_add(1, std::memory_order_relaxed);
        internal::LogSnapshotWriteFailure(*options_.logger, aggregate.id(), aggregate.version(),
                                          Status::Unavailable("background snapshot queue is full; dropped"));
      }
      return Status::Ok();
    }
    Status st = Write(aggregate.id(), aggregate.version(), aggregate.state());
    if (!st.ok() && options_.report_snapshot_errors) return st.MarkEventsAppended();
    return Status::Ok();
  }

  // Waits until the snapshots queued by earlier saves are written (no-op when
  // writing synchronously).
  void Flush() {
    if (worker_) internal::FlushBackground(*worker_);
  }

  // Deletes the aggregate's snapshots below `version` (all when 0). Errors:
  // InvalidArgument (no snapshot store), and the snapshot store's.
  Status DeleteSnapshotsBelow(const Uuid& id, int64_t version) {
    if (!options_.snapshots) return Status::InvalidArgument("SnapshottingStore: no snapshot store");
    return options_.snapshots->DeleteBelow(TypeId(this->aggregate_type(), id), version);
  }

  SnapshotStats stats() const {
    return SnapshotStats{stats_written_.load(), stats_used_.load(), stats_ignored_.load(), stats_failed_.load(),
                         stats_upcast_.load()};
  }

 private:
  Status CheckOptions() const {
    if (!options_.snapshots) return Status::InvalidArgument("SnapshottingStore: no snapshot store");
    return options_.upcasters.status().WithContext("SnapshottingStore");
  }

  // The newest usable snapshot at or below max_version as (version, state), or
  // nullopt (reported through the logger) when there is none. *upcast: it was
  // stored at an older state schema version and upcast.
  std::optional<std::pair<int64_t, S>> ReadSnapshot(const TypeId& id, int64_t max_version, bool* upcast) {
    auto snapshot = options_.snapshots->Load(id, max_version);
    if (!snapshot) {
      if (snapshot.error().IsNotFound()) {
        options_.logger->Log(LogLevel::kDebug, "no snapshot of " + id.ToString() + "; replaying all events");
      } else {
        Ignore(id, snapshot.error());
      }
      return std::nullopt;
    }
    if (snapshot->schema_version != SchemaVersionOf<S>()) {
      const std::string where = "snapshot at version " + std::to_string(snapshot->version) +
                                " has state schema version " + std::to_string(snapshot->schema_version) +
                                ", expected " + std::to_string(SchemaVersionOf<S>());
      if (options_.upcasters.empty()) {
        Ignore(id, Status::FailedPrecondition(where + " (no snapshot upcasters)"));
        return std::nullopt;
      }
      Status st = options_.upcasters.Upcast(*snapshot, SchemaVersionOf<S>());
      if (!st.ok()) {
        Ignore(id, st.WithContext(where));
        return std::nullopt;
      }
      *upcast = true;
    }
    if (snapshot->version < 1 || (max_version != 0 && snapshot->version > max_version)) {
      Ignore(id, Status::Corruption("snapshot version " + std::to_string(snapshot->version) + " out of range"));
      return std::nullopt;
    }
    auto state = CodecFor<S>::template Decode<S>(snapshot->content_type, snapshot->data);
    if (!state) {
      Ignore(id, state.error().WithContext("snapshot at version " + std::to_string(snapshot->version)));
      return std::nullopt;
    }
    return std::make_pair(snapshot->version, std::move(state).value());
  }

  void Ignore(const TypeId& id, const Status& why) {
    stats_ignored_.fetch_add(1, std::memory_order_relaxed);
    internal::LogIgnoredSnapshot(*options_.logger, id, why);
  }

  Status Write(const TypeId& id, int64_t version, const S& state) {
    auto data = CodecFor<S>::template Encode<S>(state);
    Status st;
    if (!data) {
      st = data.error();
    } else {
      Snapshot snapshot;
      snapshot.aggregate_id = id;
      snapshot.version = version;
      snapshot.timestamp = Now();
      snapshot.schema_version = SchemaVersionOf<S>();
      snapshot.content_type = std::string(CodecFor<S>::kContentType);
      snapshot.data = std::move(data).value();
      st = internal::WriteSnapshot(*options_.snapshots, std::move(snapshot), options_.keep_within_versions);
    }
    if (st.ok()) {
      stats_written_.fetch_add(1, std::memory_order_relaxed);
    } else {
      stats_failed_.fetch_add(1, std::memory_order_relaxed);
      internal::LogSnapshotWriteFailure(*options_.logger, id, version, st);
    }
    return st;
  }

  SnapshottingStoreOptions<S> options_;
  std::atomic<int64_t> stats_written_{0};
  std::atomic<int64_t> stats_used_{0};
  std::atomic<int64_t> stats_upcast_{0};
  std::atomic<int64_t> stats_ignored_{0};
  std::atomic<int64_t> stats_failed_{0};
  internal::BackgroundWorkerPtr worker_;  // last: destroyed (drained) first
};

}  // namespace estoria
