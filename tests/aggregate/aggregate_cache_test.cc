// AggregateCache (issue 18): the conformance suite on LruAggregateCache, and
// CachedStore's contract over any cache: min_version, invalidation on
// conflict, TTL, a cache that fails.
#include <gtest/gtest.h>

#include <thread>

#include "aggregate_cache_conformance.h"
#include "counting_event_store.h"
#include "estoria/cached_store.h"
#include "estoria/event_sourced_store.h"
#include "estoria/memory/memory_event_store.h"
#include "estoria/testing/matchers.h"
#include "test_types.h"

namespace estoria_test {

INSTANTIATE_TEST_SUITE_P(Lru, AggregateCacheConformance,
                         ::testing::Values(CacheFactory{"lru",
                                                        [] {
                                                          return std::shared_ptr<estoria::AggregateCache>(
                                                              estoria::LruAggregateCache::Create({.capacity = 64}));
                                                        }}),
                         CacheFactoryName);

}  // namespace estoria_test

namespace estoria {
namespace {

using estoria::testing::StatusIs;
using namespace estoria_test;  // NOLINT
using namespace std::chrono_literals;

using AccountStore = EventSourcedStore<Account, Opened, BalanceChanged, Closed>;

// A cache whose every operation fails as if its server were down.
class DownCache final : public AggregateCache {
 public:
  Result<CachedAggregate> Get(std::string_view, std::string_view) override { return Down(); }
  Result<bool> Put(std::string_view, std::string_view, int64_t, std::string_view, std::chrono::milliseconds) override {
    return Down();
  }
  Result<bool> Delete(std::string_view, std::string_view) override { return Down(); }
  Result<int64_t> Clear(std::string_view) override { return Down(); }
  AggregateCacheUsage Usage(std::string_view) override { return {}; }

 private:
  static Status Down() { return Status::Unavailable("cache down"); }
};

class CachedStoreContractTest : public ::testing::Test {
 protected:
  std::shared_ptr<memory::MemoryEventStore> memory_ = memory::MemoryEventStore::Open().value();
  std::shared_ptr<CountingEventStore> events_ = std::make_shared<CountingEventStore>(memory_);
  std::shared_ptr<AccountStore> base_ = AccountStore::Create(events_, "account");

  Uuid CreateAccount(AggregateStore<Account>& store) {
    auto a = store.New().value();
    a.Append(Opened{"ann"});
    ESTORIA_EXPECT_OK(store.Save(a));
    return a.id().uuid();
  }
  void Deposit(AggregateStore<Account>& store, const Uuid& id, int64_t amount) {
    auto a = store.Load(id);
    ASSERT_TRUE(a.has_value()) << a.error();
    a->Append(BalanceChanged{amount});
    ESTORIA_ASSERT_OK(store.Save(*a));
  }
};

TEST_F(CachedStoreContractTest, AnEntryOlderThanMinVersionIsNotServed) {
  auto cached = CachedStore<Account>::Create(base_);
  Uuid id = CreateAccount(*cached);  // cached at version 1
  Deposit(*base_, id, 7);            // version 2, behind the cache's back
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto stale, cached->Load(id));
  EXPECT_EQ(stale.version(), 1);  // no minimum: the cached copy is served
  events_->Reset();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto fresh, cached->Load(id, {.min_version = 2}));
  EXPECT_EQ(fresh.version(), 2);
  EXPECT_EQ(fresh.state().balance, 7);
  EXPECT_EQ(events_->reads(), 1);
  // The load replaced the entry: the next one is a hit at version 2.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto again, cached->Load(id, {.min_version = 2}));
  EXPECT_EQ(again.version(), 2);
  EXPECT_EQ(events_->reads(), 1);
  EXPECT_THAT(cached->Load(id, {.min_version = -1}), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(CachedStoreContractTest, AConflictDeletesTheSharedEntryForEveryStore) {
  // Two stores (two "processes") sharing one cache.
  auto shared = LruAggregateCache::Create();
  auto one = CachedStore<Account>::Create(base_, {.cache = shared});
  auto two = CachedStore<Account>::Create(base_, {.cache = shared});
  Uuid id = CreateAccount(*one);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto from_two, two->Load(id));  // a hit on one's entry
  EXPECT_EQ(two->stats().hits, 1);
  Deposit(*one, id, 5);  // one saves version 2: two sees it at once
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto seen, two->Load(id));
  EXPECT_EQ(seen.version(), 2);
  EXPECT_EQ(seen.state().balance, 5);
  EXPECT_EQ(two->stats().misses, 0);
  // A stale copy's save conflicts and deletes the entry in the shared cache.
  from_two.Append(BalanceChanged{1});
  EXPECT_THAT(two->Save(from_two), StatusIs(StatusCode::kConflict));
  EXPECT_FALSE(shared->Get("account", id.ToString()).has_value());
  EXPECT_EQ(one->stats().size, 0u);
}

TEST_F(CachedStoreContractTest, EntriesExpireAfterTheTtl) {
  auto cached = CachedStore<Account>::Create(base_, {.ttl = 50ms});
  Uuid id = CreateAccount(*cached);
  events_->Reset();
  ESTORIA_ASSERT_OK(cached->Load(id));
  EXPECT_EQ(events_->reads(), 0);
  std::this_thread::sleep_for(120ms);
  ESTORIA_ASSERT_OK(cached->Load(id));
  EXPECT_EQ(events_->reads(), 1);
}

TEST_F(CachedStoreContractTest, NamespacesKeepStoresApart) {
  auto shared = LruAggregateCache::Create();
  auto a = CachedStore<Account>::Create(base_, {.cache = shared, .cache_namespace = "a"});
  auto b = CachedStore<Account>::Create(base_, {.cache = shared, .cache_namespace = "b"});
  Uuid id = CreateAccount(*a);
  EXPECT_EQ(a->cache_namespace(), "a");
  EXPECT_EQ(a->stats().size, 1u);
  EXPECT_EQ(b->stats().size, 0u);
  ESTORIA_ASSERT_OK(b->Load(id));
  EXPECT_EQ(b->stats().misses, 1);
  b->Clear();
  EXPECT_EQ(a->stats().size, 1u);
  EXPECT_EQ(CachedStore<Account>::Create(base_, {.cache = shared})->cache_namespace(), "account");
}

TEST_F(CachedStoreContractTest, ACacheThatFailsNeverFailsALoadOrSave) {
  auto cached = CachedStore<Account>::Create(base_, {.cache = std::make_shared<DownCache>()});
  Uuid id = CreateAccount(*cached);
  Deposit(*cached, id, 3);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, cached->Load(id));
  EXPECT_EQ(a.version(), 2);
  EXPECT_EQ(a.state().balance, 3);
  cached->Evict(id);
  cached->Clear();
  CacheStats s = cached->stats();
  EXPECT_EQ(s.hits, 0);
  EXPECT_GT(s.errors, 0);
}

TEST_F(CachedStoreContractTest, AnUnreadableEntryIsAMissNotAnError) {
  auto shared = LruAggregateCache::Create();
  auto cached = CachedStore<Account>::Create(base_, {.cache = shared});
  Uuid id = CreateAccount(*base_);
  ESTORIA_ASSERT_OK(shared->Put("account", id.ToString(), 1, "garbage", 0ms));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, cached->Load(id));
  EXPECT_EQ(a.state().owner, "ann");
  EXPECT_EQ(cached->stats().errors, 1);
  // The load replaced it with a readable entry.
  ESTORIA_ASSERT_OK(cached->Load(id));
  EXPECT_EQ(cached->stats().hits, 1);
}

}  // namespace
}  // namespace estoria
