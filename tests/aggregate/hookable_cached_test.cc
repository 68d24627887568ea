// HookableStore and CachedStore on the memory backend.
#include <gtest/gtest.h>

#include <stdexcept>

#include "counting_event_store.h"
#include "estoria/cached_store.h"
#include "estoria/event_sourced_store.h"
#include "estoria/hookable_store.h"
#include "estoria/memory/memory_event_store.h"
#include "estoria/testing/matchers.h"
#include "test_types.h"

namespace estoria {
namespace {

using estoria::testing::StatusIs;
using namespace estoria_test;  // NOLINT

using AccountStore = EventSourcedStore<Account, Opened, BalanceChanged, Closed>;

class DecoratorTest : public ::testing::Test {
 protected:
  std::shared_ptr<estoria::memory::MemoryEventStore> memory_ = estoria::memory::MemoryEventStore::Open().value();
  std::shared_ptr<CountingEventStore> events_ = std::make_shared<CountingEventStore>(memory_);
  std::shared_ptr<AccountStore> base_ = AccountStore::Create(events_, "account");

  Uuid CreateAccount(AggregateStore<Account>& store, int changes) {
    auto a = store.New().value();
    a.Append(Opened{"ann"});
    for (int i = 0; i < changes; ++i) a.Append(BalanceChanged{1});
    ESTORIA_EXPECT_OK(store.Save(a));
    return a.id().uuid();
  }
  std::vector<Event> Stream(const Uuid& id) {
    return Collect(*memory_->ReadStream(TypeId("account", id)).value()).value();
  }
};

// ---- HookableStore -----------------------------------------------------------

TEST_F(DecoratorTest, HooksRunInRegistrationOrderAroundEachOperation) {
  auto hooked = HookableStore<Account>::Create(base_);
  std::vector<std::string> calls;
  auto record = [&](std::string name) {
    return [&calls, name](Aggregate<Account>&) {
      calls.push_back(name);
      return Status::Ok();
    };
  };
  hooked->AddBeforeLoad([&](const Uuid&, const LoadOptions&) {
    calls.push_back("before-load");
    return Status::Ok();
  });
  hooked->AddAfterLoad(record("after-load-1")).AddAfterLoad(record("after-load-2"));
  hooked->AddBeforeHydrate([&](Aggregate<Account>&, const HydrateOptions&) {
    calls.push_back("before-hydrate");
    return Status::Ok();
  });
  hooked->AddAfterHydrate(record("after-hydrate"));
  hooked->AddBeforeSave(record("before-save-1")).AddBeforeSave(record("before-save-2"));
  hooked->AddAfterSave(record("after-save"));

  Uuid id = CreateAccount(*hooked, 2);
  EXPECT_EQ(calls, (std::vector<std::string>{"before-save-1", "before-save-2", "after-save"}));
  calls.clear();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, hooked->Load(id, {.to_version = 1}));
  ESTORIA_ASSERT_OK(hooked->Hydrate(a));
  EXPECT_EQ(a.version(), 3);
  EXPECT_EQ(calls, (std::vector<std::string>{"before-load", "after-load-1", "after-load-2", "before-hydrate",
                                             "after-hydrate"}));
}

TEST_F(DecoratorTest, FirstFailingHookStopsTheOperation) {
  auto hooked = HookableStore<Account>::Create(base_);
  Uuid id = CreateAccount(*hooked, 0);
  bool second_ran = false;
  hooked->AddBeforeSave([](Aggregate<Account>&) { return Status::FailedPrecondition("frozen"); });
  hooked->AddBeforeSave([&](Aggregate<Account>&) {
    second_ran = true;
    return Status::Ok();
  });
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, hooked->Load(id));
  a.Append(BalanceChanged{5});
  EXPECT_THAT(hooked->Save(a), StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_FALSE(second_ran);
  EXPECT_EQ(Stream(id).size(), 1u);  // nothing written
  EXPECT_EQ(a.version(), 1);

  events_->Reset();
  hooked->AddBeforeLoad([](const Uuid&, const LoadOptions&) { return Status::NotFound("hidden"); });
  EXPECT_THAT(hooked->Load(id), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(events_->reads(), 0);  // the wrapped store was not called
}

TEST_F(DecoratorTest, FailingAfterSaveHookReportsEventsAppended) {
  auto hooked = HookableStore<Account>::Create(base_);
  hooked->AddAfterSave([](Aggregate<Account>&) { return Status::Unavailable("outbox down"); });
  auto a = hooked->New().value();
  a.Append(Opened{"ann"});
  Status st = hooked->Save(a);
  EXPECT_THAT(st, StatusIs(StatusCode::kUnavailable));
  EXPECT_TRUE(st.events_appended());
  EXPECT_EQ(Stream(a.id().uuid()).size(), 1u);
}

TEST_F(DecoratorTest, HookExceptionsBecomeInternal) {
  auto hooked = HookableStore<Account>::Create(base_);
  Uuid id = CreateAccount(*hooked, 0);
  hooked->AddAfterLoad([](Aggregate<Account>&) -> Status { throw std::runtime_error("hook bug"); });
  auto r = hooked->Load(id);
  ASSERT_THAT(r, StatusIs(StatusCode::kInternal));
  EXPECT_NE(r.error().message().find("hook bug"), std::string::npos);
}

TEST_F(DecoratorTest, BeforeSaveHookStampsCorrelationAndCausationIds) {
  auto hooked = HookableStore<Account>::Create(base_);
  // A request context, as a command handler would carry it.
  struct Request {
    std::string correlation_id;
    std::string causation_id;
  };
  thread_local Request current;
  hooked->AddBeforeSave([](Aggregate<Account>& a) {
    a.MergeEventMetadata({{"correlation_id", current.correlation_id}, {"causation_id", current.causation_id}});
    return Status::Ok();
  });
  current = {"corr-1", "cmd-open"};
  auto a = hooked->New().value();
  a.AppendWithMetadata(Opened{"ann"}, {{"user", "u7"}});
  a.Append(BalanceChanged{10});
  ESTORIA_ASSERT_OK(hooked->Save(a));
  current = {"corr-1", "cmd-deposit"};
  a.Append(BalanceChanged{5});
  ESTORIA_ASSERT_OK(hooked->Save(a));

  auto stored = Stream(a.id().uuid());
  ASSERT_EQ(stored.size(), 3u);
  for (const auto& e : stored) EXPECT_EQ(e.metadata.at("correlation_id"), "corr-1");
  EXPECT_EQ(stored[0].metadata.at("causation_id"), "cmd-open");
  EXPECT_EQ(stored[0].metadata.at("user"), "u7");
  EXPECT_EQ(stored[1].metadata.at("causation_id"), "cmd-open");
  EXPECT_EQ(stored[2].metadata.at("causation_id"), "cmd-deposit");
}

// ---- CachedStore -------------------------------------------------------------

TEST_F(DecoratorTest, CacheServesRepeatedLoadsWithoutReading) {
  auto cached = CachedStore<Account>::Create(base_);
  Uuid id = CreateAccount(*base_, 3);
  events_->Reset();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto first, cached->Load(id));
  EXPECT_EQ(events_->reads(), 1);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto second, cached->Load(id));
  EXPECT_EQ(events_->reads(), 1);
  EXPECT_EQ(second.version(), 4);
  EXPECT_EQ(second.state(), first.state());
  EXPECT_EQ(cached->stats().hits, 1);
  EXPECT_EQ(cached->stats().misses, 1);
  // Changing a returned copy does not change the cached one.
  second.Append(BalanceChanged{100});
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto third, cached->Load(id));
  EXPECT_FALSE(third.has_pending_events());
}

TEST_F(DecoratorTest, CacheKeepsTheSavedVersion) {
  auto cached = CachedStore<Account>::Create(base_);
  Uuid id = CreateAccount(*cached, 1);
  events_->Reset();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, cached->Load(id));
  EXPECT_EQ(events_->reads(), 0);  // cached by the save
  a.Append(BalanceChanged{5});
  ESTORIA_ASSERT_OK(cached->Save(a));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto b, cached->Load(id));
  EXPECT_EQ(b.version(), 3);
  EXPECT_EQ(b.state().balance, 6);
  EXPECT_EQ(events_->reads(), 0);
}

TEST_F(DecoratorTest, ConflictingSaveEvictsAndReloadSeesTheWinner) {
  auto cached = CachedStore<Account>::Create(base_);
  Uuid id = CreateAccount(*cached, 0);
  // Another process appends behind the cache's back.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto other, base_->Load(id));
  other.Append(BalanceChanged{50});
  ESTORIA_ASSERT_OK(base_->Save(other));

  ESTORIA_ASSERT_OK_AND_ASSIGN(auto stale, cached->Load(id));
  EXPECT_EQ(stale.version(), 1);  // served from the cache
  stale.Append(BalanceChanged{1});
  EXPECT_THAT(cached->Save(stale), StatusIs(StatusCode::kConflict));
  EXPECT_EQ(cached->stats().size, 0u);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto fresh, cached->Load(id));
  EXPECT_EQ(fresh.version(), 2);
  EXPECT_EQ(fresh.state().balance, 50);
}

TEST_F(DecoratorTest, BoundedLoadsBypassTheCache) {
  auto cached = CachedStore<Account>::Create(base_);
  Uuid id = CreateAccount(*cached, 3);
  events_->Reset();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto v2, cached->Load(id, {.to_version = 2}));
  EXPECT_EQ(v2.version(), 2);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto now, cached->Load(id, {.to_time = Now()}));
  EXPECT_EQ(now.version(), 4);
  EXPECT_EQ(events_->reads(), 2);
  EXPECT_EQ(cached->stats().bypassed, 2);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto latest, cached->Load(id));
  EXPECT_EQ(latest.version(), 4);  // the cached entry was not replaced by a bounded load
  EXPECT_EQ(events_->reads(), 2);
}

TEST_F(DecoratorTest, CacheIsABoundedLru) {
  auto cached = CachedStore<Account>::Create(base_, {.capacity = 2});
  Uuid a = CreateAccount(*base_, 0), b = CreateAccount(*base_, 0), c = CreateAccount(*base_, 0);
  ESTORIA_ASSERT_OK(cached->Load(a));
  ESTORIA_ASSERT_OK(cached->Load(b));
  ESTORIA_ASSERT_OK(cached->Load(a));  // a is now the most recently used
  ESTORIA_ASSERT_OK(cached->Load(c));  // evicts b
  EXPECT_EQ(cached->stats().size, 2u);
  EXPECT_EQ(cached->stats().evictions, 1);
  events_->Reset();
  ESTORIA_ASSERT_OK(cached->Load(a));
  ESTORIA_ASSERT_OK(cached->Load(c));
  EXPECT_EQ(events_->reads(), 0);
  ESTORIA_ASSERT_OK(cached->Load(b));
  EXPECT_EQ(events_->reads(), 1);
  cached->Clear();
  EXPECT_EQ(cached->stats().size, 0u);
}

TEST_F(DecoratorTest, CacheForwardsErrorsAndCapabilities) {
  auto cached = CachedStore<Account>::Create(base_, {.capacity = 0});
  EXPECT_THAT(cached->Load(Uuid::NewV7()), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(cached->event_store(), events_);
  EXPECT_EQ(cached->aggregate_type(), "account");
  EXPECT_EQ(cached->snapshot_store(), nullptr);
  Uuid id = CreateAccount(*cached, 0);
  ESTORIA_ASSERT_OK(cached->Load(id));
  EXPECT_EQ(cached->stats().size, 0u);  // capacity 0 disables caching
}

}  // namespace
}  // namespace estoria
