// InstrumentedAggregateStore: loads, saves, conflicts and the cache and
// snapshot counters mirrored from the chain move by what a scripted workload did.
#include "estoria/prometheus/instrumented_aggregate_store.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include "../aggregate/test_types.h"
#include "estoria/event_sourced_store.h"
#include "estoria/memory/memory_stores.h"
#include "estoria/open.h"
#include "estoria/testing/matchers.h"
#include "prometheus_metrics_test.h"

namespace estoria::metrics {
namespace {

using estoria_test::Account;
using estoria_test::BalanceChanged;
using estoria_test::MetricValue;
using estoria_test::Opened;
using AccountStore = EventSourcedStore<Account, Opened, BalanceChanged>;

double Value(const prometheus::Registry& registry, const std::string& name,
             std::map<std::string, std::string> labels = {}) {
  labels.emplace("store", "accounts");
  return MetricValue(registry, name, labels).value_or(-1);
}

TEST(InstrumentedAggregateStoreTest, ScriptedWorkloadOverCacheAndSnapshots) {
  auto events = OpenEventStore("memory:").value();
  SnapshottingStoreOptions<Account> snapshot_options;
  snapshot_options.snapshots = memory::MemorySnapshotStore::Open().value();
  snapshot_options.policy = SnapshotPolicy<Account>::EveryNEvents(2);
  auto snapshotting = SnapshottingStore<Account>::Create(AccountStore::Create(events, "account"), snapshot_options);
  auto cached = CachedStore<Account>::Create(snapshotting, {.capacity = 1});
  auto registry = std::make_shared<prometheus::Registry>();
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto store, InstrumentedAggregateStore<Account>::Create(cached, registry,
                                                              {.labels = {.backend = "memory", .store = "accounts"}}));
  EXPECT_EQ(store->snapshot_store(), snapshot_options.snapshots);

  auto a = store->New().value();
  a.Append(Opened{"ann"}, BalanceChanged{5});
  ESTORIA_ASSERT_OK(store->Save(a));              // version 2: a snapshot
  ESTORIA_ASSERT_OK(store->Save(a));              // nothing pending: not counted
  ESTORIA_ASSERT_OK(store->Load(a.id().uuid()));  // cache hit
  auto b = store->New().value();
  b.Append(Opened{"bob"});
  ESTORIA_ASSERT_OK(store->Save(b));                             // evicts a (capacity 1)
  ESTORIA_ASSERT_OK(store->Load(a.id().uuid()));                 // miss: loaded from the snapshot
  EXPECT_TRUE(store->Load(Uuid::NewV7()).error().IsNotFound());  // miss, not found

  // A stale copy of b conflicts.
  auto stale = b;
  b.Append(BalanceChanged{1});
  ESTORIA_ASSERT_OK(store->Save(b));
  stale.Append(BalanceChanged{2});
  EXPECT_TRUE(store->Save(stale).IsConflict());

  EXPECT_EQ(Value(*registry, "estoria_aggregate_saves_total"), 3);
  EXPECT_EQ(Value(*registry, "estoria_aggregate_save_duration_seconds"), 4);
  EXPECT_EQ(Value(*registry, "estoria_aggregate_save_conflicts_total"), 1);
  EXPECT_EQ(Value(*registry, "estoria_aggregate_errors_total", {{"operation", "save"}, {"code", "conflict"}}), 1);
  EXPECT_EQ(Value(*registry, "estoria_aggregate_loads_total"), 2);
  EXPECT_EQ(Value(*registry, "estoria_aggregate_load_duration_seconds"), 3);
  EXPECT_EQ(Value(*registry, "estoria_aggregate_errors_total", {{"operation", "load"}, {"code", "not_found"}}), 1);
  CacheStats cache = cached->stats();
  EXPECT_EQ(cache.hits, 1);
  EXPECT_EQ(Value(*registry, "estoria_aggregate_cache_hits_total"), 1);
  EXPECT_EQ(Value(*registry, "estoria_aggregate_cache_misses_total"), 2);
  EXPECT_EQ(Value(*registry, "estoria_aggregate_cache_evictions_total"), static_cast<double>(cache.evictions));
  EXPECT_GE(cache.evictions, 2);  // capacity, and the failed save
  EXPECT_EQ(Value(*registry, "estoria_aggregate_snapshot_loads_total"), 1);
  EXPECT_EQ(Value(*registry, "estoria_aggregate_snapshots_written_total"),
            static_cast<double>(snapshotting->stats().written));
  EXPECT_GE(snapshotting->stats().written, 1);
}

TEST(InstrumentedAggregateStoreTest, WithoutCacheOrSnapshotsTheirCountersStayZero) {
  auto registry = std::make_shared<prometheus::Registry>();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, InstrumentedAggregateStore<Account>::Create(
                                               AccountStore::Create(OpenEventStore("memory:").value(), "account"),
                                               registry, {.labels = {.store = "accounts"}}));
  auto a = store->New().value();
  a.Append(Opened{"ann"});
  ESTORIA_ASSERT_OK(store->Save(a));
  ESTORIA_ASSERT_OK(store->Load(a.id().uuid()));
  EXPECT_EQ(Value(*registry, "estoria_aggregate_loads_total", {{"backend", "unknown"}}), 1);
  EXPECT_EQ(Value(*registry, "estoria_aggregate_cache_hits_total"), 0);
  EXPECT_EQ(Value(*registry, "estoria_aggregate_snapshot_loads_total"), 0);
  EXPECT_TRUE(InstrumentedAggregateStore<Account>::Create(nullptr, registry).error().IsInvalidArgument());
}

}  // namespace
}  // namespace estoria::metrics
