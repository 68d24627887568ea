// FoldStream/FoldAll with continue_on_error and FoldResult, on the memory store
// and on a SQLite file.
#include <gtest/gtest.h>

#include <stdexcept>

#include "../projection/wallet_types.h"
#include "estoria/event_sourced_store.h"
#include "estoria/fold.h"
#include "estoria/memory/memory_event_store.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "estoria/testing/matchers.h"
#include "estoria/testing/temp_dir.h"

namespace estoria {
namespace {

using estoria::testing::StatusIs;

struct Backend {
  const char* name;
  std::function<std::shared_ptr<EventStore>(estoria::testing::TempDir&)> open;
};

class FoldResultTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    store_ = GetParam().open(dir_);
    ASSERT_NE(store_, nullptr);
    // a_: versions 1..6, data "1".."6"; b_ in between (positions 3 and 6).
    for (int i = 1; i <= 6; ++i) {
      Append(a_, std::to_string(i));
      if (i % 2 == 0) Append(b_, "\"b\"");
    }
  }
  void Append(const TypeId& stream, std::string data) {
    std::vector<WritableEvent> e(1);
    e[0].type = "noted";
    e[0].data = std::move(data);
    ESTORIA_ASSERT_OK(store_->AppendStream(stream, e));
  }
  // Refuses even payloads with a Status and throws on 5.
  static Status Picky(const Event& e) {
    int n = std::stoi(e.data);
    if (n == 5) throw std::runtime_error("five");
    return n % 2 == 0 ? Status::FailedPrecondition("even " + e.data) : Status::Ok();
  }

  estoria::testing::TempDir dir_;
  std::shared_ptr<EventStore> store_;
  TypeId a_ = TypeId::New("account").value();
  TypeId b_ = TypeId::New("customer").value();
};

TEST_P(FoldResultTest, ContinueOnErrorCountsFailuresAndFoldsEverything) {
  std::vector<int64_t> seen;
  FoldResult result;
  ESTORIA_ASSERT_OK(FoldStream(
      *store_, a_,
      [&](const Event& e) {
        seen.push_back(e.stream_version);
        return Picky(e);
      },
      {.continue_on_error = true}, &result));
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(result.projected, 2);  // 1 and 3
  EXPECT_EQ(result.failed, 4);     // 2, 4, 6 refused; 5 threw
  EXPECT_THAT(result.first_error, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_EQ(result.first_error.message(), "even 2");
  EXPECT_EQ(result.last_version, 6);
  EXPECT_EQ(result.last_position, 8);  // a 1 2, b, a 3 4, b, a 5 6, b
}

TEST_P(FoldResultTest, WithoutContinueTheFirstErrorStopsAndIsReported) {
  FoldResult result;
  Status st = FoldStream(*store_, a_, &FoldResultTest::Picky, {.after_version = 2}, &result);
  EXPECT_THAT(st, StatusIs(StatusCode::kFailedPrecondition));  // version 4
  EXPECT_EQ(result.projected, 1);                              // version 3
  EXPECT_EQ(result.failed, 1);
  EXPECT_EQ(result.first_error, st);
  EXPECT_EQ(result.last_version, 4);
  // An exception stops it too, as Internal.
  st = FoldStream(*store_, a_, &FoldResultTest::Picky, {.after_version = 4, .to_version = 5}, &result);
  EXPECT_THAT(st, StatusIs(StatusCode::kInternal));
  EXPECT_EQ(result.projected, 0);
  EXPECT_EQ(result.failed, 1);
  EXPECT_EQ(result.last_version, 5);
  // A clean fold: no failure, every event counted.
  ESTORIA_ASSERT_OK(FoldStream(
      *store_, a_, [](const Event&) {}, {}, &result));
  EXPECT_EQ(result.projected, 6);
  EXPECT_EQ(result.failed, 0);
  EXPECT_TRUE(result.first_error.ok());
  // A read error is returned whatever continue_on_error says; the result is reset.
  EXPECT_THAT(FoldStream(
                  *store_, TypeId::New("account").value(), [](const Event&) {}, {.continue_on_error = true}, &result),
              StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(result.projected, 0);
  EXPECT_EQ(result.last_version, 0);
}

TEST_P(FoldResultTest, FoldAllCountsOverTheGlobalLog) {
  GlobalReader* global = store_->global_reader();
  ASSERT_NE(global, nullptr);
  FoldResult result;
  // Customer events hold "\"b\"": stoi throws on them (counted as failures).
  ESTORIA_ASSERT_OK(FoldAll(*global, &FoldResultTest::Picky, {.continue_on_error = true}, &result));
  EXPECT_EQ(result.projected, 2);
  EXPECT_EQ(result.failed, 7);  // 2, 4, 5, 6 and the three customer events
  EXPECT_EQ(result.last_position, 9);
  EXPECT_EQ(result.last_version, 3);  // the third customer event
  // Range and type filters apply; without continue the first failure stops.
  Status st =
      FoldAll(*global, &FoldResultTest::Picky, {.read = {.after_position = 3, .stream_types = {"account"}}}, &result);
  EXPECT_THAT(st, StatusIs(StatusCode::kFailedPrecondition));  // "even 4" at position 5
  EXPECT_EQ(result.projected, 1);                              // version 3 at position 4
  EXPECT_EQ(result.failed, 1);
  EXPECT_EQ(result.last_position, 5);
  // The void-handler overload with a result.
  int64_t n = 0;
  ESTORIA_ASSERT_OK(FoldAll(
      *global, [&](const Event&) { ++n; }, FoldAllOptions{}, &result));
  EXPECT_EQ(n, 9);
  EXPECT_EQ(result.projected, 9);
}

// Two schema versions of one event type, their upcasters and a view that knows
// only the current shape (shared with the projection upcasting tests).
using estoria::testing::ApplyCurrent;
using estoria::testing::Deposited;
using estoria::testing::DepositedV1;
using estoria::testing::Wallet;
using estoria::testing::WalletUpcasters;

TEST_P(FoldResultTest, UpcastFoldsMatchWhatTheStoreLoads) {
  EventSourcedStore<Wallet, DepositedV1> old_wallets(store_, "wallet");
  EventSourcedStore<Wallet, Deposited> wallets(store_, "wallet", {.upcasters = WalletUpcasters()});
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto w, old_wallets.New());
  w.Append(DepositedV1{3}, DepositedV1{4});
  ESTORIA_ASSERT_OK(old_wallets.Save(w));
  std::vector<WritableEvent> legacy(1);  // the oldest name, schema version 1 (no metadata)
  legacy[0].type = "credited";
  legacy[0].data = R"({"amount":1})";
  ESTORIA_ASSERT_OK(store_->AppendStream(w.id(), legacy));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto loaded, wallets.Load(w.id().uuid()));
  loaded.Append(Deposited{250, "USD"});
  ESTORIA_ASSERT_OK(wallets.Save(loaded));
  ESTORIA_ASSERT_OK_AND_ASSIGN(loaded, wallets.Load(w.id().uuid()));
  ASSERT_EQ(loaded.version(), 4);

  const EventUpcasting upcasting = wallets.upcasting();
  Wallet folded;
  FoldResult result;
  ESTORIA_ASSERT_OK(FoldStream(
      *store_, w.id(), [&](const Event& e) { return ApplyCurrent(folded, e); }, {.upcasting = &upcasting}, &result));
  EXPECT_EQ(folded, loaded.state());
  EXPECT_EQ(folded.cents, 300 + 400 + 100 + 250);
  EXPECT_EQ(result.projected, 4);
  // The handler saw the current version in the metadata, and the new name.
  std::vector<std::string> seen;
  ESTORIA_ASSERT_OK(FoldStream(
      *store_, w.id(),
      [&](const Event& e) { seen.push_back(e.type() + " v" + e.metadata.at(std::string(kSchemaVersionMetadataKey))); },
      {.upcasting = &upcasting}));
  EXPECT_EQ(seen, (std::vector<std::string>{"deposited v2", "deposited v2", "deposited v2", "deposited v2"}));

  // Over the global log too.
  Wallet all;
  ESTORIA_ASSERT_OK(FoldAll(
      *store_->global_reader(), [&](const Event& e) { return ApplyCurrent(all, e); },
      {.read = {.stream_types = {"wallet"}}, .upcasting = &upcasting}, &result));
  EXPECT_EQ(all, loaded.state());

  // Without upcasting the raw stored events stay available: the old shapes.
  Wallet raw;
  ESTORIA_ASSERT_OK(FoldStream(
      *store_, w.id(), [&](const Event& e) { return ApplyCurrent(raw, e); }, {.continue_on_error = true}, &result));
  EXPECT_EQ(result.projected, 1);  // only the v2 event
  EXPECT_EQ(result.failed, 3);
}

TEST_P(FoldResultTest, UpcastingErrorsCountAsFailures) {
  EventSourcedStore<Wallet, DepositedV1> old_wallets(store_, "wallet");
  EventSourcedStore<Wallet, Deposited> wallets(store_, "wallet", {.upcasters = WalletUpcasters()});
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto w, old_wallets.New());
  w.Append(DepositedV1{3}, DepositedV1{-1}, DepositedV1{5});  // the upcaster throws on -1
  ESTORIA_ASSERT_OK(old_wallets.Save(w));
  EXPECT_THAT(wallets.Load(w.id().uuid()), StatusIs(StatusCode::kInternal));
  const EventUpcasting upcasting = wallets.upcasting();
  Wallet folded;
  FoldResult result;
  auto apply = [&](const Event& e) { return ApplyCurrent(folded, e); };
  Status st = FoldStream(*store_, w.id(), apply, {.upcasting = &upcasting}, &result);
  EXPECT_THAT(st, StatusIs(StatusCode::kInternal));
  EXPECT_NE(st.message().find("negative deposit"), std::string::npos) << st;
  EXPECT_EQ(result.last_version, 2);
  folded = {};
  ESTORIA_ASSERT_OK(FoldStream(*store_, w.id(), apply, {.continue_on_error = true, .upcasting = &upcasting}, &result));
  EXPECT_EQ(folded.cents, 800);
  EXPECT_EQ(result.projected, 2);
  EXPECT_EQ(result.failed, 1);
  EXPECT_THAT(result.first_error, StatusIs(StatusCode::kInternal));
  // An invalid registration is refused before reading.
  EventUpcasting bad;
  bad.upcasters.Add("deposited", 0, JsonUpcaster([](nlohmann::json&) {}));
  EXPECT_THAT(FoldStream(*store_, w.id(), apply, {.upcasting = &bad}), StatusIs(StatusCode::kInvalidArgument));
}

INSTANTIATE_TEST_SUITE_P(Stores, FoldResultTest,
                         ::testing::Values(Backend{"memory",
                                                   [](estoria::testing::TempDir&) -> std::shared_ptr<EventStore> {
                                                     return memory::MemoryEventStore::Open().value();
                                                   }},
                                           Backend{"sqlite",
                                                   [](estoria::testing::TempDir& dir) -> std::shared_ptr<EventStore> {
                                                     sqlite::SqliteOptions o;
                                                     o.path = dir.File("fold.db");
                                                     o.durability = Durability::kRelaxed;
                                                     auto s = sqlite::SqliteEventStore::Open(o);
                                                     EXPECT_TRUE(s.ok()) << s.status();
                                                     return s.ok() ? std::shared_ptr<EventStore>(*s) : nullptr;
                                                   }}),
                         [](const ::testing::TestParamInfo<Backend>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace estoria
