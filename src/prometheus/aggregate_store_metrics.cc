#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <exception>
#include <mutex>
#include <utility>

#include "estoria/prometheus/instrumented_aggregate_store.h"

namespace estoria::metrics {

struct AggregateStoreMetrics::Impl {
  std::shared_ptr<::prometheus::Registry> registry;  // keeps the references below valid
  ::prometheus::Labels base;
  ::prometheus::Counter* loads = nullptr;
  ::prometheus::Histogram* load_seconds = nullptr;
  ::prometheus::Counter* saves = nullptr;
  ::prometheus::Histogram* save_seconds = nullptr;
  ::prometheus::Counter* save_conflicts = nullptr;
  ::prometheus::Family<::prometheus::Counter>* errors = nullptr;
  ::prometheus::Counter* cache_hits = nullptr;
  ::prometheus::Counter* cache_misses = nullptr;
  ::prometheus::Counter* cache_evictions = nullptr;
  ::prometheus::Counter* snapshot_loads = nullptr;
  ::prometheus::Counter* snapshots_written = nullptr;

  std::mutex mu;  // guards the last mirrored totals
  CacheStats cache_seen;
  SnapshotStats snapshots_seen;

  void Error(const char* operation, const Status& status) {
    ::prometheus::Labels labels = base;
    labels.emplace("operation", operation);
    labels.emplace("code", StatusCodeLabel(status.code()));
    errors->Add(labels).Increment();
  }
};

namespace {

void Advance(::prometheus::Counter* counter, int64_t& seen, int64_t now) {
  if (now > seen) {
    counter->Increment(static_cast<double>(now - seen));
    seen = now;
  }
}

::prometheus::Counter* AddCounter(::prometheus::Registry& r, const ::prometheus::Labels& base, const char* name,
                                  const char* help) {
  return &::prometheus::BuildCounter().Name(name).Help(help).Register(r).Add(base);
}

}  // namespace

Result<std::shared_ptr<AggregateStoreMetrics>> AggregateStoreMetrics::Create(
    std::shared_ptr<::prometheus::Registry> registry, const InstrumentOptions& options) {
  if (registry == nullptr) return Status::InvalidArgument("InstrumentedAggregateStore: the registry is null");
  if (options.labels.backend.empty() || options.labels.store.empty()) {
    return Status::InvalidArgument("InstrumentedAggregateStore: the backend and store labels must not be empty");
  }
  if (options.latency_buckets.empty()) return Status::InvalidArgument("InstrumentedAggregateStore: no buckets");
  for (size_t i = 1; i < options.latency_buckets.size(); ++i) {
    if (!(options.latency_buckets[i - 1] < options.latency_buckets[i])) {
      return Status::InvalidArgument("InstrumentedAggregateStore: the latency buckets must be strictly increasing");
    }
  }
  auto impl = std::make_unique<Impl>();
  impl->base = {{"backend", options.labels.backend}, {"store", options.labels.store}};
  ::prometheus::Registry& r = *registry;
  const ::prometheus::Labels& base = impl->base;
  try {
    impl->loads = AddCounter(r, base, "estoria_aggregate_loads_total", "Aggregate loads that succeeded.");
    impl->load_seconds = &::prometheus::BuildHistogram()
                              .Name("estoria_aggregate_load_duration_seconds")
                              .Help("Latency of every aggregate load.")
                              .Register(r)
                              .Add(base, options.latency_buckets);
    impl->saves = AddCounter(r, base, "estoria_aggregate_saves_total", "Aggregate saves that wrote events.");
    impl->save_seconds = &::prometheus::BuildHistogram()
                              .Name("estoria_aggregate_save_duration_seconds")
                              .Help("Latency of every aggregate save with pending events.")
                              .Register(r)
                              .Add(base, options.latency_buckets);
    impl->save_conflicts = AddCounter(r, base, "estoria_aggregate_save_conflicts_total",
                                      "Aggregate saves refused because another writer got there first.");
    impl->errors = &::prometheus::BuildCounter()
                        .Name("estoria_aggregate_errors_total")
                        .Help("Aggregate loads and saves that failed, by operation and status code.")
                        .Register(r);
    impl->cache_hits = AddCounter(r, base, "estoria_aggregate_cache_hits_total", "Loads served by the cache.");
    impl->cache_misses =
        AddCounter(r, base, "estoria_aggregate_cache_misses_total", "Latest-state loads the cache did not hold.");
    impl->cache_evictions = AddCounter(r, base, "estoria_aggregate_cache_evictions_total",
                                       "Cache entries dropped for capacity or after a failed save.");
    impl->snapshot_loads =
        AddCounter(r, base, "estoria_aggregate_snapshot_loads_total", "Loads that started from a snapshot.");
    impl->snapshots_written = AddCounter(r, base, "estoria_aggregate_snapshots_written_total", "Snapshots written.");
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("prometheus registry: ") + e.what());
  }
  impl->registry = std::move(registry);
  return std::shared_ptr<AggregateStoreMetrics>(new AggregateStoreMetrics(std::move(impl)));
}

AggregateStoreMetrics::AggregateStoreMetrics(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AggregateStoreMetrics::~AggregateStoreMetrics() = default;

void AggregateStoreMetrics::Load(const Status& status, double seconds) {
  impl_->load_seconds->Observe(seconds);
  if (status.ok()) {
    impl_->loads->Increment();
  } else {
    impl_->Error("load", status);
  }
}

void AggregateStoreMetrics::Save(const Status& status, double seconds) {
  impl_->save_seconds->Observe(seconds);
  if (status.ok() || status.events_appended()) {
    impl_->saves->Increment();
  }
  if (status.IsConflict()) impl_->save_conflicts->Increment();
  if (!status.ok()) impl_->Error("save", status);
}

void AggregateStoreMetrics::MirrorCache(const CacheStats& stats) {
  std::lock_guard lock(impl_->mu);
  Advance(impl_->cache_hits, impl_->cache_seen.hits, stats.hits);
  Advance(impl_->cache_misses, impl_->cache_seen.misses, stats.misses);
  Advance(impl_->cache_evictions, impl_->cache_seen.evictions, stats.evictions);
}

void AggregateStoreMetrics::MirrorSnapshots(const SnapshotStats& stats) {
  std::lock_guard lock(impl_->mu);
  Advance(impl_->snapshot_loads, impl_->snapshots_seen.used, stats.used);
  Advance(impl_->snapshots_written, impl_->snapshots_seen.written, stats.written);
}

}  // namespace estoria::metrics
