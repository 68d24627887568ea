// estoria/prometheus/instrumented_aggregate_store.h: InstrumentedAggregateStore<S>,
// an AggregateStoreDecorator recording Prometheus metrics of loads and saves in
// a registry the caller owns (labels: backend, store; see MetricsLabels).
//
// Metric families (every one labelled backend and store):
//   estoria_aggregate_loads_total                 Load calls that succeeded
//   estoria_aggregate_load_duration_seconds       histogram of every Load call
//   estoria_aggregate_saves_total                 Save calls that wrote events
//   estoria_aggregate_save_duration_seconds       histogram of every Save call
//                                                 that had pending events
//   estoria_aggregate_save_conflicts_total        Saves refused with Conflict
//   estoria_aggregate_errors_total{operation, code}
//                                                 load / save calls that failed
//   and, mirrored from the first CachedStore and SnapshottingStore found in the
//   wrapped chain (through AggregateStoreDecorator::inner()), so that loads are
//   known by source (cache hits; loads started from a snapshot; the rest read
//   the event store):
//   estoria_aggregate_cache_hits_total, ..._cache_misses_total,
//   ..._cache_evictions_total                     CachedStore::stats()
//   estoria_aggregate_snapshot_loads_total        SnapshottingStore: loads that
//                                                 started from a snapshot
//   estoria_aggregate_snapshots_written_total     snapshots written
// The mirrored counters are brought up to date after every Load and Save made
// through this decorator (deltas of the wrapped stores' stats).
//
// Thread safety: safe for concurrent use from many threads, as every
// AggregateStore.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "estoria/aggregate_store.h"
#include "estoria/cached_store.h"
#include "estoria/prometheus/instrumented_event_store.h"
#include "estoria/snapshotting_store.h"

namespace estoria::metrics {

// The resolved metric objects of one instrumented aggregate store. Not for
// direct use: see InstrumentedAggregateStore.
class AggregateStoreMetrics {
 public:
  // Errors: InvalidArgument (null registry, empty label, buckets not strictly
  // increasing, a family of the same name with another type in the registry).
  static Result<std::shared_ptr<AggregateStoreMetrics>> Create(std::shared_ptr<::prometheus::Registry> registry,
                                                               const InstrumentOptions& options);
  ~AggregateStoreMetrics();

  void Load(const Status& status, double seconds);
  void Save(const Status& status, double seconds);
  // Brings the mirrored counters up to the given totals (never backwards).
  void MirrorCache(const CacheStats& stats);
  void MirrorSnapshots(const SnapshotStats& stats);

  struct Impl;

 private:
  explicit AggregateStoreMetrics(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

template <typename S>
class InstrumentedAggregateStore final : public AggregateStoreDecorator<S> {
 public:
  // Wraps `inner`. Errors: InvalidArgument when inner is null, and those of
  // AggregateStoreMetrics::Create.
  static Result<std::shared_ptr<InstrumentedAggregateStore>> Create(std::shared_ptr<AggregateStore<S>> inner,
                                                                    std::shared_ptr<::prometheus::Registry> registry,
                                                                    InstrumentOptions options = {}) {
    if (inner == nullptr) return Status::InvalidArgument("InstrumentedAggregateStore: the wrapped store is null");
    ESTORIA_ASSIGN_OR_RETURN(std::shared_ptr<AggregateStoreMetrics> metrics,
                             AggregateStoreMetrics::Create(std::move(registry), options));
    return std::shared_ptr<InstrumentedAggregateStore>(
        new InstrumentedAggregateStore(std::move(inner), std::move(metrics)));
  }

  using AggregateStore<S>::New;

  // Errors: the wrapped store's (see AggregateStore::Load).
  Result<Aggregate<S>> Load(const Uuid& id, const LoadOptions& options = {}) override {
    auto start = std::chrono::steady_clock::now();
    Result<Aggregate<S>> loaded = this->inner()->Load(id, options);
    metrics_->Load(loaded.has_value() ? Status() : loaded.error(), Since(start));
    Mirror();
    return loaded;
  }

  // Errors: the wrapped store's (see AggregateStore::Save).
  Status Save(Aggregate<S>& aggregate) override {
    if (aggregate.pending_events().empty()) return this->inner()->Save(aggregate);
    auto start = std::chrono::steady_clock::now();
    Status st = this->inner()->Save(aggregate);
    metrics_->Save(st, Since(start));
    Mirror();
    return st;
  }

 private:
  InstrumentedAggregateStore(std::shared_ptr<AggregateStore<S>> inner, std::shared_ptr<AggregateStoreMetrics> metrics)
      : AggregateStoreDecorator<S>(std::move(inner)), metrics_(std::move(metrics)) {
    // The first cache and snapshotting decorators down the chain, if any.
    AggregateStore<S>* store = this->inner().get();
    while (store != nullptr) {
      if (cache_ == nullptr) cache_ = dynamic_cast<CachedStore<S>*>(store);
      if (snapshots_ == nullptr) snapshots_ = dynamic_cast<SnapshottingStore<S>*>(store);
      auto* decorator = dynamic_cast<AggregateStoreDecorator<S>*>(store);
      store = decorator != nullptr ? decorator->inner().get() : nullptr;
    }
  }

  static double Since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  void Mirror() {
    if (cache_ != nullptr) metrics_->MirrorCache(cache_->stats());
    if (snapshots_ != nullptr) metrics_->MirrorSnapshots(snapshots_->stats());
  }

  std::shared_ptr<AggregateStoreMetrics> metrics_;
  CachedStore<S>* cache_ = nullptr;            // owned by the chain below
  SnapshottingStore<S>* snapshots_ = nullptr;  // owned by the chain below
};

}  // namespace estoria::metrics
