// Event schema evolution: two schema versions of one event type in one stream.
#include "estoria/upcaster.h"

#include <gtest/gtest.h>

#include "estoria/event_sourced_store.h"
#include "estoria/memory/memory_event_store.h"
#include "estoria/testing/matchers.h"

namespace estoria {
namespace {

using estoria::testing::StatusIs;

struct Wallet {
  int64_t cents = 0;
  std::string currency;
  int64_t deposits = 0;
};

// Schema version 1 (as an old build of the application wrote it).
struct DepositedV1 {
  static constexpr std::string_view kType = "deposited";
  int64_t amount = 0;  // whole units
  void ApplyTo(Wallet& w) const {
    w.cents += amount * 100;
    ++w.deposits;
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(DepositedV1, amount)

// Schema version 2 (the current shape).
struct Deposited {
  static constexpr std::string_view kType = "deposited";
  static constexpr int kSchemaVersion = 2;
  int64_t cents = 0;
  std::string currency;
  void ApplyTo(Wallet& w) const {
    w.cents += cents;
    w.currency = currency;
    ++w.deposits;
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Deposited, cents, currency)

UpcasterRegistry DepositedUpcasters() {
  UpcasterRegistry r;
  r.Add("deposited", 1, JsonUpcaster([](nlohmann::json& j) {
          j["cents"] = j.at("amount").get<int64_t>() * 100;
          j.erase("amount");
          j["currency"] = "EUR";
        }));
  // An even older type name, renamed to "deposited" at schema version 1.
  r.Add("credited", 1, [](UpcastEvent& e) {
    e.type = "deposited";
    e.schema_version = 1;
    return Status::Ok();
  });
  return r;
}

class UpcasterTest : public ::testing::Test {
 protected:
  std::shared_ptr<estoria::memory::MemoryEventStore> events_ = estoria::memory::MemoryEventStore::Open().value();
  EventSourcedStore<Wallet, DepositedV1> old_wallets_{events_, "wallet"};
  EventSourcedStore<Wallet, Deposited> wallets_{events_, "wallet", {.upcasters = DepositedUpcasters()}};
};

TEST_F(UpcasterTest, TwoSchemaVersionsInOneStreamLoadThroughTheUpcaster) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto old, old_wallets_.New());
  old.Append(DepositedV1{3}, DepositedV1{4});
  ESTORIA_ASSERT_OK(old_wallets_.Save(old));

  ESTORIA_ASSERT_OK_AND_ASSIGN(auto w, wallets_.Load(old.id().uuid()));
  EXPECT_EQ(w.version(), 2);
  EXPECT_EQ(w.state().cents, 700);
  EXPECT_EQ(w.state().currency, "EUR");
  w.Append(Deposited{250, "USD"});
  ESTORIA_ASSERT_OK(wallets_.Save(w));

  ESTORIA_ASSERT_OK_AND_ASSIGN(auto again, wallets_.Load(old.id().uuid()));
  EXPECT_EQ(again.version(), 3);
  EXPECT_EQ(again.state().cents, 950);
  EXPECT_EQ(again.state().currency, "USD");
  EXPECT_EQ(again.state().deposits, 3);

  // Stored events are never rewritten.
  auto stored = Collect(*events_->ReadStream(old.id()).value()).value();
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored[0].metadata.at("estoria.schema_version"), "1");
  EXPECT_EQ(nlohmann::json::parse(stored[0].data), nlohmann::json({{"amount", 3}}));
  EXPECT_EQ(stored[2].metadata.at("estoria.schema_version"), "2");
}

TEST_F(UpcasterTest, ChainsAcrossARenamedType) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto w, wallets_.New());
  std::vector<WritableEvent> legacy(1);
  legacy[0].type = "credited";
  legacy[0].data = R"({"amount":5})";  // no schema version metadata: version 1
  ESTORIA_ASSERT_OK(events_->AppendStream(w.id(), legacy));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto loaded, wallets_.Load(w.id().uuid()));
  EXPECT_EQ(loaded.state().cents, 500);
}

TEST_F(UpcasterTest, MissingUpcasterIsCorruption) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto old, old_wallets_.New());
  old.Append(DepositedV1{3});
  ESTORIA_ASSERT_OK(old_wallets_.Save(old));
  EventSourcedStore<Wallet, Deposited> no_upcasters(events_, "wallet");
  auto r = no_upcasters.Load(old.id().uuid());
  ASSERT_THAT(r, StatusIs(StatusCode::kCorruption));
  EXPECT_NE(r.error().message().find("no upcaster"), std::string::npos);
}

TEST_F(UpcasterTest, NewerSchemaThanRegisteredIsCorruption) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto w, wallets_.New());
  w.Append(Deposited{1, "EUR"});
  ESTORIA_ASSERT_OK(wallets_.Save(w));
  auto r = old_wallets_.Load(w.id().uuid());
  ASSERT_THAT(r, StatusIs(StatusCode::kCorruption));
  EXPECT_NE(r.error().message().find("newer"), std::string::npos);
}

TEST_F(UpcasterTest, ThrowingUpcasterIsInternalAndFailingOneIsReturned) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto old, old_wallets_.New());
  old.Append(DepositedV1{3});
  ESTORIA_ASSERT_OK(old_wallets_.Save(old));
  UpcasterRegistry throwing;
  throwing.Add("deposited", 1, JsonUpcaster([](nlohmann::json& j) { j.at("missing_field").get<int>(); }));
  EventSourcedStore<Wallet, Deposited> a(events_, "wallet", {.upcasters = throwing});
  EXPECT_THAT(a.Load(old.id().uuid()), StatusIs(StatusCode::kInternal));
  UpcasterRegistry failing;
  failing.Add("deposited", 1, [](UpcastEvent&) { return Status::Unavailable("rates service down"); });
  EventSourcedStore<Wallet, Deposited> b(events_, "wallet", {.upcasters = failing});
  EXPECT_THAT(b.Load(old.id().uuid()), StatusIs(StatusCode::kUnavailable));
}

TEST(UpcasterRegistryTest, InvalidRegistrationsAreReportedByTheStore) {
  UpcasterRegistry r;
  r.Add("deposited", 1, JsonUpcaster([](nlohmann::json&) {}));
  ESTORIA_EXPECT_OK(r.status());
  r.Add("deposited", 1, JsonUpcaster([](nlohmann::json&) {}));
  EXPECT_THAT(r.status(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(UpcasterRegistry().Add("Bad Type", 1, JsonUpcaster([](nlohmann::json&) {})).status(),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(UpcasterRegistry().Add("x", 0, JsonUpcaster([](nlohmann::json&) {})).status(),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(UpcasterRegistry().Add("x", 1, nullptr).status(), StatusIs(StatusCode::kInvalidArgument));
  EventSourcedStore<Wallet, Deposited> store(estoria::memory::MemoryEventStore::Open().value(), "wallet",
                                             {.upcasters = r});
  EXPECT_THAT(store.Load(Uuid::NewV7()), StatusIs(StatusCode::kInvalidArgument));
}

TEST(UpcasterRegistryTest, MalformedStoredSchemaVersionIsCorruption) {
  EXPECT_THAT(internal::StoredSchemaVersion({{"estoria.schema_version", "two"}}), StatusIs(StatusCode::kCorruption));
  EXPECT_THAT(internal::StoredSchemaVersion({{"estoria.schema_version", "0"}}), StatusIs(StatusCode::kCorruption));
  EXPECT_EQ(internal::StoredSchemaVersion({}).value(), 1);
  EXPECT_EQ(internal::StoredSchemaVersion({{"estoria.schema_version", "12"}}).value(), 12);
}

}  // namespace
}  // namespace estoria
