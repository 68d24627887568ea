// The aggregate layer on the embedded SQLite backend: events and snapshots in
// one database file, read back after reopening.
#include <gtest/gtest.h>

#include <filesystem>

#include "counting_event_store.h"
#include "estoria/cached_store.h"
#include "estoria/event_sourced_store.h"
#include "estoria/hookable_store.h"
#include "estoria/snapshotting_store.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "estoria/sqlite/sqlite_snapshot_store.h"
#include "estoria/testing/matchers.h"
#include "test_types.h"

namespace estoria {
namespace {

using namespace estoria_test;  // NOLINT

using AccountStore = EventSourcedStore<Account, Opened, BalanceChanged, Closed>;

class SqliteAggregateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) / ("estoria_aggregate_" + Uuid::NewV7().ToString());
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "agg.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  struct Stores {
    std::shared_ptr<CountingEventStore> events;
    std::shared_ptr<SnapshotStore> snapshots;
    std::shared_ptr<AccountStore> base;
    std::shared_ptr<SnapshottingStore<Account>> snapshotting;
    std::shared_ptr<AggregateStore<Account>> top;
  };
  Stores Open() {
    Stores o;
    auto events = sqlite::SqliteEventStore::OpenUri("sqlite:" + path_);
    ESTORIA_EXPECT_OK(events);
    auto snapshots = sqlite::SqliteSnapshotStore::Open({.path = path_});
    ESTORIA_EXPECT_OK(snapshots);
    o.events = std::make_shared<CountingEventStore>(*events);
    o.snapshots = *snapshots;
    o.base = AccountStore::Create(o.events, "account");
    SnapshottingStoreOptions<Account> so;
    so.snapshots = o.snapshots;
    so.policy = SnapshotPolicy<Account>::EveryNEvents(100);
    so.background = true;
    o.snapshotting = SnapshottingStore<Account>::Create(o.base, so);
    auto hooked = HookableStore<Account>::Create(o.snapshotting);
    hooked->AddBeforeSave([](Aggregate<Account>& a) {
      a.MergeEventMetadata({{"correlation_id", "sqlite-test"}});
      return Status::Ok();
    });
    o.top = CachedStore<Account>::Create(hooked);
    return o;
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(SqliteAggregateTest, SnapshotsAndEventsSurviveReopen) {
  Uuid id;
  Account expected;
  {
    auto s = Open();
    auto a = s.top->New().value();
    a.Append(Opened{"ann"});
    for (int batch = 0; batch < 100; ++batch) {
      for (int i = 0; i < 10; ++i) a.Append(BalanceChanged{batch});
      ESTORIA_ASSERT_OK(s.top->Save(a));
    }
    s.snapshotting->Flush();
    id = a.id().uuid();
    expected = a.state();
    EXPECT_EQ(a.version(), 1001);
    EXPECT_EQ(s.snapshotting->stats().written, 10);
  }
  auto s = Open();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto full, s.base->Load(id));
  EXPECT_EQ(full.state(), expected);
  EXPECT_EQ(s.events->events_read(), 1001);
  s.events->Reset();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto fast, s.top->Load(id));
  EXPECT_EQ(fast.version(), 1001);
  EXPECT_EQ(fast.state(), expected);
  EXPECT_LE(s.events->events_read(), 100);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto past, s.top->Load(id, {.to_version = 555}));
  EXPECT_EQ(past.version(), 555);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto by_time, s.top->Load(id, {.to_time = fast.last_event_time()}));
  EXPECT_EQ(by_time.state(), expected);

  auto stored = Collect(*s.events->ReadStream(TypeId("account", id), {.count = 2}).value()).value();
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[1].metadata, (Metadata{{"correlation_id", "sqlite-test"}, {"estoria.schema_version", "1"}}));
}

}  // namespace
}  // namespace estoria
