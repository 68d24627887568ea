// The decorators composed in different orders keep every behaviour and
// capability of what they wrap.
#include <gtest/gtest.h>

#include <functional>

#include "counting_event_store.h"
#include "estoria/cached_store.h"
#include "estoria/event_sourced_store.h"
#include "estoria/hookable_store.h"
#include "estoria/memory/memory_event_store.h"
#include "estoria/memory/memory_stores.h"
#include "estoria/snapshotting_store.h"
#include "estoria/testing/matchers.h"
#include "test_types.h"

namespace estoria {
namespace {

using estoria::testing::StatusIs;
using namespace estoria_test;  // NOLINT

using AccountStore = EventSourcedStore<Account, Opened, BalanceChanged, Closed>;
using StorePtr = std::shared_ptr<AggregateStore<Account>>;

struct Layers {
  std::shared_ptr<SnapshotStore> snapshots;
  StorePtr Snap(StorePtr inner) const {
    SnapshottingStoreOptions<Account> o;
    o.snapshots = snapshots;
    o.policy = SnapshotPolicy<Account>::EveryNEvents(100);
    return SnapshottingStore<Account>::Create(std::move(inner), o);
  }
  static StorePtr Cache(StorePtr inner) { return CachedStore<Account>::Create(std::move(inner), {.capacity = 8}); }
  static StorePtr Hook(StorePtr inner) {
    auto h = HookableStore<Account>::Create(std::move(inner));
    h->AddBeforeSave([](Aggregate<Account>& a) {
      a.MergeEventMetadata({{"tenant", "t1"}});
      return Status::Ok();
    });
    return h;
  }
};

struct Order {
  std::string name;
  std::function<StorePtr(const Layers&, StorePtr)> build;
};

class ComposeTest : public ::testing::TestWithParam<Order> {
 protected:
  std::shared_ptr<estoria::memory::MemoryEventStore> memory_ = estoria::memory::MemoryEventStore::Open().value();
  std::shared_ptr<CountingEventStore> events_ = std::make_shared<CountingEventStore>(memory_);
  Layers layers_{estoria::memory::MemorySnapshotStore::Open().value()};
  StorePtr store_ = GetParam().build(layers_, AccountStore::Create(events_, "account"));
};

TEST_P(ComposeTest, EveryBehaviourSurvivesTheComposition) {
  // Capabilities are forwarded through every layer.
  EXPECT_EQ(store_->event_store(), events_);
  EXPECT_EQ(store_->snapshot_store(), layers_.snapshots);
  EXPECT_EQ(store_->aggregate_type(), "account");

  // Save 1 + 250 events in batches of 10: hooks stamp, snapshots at 101, 201.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, store_->New());
  a.Append(Opened{"ann"});
  for (int batch = 0; batch < 25; ++batch) {
    for (int i = 0; i < 10; ++i) a.Append(BalanceChanged{1});
    ESTORIA_ASSERT_OK(store_->Save(a));
  }
  EXPECT_EQ(a.version(), 251);
  EXPECT_EQ(layers_.snapshots->ListVersions(a.id()).value(), (std::vector<int64_t>{101, 201}));
  auto stored = Collect(*memory_->ReadStream(a.id()).value()).value();
  ASSERT_EQ(stored.size(), 251u);
  for (const auto& e : stored) ASSERT_EQ(e.metadata.at("tenant"), "t1");

  // Latest and bounded loads.
  events_->Reset();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto latest, store_->Load(a.id().uuid()));
  EXPECT_EQ(latest.version(), 251);
  EXPECT_EQ(latest.state(), a.state());
  EXPECT_LE(events_->events_read(), 100);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto v150, store_->Load(a.id().uuid(), {.to_version = 150}));
  EXPECT_EQ(v150.version(), 150);
  EXPECT_EQ(v150.state().balance, 149);

  // Conflict leaves the loser unchanged; reload and retry succeeds.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto first, store_->Load(a.id().uuid()));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto second, store_->Load(a.id().uuid()));
  first.Append(BalanceChanged{10});
  ESTORIA_ASSERT_OK(store_->Save(first));
  second.Append(BalanceChanged{20});
  ASSERT_THAT(store_->Save(second), StatusIs(StatusCode::kConflict));
  EXPECT_EQ(second.version(), 251);
  EXPECT_EQ(second.pending_events().size(), 1u);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto retry, store_->Load(a.id().uuid()));
  EXPECT_EQ(retry.version(), 252);  // never the stale 251
  retry.Append(BalanceChanged{20});
  ESTORIA_ASSERT_OK(store_->Save(retry));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto final_state, store_->Load(a.id().uuid()));
  EXPECT_EQ(final_state.version(), 253);
  EXPECT_EQ(final_state.state().balance, 250 + 10 + 20);
  EXPECT_THAT(store_->Load(Uuid::NewV7()), StatusIs(StatusCode::kNotFound));
}

INSTANTIATE_TEST_SUITE_P(
    Orders, ComposeTest,
    ::testing::Values(Order{"HookCacheSnap", [](const Layers& l, StorePtr s) { return l.Hook(l.Cache(l.Snap(s))); }},
                      Order{"SnapCacheHook", [](const Layers& l, StorePtr s) { return l.Snap(l.Cache(l.Hook(s))); }},
                      Order{"CacheHookSnap", [](const Layers& l, StorePtr s) { return l.Cache(l.Hook(l.Snap(s))); }},
                      Order{"HookSnapCache", [](const Layers& l, StorePtr s) { return l.Hook(l.Snap(l.Cache(s))); }},
                      Order{"SnapHookCache", [](const Layers& l, StorePtr s) { return l.Snap(l.Hook(l.Cache(s))); }}),
    [](const ::testing::TestParamInfo<Order>& info) { return info.param.name; });

}  // namespace
}  // namespace estoria
