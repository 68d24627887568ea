// Many threads loading and saving through a CachedStore (run under TSan).
#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <map>
#include <random>
#include <thread>

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

using namespace estoria_test;  // NOLINT

using AccountStore = EventSourcedStore<Account, Opened, BalanceChanged, Closed>;

constexpr int kThreads = 8;
constexpr int kCommandsPerThread = 150;
constexpr int kAggregates = 5;

// Runs deposit commands (load, append +1, save, retry on conflict) from many
// threads; checks each thread never loads a version older than one it saved,
// and that no deposit is lost or duplicated.
void RunDeposits(AggregateStore<Account>& store, const std::vector<Uuid>& ids,
                 const std::function<void(std::mt19937&)>& extra = nullptr) {
  std::vector<std::atomic<int64_t>> deposits(ids.size());
  std::atomic<int64_t> conflicts{0};
  std::vector<std::thread> threads;
  std::latch start(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      std::mt19937 rng(t);
      std::map<size_t, int64_t> saved_by_me;
      for (int c = 0; c < kCommandsPerThread; ++c) {
        size_t which = rng() % ids.size();
        for (int attempt = 0;; ++attempt) {
          ASSERT_LT(attempt, 1000);
          auto a = store.Load(ids[which]);
          ASSERT_TRUE(a.has_value()) << a.error();
          ASSERT_GE(a->version(), saved_by_me[which]) << "served a version older than one this thread saved";
          a->Append(BalanceChanged{1});
          Status st = store.Save(*a);
          if (st.IsConflict()) {
            conflicts.fetch_add(1);
            continue;
          }
          ASSERT_TRUE(st.ok()) << st;
          saved_by_me[which] = a->version();
          deposits[which].fetch_add(1);
          break;
        }
        if (extra) extra(rng);
      }
    });
  }
  for (auto& th : threads) th.join();
  ::testing::Test::RecordProperty("conflicts", std::to_string(conflicts.load()));
  for (size_t i = 0; i < ids.size(); ++i) {
    auto a = store.Load(ids[i]);
    ASSERT_TRUE(a.has_value()) << a.error();
    EXPECT_EQ(a->state().balance, deposits[i].load());
    EXPECT_EQ(a->version(), 1 + deposits[i].load());
  }
}

std::vector<Uuid> CreateAccounts(AggregateStore<Account>& store) {
  std::vector<Uuid> ids;
  for (int i = 0; i < kAggregates; ++i) {
    auto a = store.New().value();
    a.Append(Opened{"owner" + std::to_string(i)});
    ESTORIA_EXPECT_OK(store.Save(a));
    ids.push_back(a.id().uuid());
  }
  return ids;
}

TEST(CacheConcurrencyTest, ManyThreadsLoadAndSaveThroughASmallCache) {
  auto base = AccountStore::Create(estoria::memory::MemoryEventStore::Open().value(), "account");
  auto cached = CachedStore<Account>::Create(base, {.capacity = 3});  // fewer entries than aggregates
  auto ids = CreateAccounts(*cached);
  RunDeposits(*cached, ids, [&](std::mt19937& rng) {
    switch (rng() % 16) {
      case 0:
        cached->Evict(ids[rng() % ids.size()]);
        break;
      case 1: {
        auto old = cached->Load(ids[rng() % ids.size()], {.to_version = 1});
        ASSERT_TRUE(old.has_value()) << old.error();
        EXPECT_EQ(old->version(), 1);
        break;
      }
      case 2:
        if (rng() % 8 == 0) cached->Clear();
        break;
      default:
        break;
    }
  });
  CacheStats s = cached->stats();
  EXPECT_GT(s.hits, 0);
  EXPECT_GT(s.evictions, 0);
  EXPECT_LE(s.size, 3u);
  // The cache agrees with a full replay.
  for (const auto& id : ids) {
    EXPECT_EQ(cached->Load(id).value().state(), base->Load(id).value().state());
  }
}

// Capacity evictions between a save's commit and its cache update used to let
// an older saved version back into the cache; this runs that race hot.
TEST(CacheConcurrencyTest, SavesRacingWithEvictionsNeverServeAnOlderVersion) {
  auto base = AccountStore::Create(estoria::memory::MemoryEventStore::Open().value(), "account");
  auto cached = CachedStore<Account>::Create(base, {.capacity = 1});
  auto ids = CreateAccounts(*cached);
  RunDeposits(*cached, ids);
}

TEST(CacheConcurrencyTest, ManyThreadsThroughTheWholeChain) {
  auto base = AccountStore::Create(estoria::memory::MemoryEventStore::Open().value(), "account");
  SnapshottingStoreOptions<Account> o;
  o.snapshots = estoria::memory::MemorySnapshotStore::Open({.retention = {.keep_last = 3}}).value();
  o.policy = SnapshotPolicy<Account>::EveryNEvents(20);
  o.background = true;
  auto snapshotting = SnapshottingStore<Account>::Create(base, o);
  auto hooked = HookableStore<Account>::Create(snapshotting);
  std::atomic<int64_t> stamped{0};
  hooked->AddBeforeSave([&](Aggregate<Account>& a) {
    a.MergeEventMetadata({{"correlation_id", "c"}});
    stamped.fetch_add(1);
    return Status::Ok();
  });
  auto cached = CachedStore<Account>::Create(hooked, {.capacity = 4});
  auto ids = CreateAccounts(*cached);
  RunDeposits(*cached, ids);
  snapshotting->Flush();
  EXPECT_GT(snapshotting->stats().written, 0);
  EXPECT_GE(stamped.load(), kThreads * kCommandsPerThread);
  for (const auto& id : ids) {
    auto from_snapshot = snapshotting->Load(id);
    ASSERT_TRUE(from_snapshot.has_value()) << from_snapshot.error();
    EXPECT_EQ(from_snapshot->state(), base->Load(id).value().state());
  }
}

}  // namespace
}  // namespace estoria
