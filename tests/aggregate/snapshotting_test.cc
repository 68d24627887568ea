// SnapshottingStore on the memory backend, including the 10,000-event load.
#include <gtest/gtest.h>

#include <mutex>

#include "counting_event_store.h"
#include "estoria/event_sourced_store.h"
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

class RecordingLogger : public Logger {
 public:
  void Log(LogLevel level, std::string_view message) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (level >= LogLevel::kWarning) warnings_.emplace_back(message);
  }
  std::vector<std::string> warnings() {
    std::lock_guard<std::mutex> lock(mu_);
    return warnings_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> warnings_;
};

// A snapshot store whose writes fail.
class FailingSnapshotStore : public SnapshotStore {
 public:
  Status Save(const Snapshot&) override { return Status::Unavailable("disk full"); }
  Result<Snapshot> Load(const TypeId&, int64_t) override { return Status::Unavailable("offline"); }
  Result<std::vector<int64_t>> ListVersions(const TypeId&) override { return std::vector<int64_t>{}; }
  Status DeleteBelow(const TypeId&, int64_t) override { return Status::Ok(); }
};

class SnapshottingTest : public ::testing::Test {
 protected:
  std::shared_ptr<estoria::memory::MemoryEventStore> memory_ = estoria::memory::MemoryEventStore::Open().value();
  std::shared_ptr<CountingEventStore> events_ = std::make_shared<CountingEventStore>(memory_);
  std::shared_ptr<AccountStore> base_ = AccountStore::Create(events_, "account");
  std::shared_ptr<SnapshotStore> snapshots_ = estoria::memory::MemorySnapshotStore::Open().value();
  std::shared_ptr<RecordingLogger> logger_ = std::make_shared<RecordingLogger>();

  std::shared_ptr<SnapshottingStore<Account>> Make(SnapshotPolicy<Account> policy, bool background = false) {
    SnapshottingStoreOptions<Account> o;
    o.snapshots = snapshots_;
    o.policy = std::move(policy);
    o.background = background;
    o.logger = logger_;
    return SnapshottingStore<Account>::Create(base_, std::move(o));
  }
  // Saves `total` balance changes of +1 in batches of `batch` (after an Opened).
  Aggregate<Account> Build(AggregateStore<Account>& store, int total, int batch) {
    auto a = store.New().value();
    a.Append(Opened{"ann"});
    ESTORIA_EXPECT_OK(store.Save(a));
    for (int done = 0; done < total;) {
      for (int i = 0; i < batch && done < total; ++i, ++done) a.Append(BalanceChanged{1});
      ESTORIA_EXPECT_OK(store.Save(a));
    }
    return a;
  }
  std::vector<int64_t> Versions(const Aggregate<Account>& a) { return snapshots_->ListVersions(a.id()).value(); }
};

TEST_F(SnapshottingTest, WritesASnapshotEveryNEvents) {
  auto store = Make(SnapshotPolicy<Account>::EveryNEvents(10));
  auto a = Build(*store, 24, 1);  // versions 1..25
  EXPECT_EQ(Versions(a), (std::vector<int64_t>{10, 20}));
  auto a2 = Build(*store, 24, 7);  // saves end at 1, 8, 15, 22, 25
  EXPECT_EQ(Versions(a2), (std::vector<int64_t>{15, 22}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(Snapshot s, snapshots_->Load(a.id()));
  EXPECT_EQ(s.content_type, "application/json");
  EXPECT_EQ(s.schema_version, 1);
  EXPECT_EQ(JsonCodec::Decode<Account>(s.content_type, s.data).value().balance, 19);
  EXPECT_EQ(store->stats().written, 4);
  EXPECT_EQ(store->snapshot_store(), snapshots_);
  EXPECT_EQ(store->event_store(), events_);
}

TEST_F(SnapshottingTest, PredicateSeesAggregateVersionsAndTime) {
  std::vector<SnapshotContext> seen;
  auto store = Make(SnapshotPolicy<Account>::When([&](const Aggregate<Account>& a, const SnapshotContext& c) {
    seen.push_back(c);
    return a.state().balance >= 3 && c.previous_version < 4;
  }));
  Timestamp before = Now();
  auto a = Build(*store, 5, 2);  // saves end at 1, 3, 5, 6
  EXPECT_EQ(Versions(a), (std::vector<int64_t>{5}));
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[2].previous_version, 3);
  EXPECT_EQ(seen[2].version, 5);
  EXPECT_GE(seen[2].time, before);
}

TEST_F(SnapshottingTest, LoadStartsFromTheNewestSnapshotAtOrBelowTheBound) {
  auto store = Make(SnapshotPolicy<Account>::EveryNEvents(10));
  auto a = Build(*store, 24, 1);
  events_->Reset();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto latest, store->Load(a.id().uuid()));
  EXPECT_EQ(latest.version(), 25);
  EXPECT_EQ(latest.state(), a.state());
  EXPECT_EQ(events_->events_read(), 5);  // 21..25 after the snapshot at 20
  events_->Reset();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto v15, store->Load(a.id().uuid(), {.to_version = 15}));
  EXPECT_EQ(v15.version(), 15);
  EXPECT_EQ(v15.state().balance, 14);
  EXPECT_EQ(events_->events_read(), 5);  // 11..15 after the snapshot at 10
  events_->Reset();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto v5, store->Load(a.id().uuid(), {.to_version = 5}));
  EXPECT_EQ(v5.version(), 5);
  EXPECT_EQ(events_->events_read(), 5);  // no snapshot at or below 5: full replay
  events_->Reset();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto by_time, store->Load(a.id().uuid(), {.to_time = Now()}));
  EXPECT_EQ(by_time.version(), 25);
  EXPECT_EQ(events_->events_read(), 25);  // to_time loads replay in full
  EXPECT_EQ(store->stats().used, 2);
  EXPECT_TRUE(logger_->warnings().empty());
}

TEST_F(SnapshottingTest, TenThousandEventsReplayAtMostOneHundredWithSnapshots) {
  auto store = Make(SnapshotPolicy<Account>::EveryNEvents(100));
  auto a = Build(*store, 9999, 7);  // 10,000 events
  ASSERT_EQ(a.version(), 10000);

  events_->Reset();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto full, base_->Load(a.id().uuid()));
  EXPECT_EQ(events_->events_read(), 10000);
  EXPECT_EQ(full.state().balance, 9999);

  events_->Reset();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto fast, store->Load(a.id().uuid()));
  EXPECT_LE(events_->events_read(), 100);
  EXPECT_EQ(fast.version(), 10000);
  EXPECT_EQ(fast.state(), full.state());

  events_->Reset();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto past, store->Load(a.id().uuid(), {.to_version = 9950}));
  EXPECT_LE(events_->events_read(), 100);
  EXPECT_GT(events_->events_read(), 0);
  EXPECT_EQ(past.version(), 9950);
  EXPECT_EQ(past.state().balance, 9949);
}

TEST_F(SnapshottingTest, UnusableSnapshotsAreIgnoredAndLogged) {
  auto store = Make(SnapshotPolicy<Account>::EveryNEvents(0));
  auto a = Build(*store, 9, 1);
  auto put = [&](int64_t version, int schema, std::string content_type, std::string data) {
    Snapshot s;
    s.aggregate_id = a.id();
    s.version = version;
    s.timestamp = Now();
    s.schema_version = schema;
    s.content_type = std::move(content_type);
    s.data = std::move(data);
    ESTORIA_ASSERT_OK(snapshots_->Save(s));
  };
  struct Case {
    int schema;
    std::string content_type, data, expect_in_log;
  };
  std::vector<Case> cases = {
      {1, "application/json", "{broken", "invalid json"},
      {1, "application/octet-stream", "raw", "content type"},
      {2, "application/json", R"({"owner":"x","balance":999,"changes":1,"closed":false})", "schema version"},
      {1, "application/json", R"({"balance":"lots"})", "json decode"},
  };
  for (const auto& c : cases) {
    ESTORIA_ASSERT_OK(snapshots_->DeleteBelow(a.id(), 0));
    put(5, c.schema, c.content_type, c.data);
    size_t logged = logger_->warnings().size();
    events_->Reset();
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto loaded, store->Load(a.id().uuid()));
    EXPECT_EQ(loaded.state(), a.state()) << c.expect_in_log;
    EXPECT_EQ(events_->events_read(), 10) << c.expect_in_log;  // full replay
    auto warnings = logger_->warnings();
    ASSERT_EQ(warnings.size(), logged + 1) << c.expect_in_log;
    EXPECT_NE(warnings.back().find(c.expect_in_log), std::string::npos) << warnings.back();
    EXPECT_NE(warnings.back().find(a.id().ToString()), std::string::npos);
  }
  EXPECT_EQ(store->stats().ignored, 4);
  // A missing snapshot is normal: full replay, no warning.
  ESTORIA_ASSERT_OK(snapshots_->DeleteBelow(a.id(), 0));
  size_t logged = logger_->warnings().size();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto loaded, store->Load(a.id().uuid()));
  EXPECT_EQ(loaded.state(), a.state());
  EXPECT_EQ(logger_->warnings().size(), logged);
}

TEST_F(SnapshottingTest, UnreadableSnapshotStoreFallsBackToReplay) {
  SnapshottingStoreOptions<Account> o;
  o.snapshots = std::make_shared<FailingSnapshotStore>();
  o.policy = SnapshotPolicy<Account>::EveryNEvents(1);
  o.logger = logger_;
  auto store = SnapshottingStore<Account>::Create(base_, o);
  auto a = Build(*store, 2, 1);  // each save's snapshot write fails: logged, not returned
  EXPECT_EQ(store->stats().failed, 3);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto loaded, store->Load(a.id().uuid()));
  EXPECT_EQ(loaded.state(), a.state());
  EXPECT_GE(logger_->warnings().size(), 4u);

  o.report_snapshot_errors = true;
  auto strict = SnapshottingStore<Account>::Create(base_, o);
  loaded.Append(BalanceChanged{1});
  Status st = strict->Save(loaded);
  EXPECT_THAT(st, StatusIs(StatusCode::kUnavailable));
  EXPECT_TRUE(st.events_appended());
}

TEST_F(SnapshottingTest, BackgroundWriterAndFlush) {
  auto store = Make(SnapshotPolicy<Account>::EveryNEvents(10), /*background=*/true);
  auto a = Build(*store, 49, 1);
  store->Flush();
  EXPECT_EQ(Versions(a), (std::vector<int64_t>{10, 20, 30, 40, 50}));
  EXPECT_EQ(store->stats().written, 5);
  events_->Reset();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto loaded, store->Load(a.id().uuid()));
  EXPECT_EQ(loaded.state(), a.state());
  EXPECT_EQ(loaded.version(), 50);
  // Nothing to replay after the snapshot at 50: only the commit time of event 50 is read.
  EXPECT_EQ(events_->events_read(), 1);
  EXPECT_EQ(loaded.last_event_time(), a.last_event_time());
}

TEST_F(SnapshottingTest, RetentionKeepsWithinVersionsOrStoreKeepLast) {
  SnapshottingStoreOptions<Account> o;
  o.snapshots = snapshots_;
  o.policy = SnapshotPolicy<Account>::EveryNEvents(10);
  o.keep_within_versions = 15;
  auto store = SnapshottingStore<Account>::Create(base_, o);
  auto a = Build(*store, 49, 1);
  EXPECT_EQ(Versions(a), (std::vector<int64_t>{40, 50}));  // below 50 - 15 = 35 deleted
  o.keep_within_versions = 0;
  auto newest_only = SnapshottingStore<Account>::Create(base_, o);
  auto b = Build(*newest_only, 49, 1);
  EXPECT_EQ(Versions(b), (std::vector<int64_t>{50}));
  ESTORIA_ASSERT_OK(newest_only->DeleteSnapshotsBelow(b.id().uuid(), 0));
  EXPECT_TRUE(Versions(b).empty());

  o.keep_within_versions.reset();
  o.snapshots = estoria::memory::MemorySnapshotStore::Open({.retention = {.keep_last = 2}}).value();
  auto keep_two = SnapshottingStore<Account>::Create(base_, o);
  auto c = Build(*keep_two, 49, 1);
  EXPECT_EQ(o.snapshots->ListVersions(c.id()).value(), (std::vector<int64_t>{40, 50}));
}

TEST_F(SnapshottingTest, MissingSnapshotStoreIsInvalidArgument) {
  auto store = SnapshottingStore<Account>::Create(base_, SnapshottingStoreOptions<Account>{});
  EXPECT_THAT(store->Load(Uuid::NewV7()), StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace estoria
