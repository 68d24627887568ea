// SnapshotStoreConformance and CheckpointStoreConformance.
#include <algorithm>
#include <limits>
#include <thread>

#include "conformance_util.h"
#include "estoria/testing/conformance.h"

namespace estoria::testing {

int kSnapshotStoreSuiteAnchor = 0;  // see LinkConformanceSuites

using ::testing::ElementsAre;

namespace {

Snapshot Snap(const TypeId& id, int64_t version, std::string data = "{}") {
  Snapshot s;
  s.aggregate_id = id;
  s.version = version;
  s.timestamp = Now();
  s.data = std::move(data);
  return s;
}

std::shared_ptr<SnapshotStore> Make(const SnapshotStoreFactory& f, SnapshotRetention r = {}) {
  auto made = f(r);
  EXPECT_TRUE(made.has_value()) << made.error();
  return made.has_value() ? *made : nullptr;
}

TEST_P(SnapshotStoreConformance, SaveAndLoadRoundTrip) {
  auto store = Make(GetParam());
  ASSERT_NE(store, nullptr);
  TypeId id = TypeId::New("account").value();
  Snapshot s = Snap(id, 7, std::string("\0\x01\xff{bin}", 8));
  s.content_type = "application/octet-stream";
  s.schema_version = 3;
  ESTORIA_ASSERT_OK(store->Save(s));
  ESTORIA_ASSERT_OK_AND_ASSIGN(Snapshot loaded, store->Load(id));
  EXPECT_EQ(loaded, s);
}

TEST_P(SnapshotStoreConformance, LoadsNewestAtOrBelowVersion) {
  auto store = Make(GetParam());
  ASSERT_NE(store, nullptr);
  TypeId id = TypeId::New("account").value();
  for (int64_t v : {10, 20, 30}) ESTORIA_ASSERT_OK(store->Save(Snap(id, v, "v" + std::to_string(v))));
  ESTORIA_ASSERT_OK_AND_ASSIGN(Snapshot newest, store->Load(id));
  EXPECT_EQ(newest.version, 30);
  ESTORIA_ASSERT_OK_AND_ASSIGN(Snapshot at25, store->Load(id, 25));
  EXPECT_EQ(at25.version, 20);
  EXPECT_EQ(at25.data, "v20");
  ESTORIA_ASSERT_OK_AND_ASSIGN(Snapshot at20, store->Load(id, 20));
  EXPECT_EQ(at20.version, 20);
  EXPECT_THAT(store->Load(id, 9), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store->Load(TypeId::New("account").value()), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store->Load(id, -1), StatusIs(StatusCode::kInvalidArgument));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto versions, store->ListVersions(id));
  EXPECT_THAT(versions, ElementsAre(10, 20, 30));
}

TEST_P(SnapshotStoreConformance, SavingTheSameVersionReplaces) {
  auto store = Make(GetParam());
  ASSERT_NE(store, nullptr);
  TypeId id = TypeId::New("account").value();
  ESTORIA_ASSERT_OK(store->Save(Snap(id, 5, "old")));
  ESTORIA_ASSERT_OK(store->Save(Snap(id, 5, "new")));
  ESTORIA_ASSERT_OK_AND_ASSIGN(Snapshot s, store->Load(id));
  EXPECT_EQ(s.data, "new");
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto versions, store->ListVersions(id));
  EXPECT_THAT(versions, ElementsAre(5));
}

TEST_P(SnapshotStoreConformance, RetentionKeepsTheNewest) {
  auto store = Make(GetParam(), SnapshotRetention{2});
  ASSERT_NE(store, nullptr);
  TypeId id = TypeId::New("account").value(), other = TypeId::New("account").value();
  ESTORIA_ASSERT_OK(store->Save(Snap(other, 1)));
  for (int64_t v = 1; v <= 5; ++v) ESTORIA_ASSERT_OK(store->Save(Snap(id, v * 10)));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto versions, store->ListVersions(id));
  EXPECT_THAT(versions, ElementsAre(40, 50));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto other_versions, store->ListVersions(other));
  EXPECT_THAT(other_versions, ElementsAre(1));
}

TEST_P(SnapshotStoreConformance, DeleteBelow) {
  auto store = Make(GetParam());
  ASSERT_NE(store, nullptr);
  TypeId id = TypeId::New("account").value();
  for (int64_t v : {1, 2, 3, 4}) ESTORIA_ASSERT_OK(store->Save(Snap(id, v)));
  ESTORIA_ASSERT_OK(store->DeleteBelow(id, 3));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto versions, store->ListVersions(id));
  EXPECT_THAT(versions, ElementsAre(3, 4));
  ESTORIA_ASSERT_OK(store->DeleteBelow(id, 0));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto none, store->ListVersions(id));
  EXPECT_TRUE(none.empty());
  EXPECT_THAT(store->Load(id), StatusIs(StatusCode::kNotFound));
  ESTORIA_ASSERT_OK(store->DeleteBelow(TypeId::New("account").value(), 5));  // nothing to delete is fine
}

TEST_P(SnapshotStoreConformance, InvalidSnapshotsAreRejected) {
  auto store = Make(GetParam());
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->Save(Snap(TypeId::New("account").value(), 0)), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store->Save(Snap(TypeId("Bad Type", Uuid::NewV7()), 1)), StatusIs(StatusCode::kInvalidArgument));
}

TEST_P(SnapshotStoreConformance, ListVersionsOfAnUnknownAggregateIsEmpty) {
  auto store = Make(GetParam());
  ASSERT_NE(store, nullptr);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto versions, store->ListVersions(TypeId::New("account").value()));
  EXPECT_TRUE(versions.empty());
}

TEST_P(SnapshotStoreConformance, AggregatesAreIsolated) {
  auto store = Make(GetParam());
  ASSERT_NE(store, nullptr);
  TypeId a = TypeId::New("account").value(), b = TypeId::New("account").value(), c = TypeId::New("order").value();
  ESTORIA_ASSERT_OK(store->Save(Snap(a, 3, "a3")));
  ESTORIA_ASSERT_OK(store->Save(Snap(b, 5, "b5")));
  ESTORIA_ASSERT_OK(store->Save(Snap(c, 1, "c1")));
  ESTORIA_ASSERT_OK_AND_ASSIGN(Snapshot got, store->Load(a));
  EXPECT_EQ(got.data, "a3");
  EXPECT_EQ(got.aggregate_id, a);
  EXPECT_THAT(store->Load(a, 2), StatusIs(StatusCode::kNotFound));  // b's older versions do not leak in
  ESTORIA_ASSERT_OK(store->DeleteBelow(b, 0));
  ESTORIA_ASSERT_OK_AND_ASSIGN(got, store->Load(a));
  EXPECT_EQ(got.data, "a3");
  ESTORIA_ASSERT_OK_AND_ASSIGN(got, store->Load(c));
  EXPECT_EQ(got.data, "c1");
  EXPECT_THAT(store->Load(b), StatusIs(StatusCode::kNotFound));
}

TEST_P(SnapshotStoreConformance, RetentionKeepsTheNewestVersionsWhateverTheSaveOrder) {
  auto store = Make(GetParam(), SnapshotRetention{2});
  ASSERT_NE(store, nullptr);
  TypeId id = TypeId::New("account").value();
  for (int64_t v : {30, 10, 50, 20}) ESTORIA_ASSERT_OK(store->Save(Snap(id, v)));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto versions, store->ListVersions(id));
  EXPECT_THAT(versions, ElementsAre(30, 50));
  // Re-saving a kept version does not count twice.
  ESTORIA_ASSERT_OK(store->Save(Snap(id, 50, "again")));
  ESTORIA_ASSERT_OK_AND_ASSIGN(versions, store->ListVersions(id));
  EXPECT_THAT(versions, ElementsAre(30, 50));
  ESTORIA_ASSERT_OK_AND_ASSIGN(Snapshot newest, store->Load(id));
  EXPECT_EQ(newest.data, "again");
}

TEST_P(SnapshotStoreConformance, LoadBoundAboveTheNewestReturnsTheNewest) {
  auto store = Make(GetParam());
  ASSERT_NE(store, nullptr);
  TypeId id = TypeId::New("account").value();
  ESTORIA_ASSERT_OK(store->Save(Snap(id, 4, "v4")));
  ESTORIA_ASSERT_OK_AND_ASSIGN(Snapshot s, store->Load(id, 1000));
  EXPECT_EQ(s.version, 4);
  EXPECT_EQ(s.data, "v4");
  EXPECT_THAT(store->Load(id, 3), StatusIs(StatusCode::kNotFound));
}

TEST_P(SnapshotStoreConformance, NegativeVersionsAreRejected) {
  auto store = Make(GetParam());
  ASSERT_NE(store, nullptr);
  TypeId id = TypeId::New("account").value();
  EXPECT_THAT(store->Save(Snap(id, -4)), StatusIs(StatusCode::kInvalidArgument));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto versions, store->ListVersions(id));
  EXPECT_TRUE(versions.empty());
}

TEST_P(SnapshotStoreConformance, ConcurrentSavesToDistinctAggregates) {
  auto store = Make(GetParam(), SnapshotRetention{3});
  ASSERT_NE(store, nullptr);
  std::vector<TypeId> ids;
  for (int t = 0; t < 4; ++t) ids.push_back(TypeId::New("account").value());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int64_t v = 1; v <= 10; ++v) ESTORIA_EXPECT_OK(store->Save(Snap(ids[t], v, "t" + std::to_string(t))));
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto versions, store->ListVersions(ids[t]));
    EXPECT_THAT(versions, ElementsAre(8, 9, 10));
    ESTORIA_ASSERT_OK_AND_ASSIGN(Snapshot s, store->Load(ids[t]));
    EXPECT_EQ(s.data, "t" + std::to_string(t));
  }
}

}  // namespace

void CheckpointStoreConformance::SetUp() { internal::MakeStore(GetParam(), store_); }

namespace {

TEST_P(CheckpointStoreConformance, MissingIsZeroThenSavedValue) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t p, store_->Load("balances"));
  EXPECT_EQ(p, 0);
  ESTORIA_ASSERT_OK(store_->Save("balances", 42));
  ESTORIA_ASSERT_OK_AND_ASSIGN(p, store_->Load("balances"));
  EXPECT_EQ(p, 42);
  ESTORIA_ASSERT_OK(store_->Save("balances", 7));  // a reset may move it backwards
  ESTORIA_ASSERT_OK_AND_ASSIGN(p, store_->Load("balances"));
  EXPECT_EQ(p, 7);
}

TEST_P(CheckpointStoreConformance, ListAndDelete) {
  ESTORIA_ASSERT_OK(store_->Save("zeta", 3));
  ESTORIA_ASSERT_OK(store_->Save("alpha", 9));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, store_->List());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "alpha");
  EXPECT_EQ(all[0].position, 9);
  EXPECT_EQ(all[1].name, "zeta");
  EXPECT_GT(all[1].updated_at, Now() - std::chrono::minutes(5));
  ESTORIA_ASSERT_OK(store_->Delete("zeta"));
  EXPECT_THAT(store_->Delete("zeta"), StatusIs(StatusCode::kNotFound));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t p, store_->Load("zeta"));
  EXPECT_EQ(p, 0);
}

TEST_P(CheckpointStoreConformance, InvalidArguments) {
  EXPECT_THAT(store_->Save("", 1), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Save("x", -1), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Load(""), StatusIs(StatusCode::kInvalidArgument));
}

TEST_P(CheckpointStoreConformance, ConcurrentSavesToDistinctNames) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 1; i <= 20; ++i) ESTORIA_EXPECT_OK(store_->Save("proj" + std::to_string(t), i));
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 8; ++t) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t p, store_->Load("proj" + std::to_string(t)));
    EXPECT_EQ(p, 20);
  }
}

TEST_P(CheckpointStoreConformance, AFreshStoreListsNothing) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, store_->List());
  EXPECT_TRUE(all.empty());
  EXPECT_THAT(store_->Delete("never"), StatusIs(StatusCode::kNotFound));
}

TEST_P(CheckpointStoreConformance, SavingAgainUpdatesOneEntry) {
  ESTORIA_ASSERT_OK(store_->Save("balances", 5));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto first, store_->List());
  ASSERT_EQ(first.size(), 1u);
  ESTORIA_ASSERT_OK(store_->Save("balances", 9));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto second, store_->List());
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].name, "balances");
  EXPECT_EQ(second[0].position, 9);
  EXPECT_GE(second[0].updated_at, first[0].updated_at);
  EXPECT_LE(second[0].updated_at, Now() + std::chrono::seconds(1));
  // Zero is a position like any other (a reset to the start).
  ESTORIA_ASSERT_OK(store_->Save("balances", 0));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t p, store_->Load("balances"));
  EXPECT_EQ(p, 0);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto third, store_->List());
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].position, 0);
}

TEST_P(CheckpointStoreConformance, NamesAreExactAndListedInByteOrder) {
  const std::vector<std::string> names = {"b", "B", "a", "a.v2", "a-1", "\xc3\xa9t\xc3\xa9", "a b", "ab"};
  for (size_t i = 0; i < names.size(); ++i) ESTORIA_ASSERT_OK(store_->Save(names[i], static_cast<int64_t>(i + 1)));
  for (size_t i = 0; i < names.size(); ++i) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t p, store_->Load(names[i]));
    EXPECT_EQ(p, static_cast<int64_t>(i + 1)) << names[i];
  }
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, store_->List());
  std::vector<std::string> listed;
  for (const auto& c : all) listed.push_back(c.name);
  EXPECT_EQ(listed, sorted);
}

TEST_P(CheckpointStoreConformance, LargePositionsRoundTrip) {
  const int64_t big = std::numeric_limits<int64_t>::max();
  ESTORIA_ASSERT_OK(store_->Save("balances", big));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t p, store_->Load("balances"));
  EXPECT_EQ(p, big);
}

TEST_P(CheckpointStoreConformance, InvalidSavesChangeNothing) {
  ESTORIA_ASSERT_OK(store_->Save("balances", 4));
  EXPECT_THAT(store_->Save("balances", -1), StatusIs(StatusCode::kInvalidArgument));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t p, store_->Load("balances"));
  EXPECT_EQ(p, 4);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, store_->List());
  EXPECT_EQ(all.size(), 1u);
}

TEST_P(CheckpointStoreConformance, ConcurrentSavesToOneNameKeepOneOfThem) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 1; i <= 20; ++i) ESTORIA_EXPECT_OK(store_->Save("shared", t * 100 + i));
    });
  }
  for (auto& th : threads) th.join();
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t p, store_->Load("shared"));
  EXPECT_TRUE(p == 20 || p == 120 || p == 220 || p == 320) << "the last save of some thread, not " << p;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, store_->List());
  EXPECT_EQ(all.size(), 1u);
}

}  // namespace
}  // namespace estoria::testing
