// Snapshot upcasters: a snapshot stored at an older state schema version is
// upcast and used (only the events after it are read); one with no path to
// the current version, or newer than it, is ignored with a full replay. On
// the memory stores and on a SQLite file (events and snapshots).
#include <gtest/gtest.h>

#include <mutex>
#include <stdexcept>

#include "counting_event_store.h"
#include "estoria/event_sourced_store.h"
#include "estoria/memory/memory_event_store.h"
#include "estoria/memory/memory_stores.h"
#include "estoria/snapshotting_store.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "estoria/sqlite/sqlite_snapshot_store.h"
#include "estoria/testing/matchers.h"
#include "estoria/testing/temp_dir.h"

namespace estoria {
namespace {

using estoria::testing::StatusIs;
using estoria_test::CountingEventStore;

// The state as an old build kept it (schema version 1)...
struct TallyV1 {
  int64_t total = 0;
  int64_t count = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TallyV1, total, count)

// ...and the current one (schema version 2: renamed fields).
struct Tally {
  static constexpr int kSchemaVersion = 2;
  int64_t sum = 0;
  int64_t n = 0;
  friend bool operator==(const Tally&, const Tally&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Tally, sum, n)

struct Added {
  static constexpr std::string_view kType = "added";
  int64_t amount = 0;
  void ApplyTo(TallyV1& t) const {
    t.total += amount;
    ++t.count;
  }
  void ApplyTo(Tally& t) const {
    t.sum += amount;
    ++t.n;
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Added, amount)

Upcaster TallyV1ToV2() {
  return JsonUpcaster([](nlohmann::json& j) {
    if (j.at("total").get<int64_t>() < 0) throw std::runtime_error("negative total");
    j = nlohmann::json{{"sum", j.at("total")}, {"n", j.at("count")}};
  });
}

class WarningLogger : public Logger {
 public:
  void Log(LogLevel level, std::string_view message) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (level >= LogLevel::kWarning) warnings_.emplace_back(message);
  }
  std::string last() {
    std::lock_guard<std::mutex> lock(mu_);
    return warnings_.empty() ? "" : warnings_.back();
  }

 private:
  std::mutex mu_;
  std::vector<std::string> warnings_;
};

struct Backend {
  const char* name;
  std::function<Status(estoria::testing::TempDir& dir, std::shared_ptr<EventStore>* events,
                       std::shared_ptr<SnapshotStore>* snapshots)>
      open;
};

class SnapshotUpcastTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::shared_ptr<EventStore> inner;
    ESTORIA_ASSERT_OK(GetParam().open(dir_, &inner, &snapshots_));
    events_ = std::make_shared<CountingEventStore>(inner);
    current_ = EventSourcedStore<Tally, Added>::Create(events_, "tally");
    // The old build: 25 events, a v1 snapshot at version 20.
    SnapshottingStoreOptions<TallyV1> o;
    o.snapshots = snapshots_;
    o.policy = SnapshotPolicy<TallyV1>::EveryNEvents(10);
    o.keep_within_versions = 0;
    auto old_store = SnapshottingStore<TallyV1>::Create(EventSourcedStore<TallyV1, Added>::Create(events_, "tally"), o);
    auto t = old_store->New().value();
    for (int i = 1; i <= 25; ++i) {
      t.Append(Added{i});
      if (i % 5 == 0) {
        ESTORIA_ASSERT_OK(old_store->Save(t));
      }
    }
    id_ = t.id();
    ESTORIA_ASSERT_OK_AND_ASSIGN(Snapshot s, snapshots_->Load(id_));
    ASSERT_EQ(s.version, 20);
    ASSERT_EQ(s.schema_version, 1);
    // What a full replay gives with the current build.
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto full, current_->Load(id_.uuid()));
    expected_ = full.state();
    ASSERT_EQ(expected_, (Tally{325, 25}));
    events_->Reset();
  }

  std::shared_ptr<SnapshottingStore<Tally>> Make(SnapshotUpcasterRegistry upcasters) {
    SnapshottingStoreOptions<Tally> o;
    o.snapshots = snapshots_;
    o.policy = SnapshotPolicy<Tally>::EveryNEvents(0);  // write none: the stored v1 snapshot stays
    o.logger = logger_;
    o.upcasters = std::move(upcasters);
    return SnapshottingStore<Tally>::Create(current_, std::move(o));
  }
  // Loads with `store`, checks the state, returns the events read.
  int64_t LoadAndCount(SnapshottingStore<Tally>& store) {
    events_->Reset();
    auto loaded = store.Load(id_.uuid());
    EXPECT_TRUE(loaded.ok()) << loaded.error();
    if (!loaded.ok()) return -1;
    EXPECT_EQ(loaded->state(), expected_);
    EXPECT_EQ(loaded->version(), 25);
    return events_->events_read();
  }

  estoria::testing::TempDir dir_;
  std::shared_ptr<CountingEventStore> events_;
  std::shared_ptr<SnapshotStore> snapshots_;
  std::shared_ptr<EventSourcedStore<Tally, Added>> current_;
  std::shared_ptr<WarningLogger> logger_ = std::make_shared<WarningLogger>();
  TypeId id_;
  Tally expected_;
};

TEST_P(SnapshotUpcastTest, OlderSnapshotIsUpcastAndOnlyLaterEventsAreRead) {
  auto store = Make(SnapshotUpcasterRegistry().Add(1, TallyV1ToV2()));
  EXPECT_EQ(LoadAndCount(*store), 5);  // versions 21..25, not 25
  SnapshotStats st = store->stats();
  EXPECT_EQ(st.used, 1);
  EXPECT_EQ(st.upcast, 1);
  EXPECT_EQ(st.ignored, 0);
  EXPECT_EQ(logger_->last(), "");
  // The stored snapshot is not rewritten.
  EXPECT_EQ(snapshots_->Load(id_).value().schema_version, 1);
}

TEST_P(SnapshotUpcastTest, StepMaySetTheVersionItReaches) {
  SnapshotUpcasterRegistry r;
  r.Add(1, [](UpcastEvent& e) {
    ESTORIA_RETURN_IF_ERROR(TallyV1ToV2()(e));
    e.schema_version = 2;  // explicit instead of the implicit + 1
    return Status::Ok();
  });
  auto store = Make(std::move(r));
  EXPECT_EQ(LoadAndCount(*store), 5);
  EXPECT_EQ(store->stats().upcast, 1);
}

TEST_P(SnapshotUpcastTest, NoPathToTheCurrentVersionReplaysInFull) {
  struct Case {
    const char* name;
    SnapshotUpcasterRegistry upcasters;
    const char* in_log;
  };
  std::vector<Case> cases;
  cases.push_back({"no upcasters", SnapshotUpcasterRegistry(), "no snapshot upcasters"});
  cases.push_back({"no step from v1", SnapshotUpcasterRegistry().Add(3, TallyV1ToV2()), "no snapshot upcaster from"});
  cases.push_back({"step fails",
                   SnapshotUpcasterRegistry().Add(1, [](UpcastEvent&) { return Status::Corruption("cannot read v1"); }),
                   "cannot read v1"});
  cases.push_back({"step renames the type",
                   SnapshotUpcasterRegistry().Add(1,
                                                  [](UpcastEvent& e) {
                                                    e.type = "other";
                                                    return Status::Ok();
                                                  }),
                   "changed the type"});
  cases.push_back({"step overshoots",
                   SnapshotUpcasterRegistry().Add(1,
                                                  [](UpcastEvent& e) {
                                                    e.schema_version = 7;
                                                    return Status::Ok();
                                                  }),
                   "went to v7"});
  cases.push_back({"undecodable result", SnapshotUpcasterRegistry().Add(1, JsonUpcaster([](nlohmann::json&) {})),
                   "snapshot at version 20"});
  for (auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto store = Make(std::move(c.upcasters));
    EXPECT_EQ(LoadAndCount(*store), 25);
    EXPECT_EQ(store->stats().ignored, 1);
    EXPECT_EQ(store->stats().upcast, 0);
    EXPECT_NE(logger_->last().find(c.in_log), std::string::npos) << logger_->last();
  }
}

TEST_P(SnapshotUpcastTest, NewerSnapshotThanTheCurrentVersionIsIgnored) {
  Snapshot s = snapshots_->Load(id_).value();
  s.schema_version = 3;  // written by a newer build
  s.data = R"({"sum":1,"n":1})";
  ESTORIA_ASSERT_OK(snapshots_->Save(s));
  auto store = Make(SnapshotUpcasterRegistry().Add(1, TallyV1ToV2()));
  EXPECT_EQ(LoadAndCount(*store), 25);
  EXPECT_EQ(store->stats().ignored, 1);
  EXPECT_NE(logger_->last().find("newer than the current version 2"), std::string::npos) << logger_->last();
}

TEST_P(SnapshotUpcastTest, InvalidRegistrationIsInvalidArgument) {
  for (auto* bad : {+[](SnapshotUpcasterRegistry& r) { r.Add(0, TallyV1ToV2()); },
                    +[](SnapshotUpcasterRegistry& r) { r.Add(1, nullptr); },
                    +[](SnapshotUpcasterRegistry& r) { r.Add(1, TallyV1ToV2()).Add(1, TallyV1ToV2()); }}) {
    SnapshotUpcasterRegistry r;
    bad(r);
    auto store = Make(std::move(r));
    EXPECT_THAT(store->Load(id_.uuid()), StatusIs(StatusCode::kInvalidArgument));
    auto t = current_->Load(id_.uuid()).value();
    t.Append(Added{1});
    EXPECT_THAT(store->Save(t), StatusIs(StatusCode::kInvalidArgument));
  }
  EXPECT_EQ(current_->Load(id_.uuid()).value().version(), 25);  // nothing saved
}

INSTANTIATE_TEST_SUITE_P(Stores, SnapshotUpcastTest,
                         ::testing::Values(Backend{"memory",
                                                   [](estoria::testing::TempDir&, std::shared_ptr<EventStore>* events,
                                                      std::shared_ptr<SnapshotStore>* snapshots) {
                                                     *events = estoria::memory::MemoryEventStore::Open().value();
                                                     *snapshots = estoria::memory::MemorySnapshotStore::Open().value();
                                                     return Status::Ok();
                                                   }},
                                           Backend{
                                               "sqlite",
                                               [](estoria::testing::TempDir& dir, std::shared_ptr<EventStore>* events,
                                                  std::shared_ptr<SnapshotStore>* snapshots) {
                                                 sqlite::SqliteOptions o;
                                                 o.path = dir.File("tally.db");
                                                 o.durability = Durability::kRelaxed;
                                                 ESTORIA_ASSIGN_OR_RETURN(auto e, sqlite::SqliteEventStore::Open(o));
                                                 ESTORIA_ASSIGN_OR_RETURN(
                                                     auto s, sqlite::SqliteSnapshotStore::Open(
                                                                 {.path = o.path, .durability = Durability::kRelaxed}));
                                                 *events = e;
                                                 *snapshots = s;
                                                 return Status::Ok();
                                               }}),
                         [](const ::testing::TestParamInfo<Backend>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace estoria
