// Aggregate<S> and EventSourcedStore on the memory backend.
#include <gtest/gtest.h>

#include "estoria/event_sourced_store.h"
#include "estoria/memory/memory_event_store.h"
#include "estoria/testing/matchers.h"
#include "test_types.h"

namespace estoria {
namespace {

using estoria::testing::StatusIs;
using namespace estoria_test;  // NOLINT

using AccountStore = EventSourcedStore<Account, Opened, BalanceChanged, Closed, Note, Fragile>;

class AggregateTest : public ::testing::Test {
 protected:
  std::shared_ptr<estoria::memory::MemoryEventStore> events_ = estoria::memory::MemoryEventStore::Open().value();
  AccountStore accounts_{events_, "account"};

  // Creates an account with `n` balance changes of +1 (1 + n events).
  Aggregate<Account> Create(int n) {
    auto a = accounts_.New().value();
    a.Append(Opened{"ann"});
    for (int i = 0; i < n; ++i) a.Append(BalanceChanged{1});
    ESTORIA_EXPECT_OK(accounts_.Save(a));
    return a;
  }
  std::vector<Event> Stream(const TypeId& id) { return Collect(*events_->ReadStream(id).value()).value(); }
};

TEST_F(AggregateTest, AppendDoesNotApplyUntilSave) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, accounts_.New());
  EXPECT_EQ(a.id().type(), "account");
  EXPECT_EQ(a.version(), 0);
  a.Append(Opened{"ann"}, BalanceChanged{10});
  EXPECT_EQ(a.pending_events().size(), 2u);
  EXPECT_EQ(a.state().balance, 0);
  ESTORIA_ASSERT_OK(accounts_.Save(a));
  EXPECT_EQ(a.version(), 2);
  EXPECT_FALSE(a.has_pending_events());
  EXPECT_EQ(a.state().owner, "ann");
  EXPECT_EQ(a.state().balance, 10);
  EXPECT_NE(a.last_event_time(), Timestamp{});
}

TEST_F(AggregateTest, SaveThenLoadRebuildsState) {
  auto a = Create(3);
  a.Append(Closed{"done"});
  ESTORIA_ASSERT_OK(accounts_.Save(a));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto loaded, accounts_.Load(a.id().uuid()));
  EXPECT_EQ(loaded.version(), 5);
  EXPECT_EQ(loaded.state(), a.state());
  EXPECT_TRUE(loaded.state().closed);
  EXPECT_EQ(loaded.last_event_time(), a.last_event_time());
  auto stored = Stream(a.id());
  ASSERT_EQ(stored.size(), 5u);
  EXPECT_EQ(stored[0].type(), "opened");
  EXPECT_EQ(stored[0].content_type, "application/json");
  EXPECT_EQ(nlohmann::json::parse(stored[1].data), nlohmann::json({{"amount", 1}}));
  EXPECT_EQ(accounts_.events_replayed(), 5);
}

TEST_F(AggregateTest, LoadOfMissingStreamIsNotFound) {
  EXPECT_THAT(accounts_.Load(Uuid::NewV7()), StatusIs(StatusCode::kNotFound));
}

TEST_F(AggregateTest, SaveWithoutPendingEventsWritesNothing) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, accounts_.New());
  ESTORIA_ASSERT_OK(accounts_.Save(a));
  EXPECT_THAT(events_->ReadStream(a.id()), StatusIs(StatusCode::kNotFound));
}

TEST_F(AggregateTest, LoadToVersion) {
  auto a = Create(5);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto v3, accounts_.Load(a.id().uuid(), {.to_version = 3}));
  EXPECT_EQ(v3.version(), 3);
  EXPECT_EQ(v3.state().balance, 2);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto beyond, accounts_.Load(a.id().uuid(), {.to_version = 100}));
  EXPECT_EQ(beyond.version(), 6);
  EXPECT_THAT(accounts_.Load(a.id().uuid(), {.to_version = -1}), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(AggregateTest, LoadToTime) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, accounts_.New());
  std::vector<Timestamp> times;
  for (int i = 1; i <= 4; ++i) {
    // Each save lands in a later microsecond than the previous one.
    while (!times.empty() && Now() <= times.back()) {
    }
    a.Append(BalanceChanged{i});
    ESTORIA_ASSERT_OK(accounts_.Save(a));
    times.push_back(a.last_event_time());
  }
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto at2, accounts_.Load(a.id().uuid(), {.to_time = times[1]}));
  EXPECT_EQ(at2.version(), 2);
  EXPECT_EQ(at2.state().balance, 3);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto between,
                               accounts_.Load(a.id().uuid(), {.to_time = times[2] - std::chrono::microseconds(1)}));
  EXPECT_EQ(between.version(), 2);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto both, accounts_.Load(a.id().uuid(), {.to_version = 1, .to_time = times[3]}));
  EXPECT_EQ(both.version(), 1);
  EXPECT_THAT(accounts_.Load(a.id().uuid(), {.to_time = times[0] - std::chrono::microseconds(1)}),
              StatusIs(StatusCode::kNotFound));
}

TEST_F(AggregateTest, MetadataIsStoredWithSchemaVersion) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, accounts_.New());
  a.AppendWithMetadata(Opened{"ann"}, {{"user", "u1"}, {"empty", ""}});
  a.Append(BalanceChanged{5});
  a.MergeEventMetadata({{"request", "r9"}, {"user", "u2"}});
  ESTORIA_ASSERT_OK(accounts_.Save(a));
  auto stored = Stream(a.id());
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0].metadata,
            (Metadata{{"user", "u2"}, {"empty", ""}, {"request", "r9"}, {"estoria.schema_version", "1"}}));
  EXPECT_EQ(stored[1].metadata, (Metadata{{"request", "r9"}, {"user", "u2"}, {"estoria.schema_version", "1"}}));
}

TEST_F(AggregateTest, ReservedMetadataKeyIsRejectedAndNothingWritten) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, accounts_.New());
  a.AppendWithMetadata(Opened{"ann"}, {{"estoria.schema_version", "7"}});
  EXPECT_THAT(accounts_.Save(a), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(a.version(), 0);
  EXPECT_EQ(a.pending_events().size(), 1u);
  EXPECT_THAT(events_->ReadStream(a.id()), StatusIs(StatusCode::kNotFound));
}

TEST_F(AggregateTest, ConflictLeavesAggregateUnchangedAndRetrySucceeds) {
  auto a = Create(1);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto first, accounts_.Load(a.id().uuid()));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto second, accounts_.Load(a.id().uuid()));
  first.Append(BalanceChanged{10});
  ESTORIA_ASSERT_OK(accounts_.Save(first));
  second.Append(BalanceChanged{100}, BalanceChanged{1000});
  Account before = second.state();
  Status st = accounts_.Save(second);
  ASSERT_THAT(st, StatusIs(StatusCode::kConflict));
  ASSERT_TRUE(st.conflict().has_value());
  EXPECT_EQ(st.conflict()->expected_version, 2);
  EXPECT_EQ(st.conflict()->actual_version, 3);
  EXPECT_FALSE(st.events_appended());
  EXPECT_EQ(second.version(), 2);
  EXPECT_EQ(second.state(), before);
  EXPECT_EQ(second.pending_events().size(), 2u);
  EXPECT_EQ(Stream(a.id()).size(), 3u);
  // Reload and retry the command.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto retry, accounts_.Load(a.id().uuid()));
  retry.Append(BalanceChanged{100});
  ESTORIA_ASSERT_OK(accounts_.Save(retry));
  EXPECT_EQ(retry.version(), 4);
  EXPECT_EQ(retry.state().balance, 111);
}

TEST_F(AggregateTest, NewAggregateOnExistingStreamConflicts) {
  auto a = Create(0);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto again, accounts_.New(a.id().uuid()));
  again.Append(Opened{"bob"});
  EXPECT_THAT(accounts_.Save(again), StatusIs(StatusCode::kConflict));
}

TEST_F(AggregateTest, FailureAfterAppendIsReportedDistinctly) {
  auto a = Create(0);
  a.Append(BalanceChanged{5}, Fragile{true});
  Status st = accounts_.Save(a);
  EXPECT_THAT(st, StatusIs(StatusCode::kInternal));
  EXPECT_TRUE(st.events_appended());
  EXPECT_NE(st.message().find("fragile event exploded"), std::string::npos);
  EXPECT_EQ(Stream(a.id()).size(), 3u);  // the events were written
  EXPECT_EQ(a.version(), 1);             // and the aggregate is left as it was: discard and reload
  // Loading replays the throwing event and reports Internal.
  EXPECT_THAT(accounts_.Load(a.id().uuid()), StatusIs(StatusCode::kInternal));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto up_to_2, accounts_.Load(a.id().uuid(), {.to_version = 2}));
  EXPECT_EQ(up_to_2.state().balance, 5);
}

TEST_F(AggregateTest, UnregisteredEventTypeIsRejectedAtSave) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, accounts_.New());
  a.Append(Unregistered{1});
  Status st = accounts_.Save(a);
  EXPECT_THAT(st, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_NE(st.message().find("unregistered"), std::string::npos);
}

TEST_F(AggregateTest, UnknownStoredEventTypeFailsLoadUnlessSkipped) {
  auto a = Create(1);
  std::vector<WritableEvent> foreign(1);
  foreign[0].type = "mystery";
  foreign[0].data = "{}";
  ESTORIA_ASSERT_OK(events_->AppendStream(a.id(), foreign));
  a.Append(BalanceChanged{7});
  ASSERT_THAT(accounts_.Save(a), StatusIs(StatusCode::kConflict));
  auto r = accounts_.Load(a.id().uuid());
  ASSERT_THAT(r, StatusIs(StatusCode::kCorruption));
  EXPECT_NE(r.error().message().find("\"mystery\""), std::string::npos);
  EXPECT_NE(r.error().message().find(a.id().ToString()), std::string::npos);

  AccountStore skipping(events_, "account", {.skip_unknown_event_types = true, .logger = NullLogger()});
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto b, skipping.Load(a.id().uuid()));
  EXPECT_EQ(b.version(), 3);
  EXPECT_EQ(b.state().balance, 1);
  b.Append(BalanceChanged{7});
  ESTORIA_ASSERT_OK(skipping.Save(b));
  EXPECT_EQ(b.state().balance, 8);
}

TEST_F(AggregateTest, StoredContentTypeIsHonoured) {
  auto a = Create(0);
  std::vector<WritableEvent> odd(1);
  odd[0].type = "balancechanged";
  odd[0].data = "xx";
  odd[0].content_type = "application/octet-stream";
  ESTORIA_ASSERT_OK(events_->AppendStream(a.id(), odd));
  auto r = accounts_.Load(a.id().uuid());
  ASSERT_THAT(r, StatusIs(StatusCode::kCorruption));
  EXPECT_NE(r.error().message().find("content type"), std::string::npos);
}

TEST_F(AggregateTest, BytesCodecEventRoundTrips) {
  auto a = Create(0);
  a.Append(Note{std::string("bin\0ary", 7)});
  ESTORIA_ASSERT_OK(accounts_.Save(a));
  auto stored = Stream(a.id());
  EXPECT_EQ(stored[1].content_type, "application/octet-stream");
  EXPECT_EQ(stored[1].data, std::string("bin\0ary", 7));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto loaded, accounts_.Load(a.id().uuid()));
  EXPECT_EQ(loaded.version(), 2);
}

TEST_F(AggregateTest, HydrateAdvancesALoadedAggregate) {
  auto a = Create(4);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto old, accounts_.Load(a.id().uuid(), {.to_version = 2}));
  ESTORIA_ASSERT_OK(accounts_.Hydrate(old, {.to_version = 4}));
  EXPECT_EQ(old.version(), 4);
  EXPECT_EQ(old.state().balance, 3);
  ESTORIA_ASSERT_OK(accounts_.Hydrate(old));
  EXPECT_EQ(old.version(), 5);
  EXPECT_EQ(old.state(), a.state());
  EXPECT_THAT(accounts_.Hydrate(old, {.to_version = 3}), StatusIs(StatusCode::kInvalidArgument));
  old.Append(BalanceChanged{1});
  EXPECT_THAT(accounts_.Hydrate(old), StatusIs(StatusCode::kFailedPrecondition));
}

TEST_F(AggregateTest, TruncatedStreamCannotBeReplayedFromScratch) {
  auto a = Create(3);
  ESTORIA_ASSERT_OK(events_->DeleteStream(a.id(), {.to_version = 2}));
  auto r = accounts_.Load(a.id().uuid());
  ASSERT_THAT(r, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_NE(r.error().message().find("truncated"), std::string::npos);
}

TEST_F(AggregateTest, InvalidSettingsAreReportedByEveryOperation) {
  AccountStore bad_type(events_, "Not A Type");
  EXPECT_THAT(bad_type.New(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(bad_type.Load(Uuid::NewV7()), StatusIs(StatusCode::kInvalidArgument));
  AccountStore no_store(nullptr, "account");
  EXPECT_THAT(no_store.New(), StatusIs(StatusCode::kInvalidArgument));
  EventSourcedStore<Account, BalanceChanged, BalanceChanged> dup(events_, "account");
  EXPECT_THAT(dup.New(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(accounts_.New(Uuid()), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(AggregateTest, AggregateOfAnotherTypeIsRejected) {
  Aggregate<Account> other(TypeId("customer", Uuid::NewV7()));
  other.Append(Opened{"x"});
  EXPECT_THAT(accounts_.Save(other), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(accounts_.Hydrate(other), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(AggregateTest, ExposesItsEventStore) {
  EXPECT_EQ(accounts_.event_store(), events_);
  EXPECT_EQ(accounts_.aggregate_type(), "account");
  EXPECT_EQ(accounts_.snapshot_store(), nullptr);
}

}  // namespace
}  // namespace estoria
