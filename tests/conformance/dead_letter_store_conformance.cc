// DeadLetterStoreConformance: the DeadLetterStore contract
// (estoria/projection/dead_letter_store.h).
#include "estoria/testing/dead_letter_store_conformance.h"

#include <thread>

#include "conformance_util.h"
#include "estoria/testing/matchers.h"

namespace estoria::testing {

int LinkDeadLetterStoreConformance() { return 0; }

using ::testing::ElementsAre;
using ::testing::IsEmpty;

void DeadLetterStoreConformance::SetUp() { internal::MakeStore(GetParam(), store_); }

namespace {

DeadLetter Letter(std::string projection, int64_t position, std::string error = "Internal: boom", int attempts = 3) {
  DeadLetter l;
  l.projection = std::move(projection);
  l.event.id = TypeId("deposited", Uuid::NewV7());
  l.event.stream_id = TypeId::New("account").value();
  l.event.stream_version = position + 1;
  l.event.global_position = position;
  l.event.timestamp = Now() - std::chrono::seconds(position);
  l.event.content_type = std::string(kJsonContentType);
  l.event.data = R"({"amount":)" + std::to_string(position) + "}";
  l.event.metadata = {{"user", "u1"}, {std::string(kReservedMetadataPrefix) + "schema_version", "2"}};
  l.error = std::move(error);
  l.attempts = attempts;
  l.parked_at = Now();
  return l;
}

// Field by field, for readable failures.
void ExpectSameLetter(const DeadLetter& got, const DeadLetter& want) {
  EXPECT_EQ(got.projection, want.projection);
  EXPECT_EQ(got.event, want.event);
  EXPECT_EQ(got.error, want.error);
  EXPECT_EQ(got.attempts, want.attempts);
  EXPECT_EQ(got.parked_at, want.parked_at);
  EXPECT_TRUE(got == want);
}

std::vector<int64_t> PositionsOf(const std::vector<DeadLetter>& letters) {
  std::vector<int64_t> out;
  for (const auto& l : letters) out.push_back(l.event.global_position);
  return out;
}

TEST_P(DeadLetterStoreConformance, ParkGetRoundTrip) {
  DeadLetter l = Letter("balances", 7);
  l.event.content_type = std::string(kBytesContentType);
  l.event.data = std::string("\0\x01\xff", 3);
  ESTORIA_ASSERT_OK(store_->Park(l));
  ESTORIA_ASSERT_OK_AND_ASSIGN(DeadLetter got, store_->Get("balances", 7));
  ExpectSameLetter(got, l);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto listed, store_->List("balances"));
  ASSERT_EQ(listed.size(), 1u);
  ExpectSameLetter(listed[0], l);
}

TEST_P(DeadLetterStoreConformance, ParkingTheSamePositionAgainReplacesIt) {
  ESTORIA_ASSERT_OK(store_->Park(Letter("balances", 5, "Internal: first", 1)));
  DeadLetter second = Letter("balances", 5, "Unavailable: second", 4);
  ESTORIA_ASSERT_OK(store_->Park(second));
  ESTORIA_ASSERT_OK_AND_ASSIGN(DeadLetter got, store_->Get("balances", 5));
  ExpectSameLetter(got, second);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto listed, store_->List("balances"));
  EXPECT_THAT(PositionsOf(listed), ElementsAre(5));
}

TEST_P(DeadLetterStoreConformance, ListIsPerProjectionInAscendingPosition) {
  for (int64_t p : {30, 4, 17}) ESTORIA_ASSERT_OK(store_->Park(Letter("balances", p)));
  ESTORIA_ASSERT_OK(store_->Park(Letter("balances_v2", 9)));
  ESTORIA_ASSERT_OK(store_->Park(Letter("a", 1)));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto balances, store_->List("balances"));
  EXPECT_THAT(PositionsOf(balances), ElementsAre(4, 17, 30));
  for (const auto& l : balances) EXPECT_EQ(l.projection, "balances");
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto v2, store_->List("balances_v2"));
  EXPECT_THAT(PositionsOf(v2), ElementsAre(9));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto none, store_->List("nobody"));
  EXPECT_THAT(none, IsEmpty());
  // The same position in two projections is two letters.
  EXPECT_THAT(store_->Get("balances_v2", 4), StatusIs(StatusCode::kNotFound));
}

TEST_P(DeadLetterStoreConformance, DiscardRemovesOnlyThatLetter) {
  ESTORIA_ASSERT_OK(store_->Park(Letter("balances", 1)));
  ESTORIA_ASSERT_OK(store_->Park(Letter("balances", 2)));
  ESTORIA_ASSERT_OK(store_->Park(Letter("other", 1)));
  ESTORIA_ASSERT_OK(store_->Discard("balances", 1));
  EXPECT_THAT(store_->Get("balances", 1), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store_->Discard("balances", 1), StatusIs(StatusCode::kNotFound));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto rest, store_->List("balances"));
  EXPECT_THAT(PositionsOf(rest), ElementsAre(2));
  ESTORIA_ASSERT_OK(store_->Get("other", 1));
  // Parking a discarded position again works.
  ESTORIA_ASSERT_OK(store_->Park(Letter("balances", 1)));
  ESTORIA_ASSERT_OK(store_->Get("balances", 1));
}

TEST_P(DeadLetterStoreConformance, MissingLettersAreNotFound) {
  EXPECT_THAT(store_->Get("balances", 1), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store_->Discard("balances", 1), StatusIs(StatusCode::kNotFound));
}

TEST_P(DeadLetterStoreConformance, InvalidKeysAreRejected) {
  EXPECT_THAT(store_->Park(Letter("", 1)), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Park(Letter("balances", 0)), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Park(Letter("balances", -2)), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->List(""), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Get("", 1), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Get("balances", 0), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Discard("", 1), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Discard("balances", 0), StatusIs(StatusCode::kInvalidArgument));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto none, store_->List("balances"));
  EXPECT_THAT(none, IsEmpty());
}

TEST_P(DeadLetterStoreConformance, ConcurrentParksAreAllKept) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 1; i <= 10; ++i) ESTORIA_EXPECT_OK(store_->Park(Letter("proj" + std::to_string(t), i)));
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto listed, store_->List("proj" + std::to_string(t)));
    EXPECT_EQ(listed.size(), 10u);
  }
}

// Replay requests: NotSupported from all three methods, or the full contract.
class ReplayRequests {
 public:
  static bool Supported(DeadLetterStore& store) {
    auto r = store.ListReplayRequests("probe");
    if (r.has_value()) return true;
    EXPECT_THAT(r, StatusIs(StatusCode::kNotSupported));
    EXPECT_THAT(store.RequestReplay("probe", std::nullopt), StatusIs(StatusCode::kNotSupported));
    EXPECT_THAT(store.ClearReplayRequest("probe", 1), StatusIs(StatusCode::kNotSupported));
    return false;
  }
};

#define ESTORIA_REQUIRE_REPLAY_REQUESTS_()                                                            \
  do {                                                                                                \
    if (!ReplayRequests::Supported(*store_)) GTEST_SKIP() << "replay requests are NotSupported here"; \
  } while (0)

TEST_P(DeadLetterStoreConformance, RequestOneReplayListAndClear) {
  ESTORIA_REQUIRE_REPLAY_REQUESTS_();
  for (int64_t p : {3, 8, 12}) ESTORIA_ASSERT_OK(store_->Park(Letter("balances", p)));
  ESTORIA_ASSERT_OK(store_->Park(Letter("other", 8)));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto none, store_->ListReplayRequests("balances"));
  EXPECT_THAT(none, IsEmpty());
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t n, store_->RequestReplay("balances", 12));
  EXPECT_EQ(n, 1);
  ESTORIA_ASSERT_OK_AND_ASSIGN(n, store_->RequestReplay("balances", 3));
  EXPECT_EQ(n, 1);
  // Requesting again is harmless.
  ESTORIA_ASSERT_OK(store_->RequestReplay("balances", 3));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto requested, store_->ListReplayRequests("balances"));
  EXPECT_THAT(requested, ElementsAre(3, 12));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto other, store_->ListReplayRequests("other"));
  EXPECT_THAT(other, IsEmpty());
  // Clearing keeps the event parked; clearing what is not requested is OK.
  ESTORIA_ASSERT_OK(store_->ClearReplayRequest("balances", 3));
  ESTORIA_ASSERT_OK(store_->ClearReplayRequest("balances", 3));
  ESTORIA_ASSERT_OK(store_->ClearReplayRequest("balances", 8));
  ESTORIA_ASSERT_OK_AND_ASSIGN(requested, store_->ListReplayRequests("balances"));
  EXPECT_THAT(requested, ElementsAre(12));
  ESTORIA_ASSERT_OK(store_->Get("balances", 3));
}

TEST_P(DeadLetterStoreConformance, RequestReplayOfAllParkedEvents) {
  ESTORIA_REQUIRE_REPLAY_REQUESTS_();
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t n, store_->RequestReplay("balances", std::nullopt));
  EXPECT_EQ(n, 0);
  for (int64_t p : {2, 5, 9}) ESTORIA_ASSERT_OK(store_->Park(Letter("balances", p)));
  ESTORIA_ASSERT_OK(store_->Park(Letter("other", 4)));
  ESTORIA_ASSERT_OK_AND_ASSIGN(n, store_->RequestReplay("balances", std::nullopt));
  EXPECT_EQ(n, 3);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto requested, store_->ListReplayRequests("balances"));
  EXPECT_THAT(requested, ElementsAre(2, 5, 9));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto other, store_->ListReplayRequests("other"));
  EXPECT_THAT(other, IsEmpty());
}

TEST_P(DeadLetterStoreConformance, ARequestLivesAsLongAsItsParkedEvent) {
  ESTORIA_REQUIRE_REPLAY_REQUESTS_();
  for (int64_t p : {1, 2}) ESTORIA_ASSERT_OK(store_->Park(Letter("balances", p)));
  ESTORIA_ASSERT_OK(store_->RequestReplay("balances", std::nullopt));
  ESTORIA_ASSERT_OK(store_->Discard("balances", 1));                             // discard removes its request
  ESTORIA_ASSERT_OK(store_->Park(Letter("balances", 2, "Internal: again", 5)));  // a re-Park as well
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto requested, store_->ListReplayRequests("balances"));
  EXPECT_THAT(requested, IsEmpty());
  // Parking the discarded position again does not revive its old request.
  ESTORIA_ASSERT_OK(store_->Park(Letter("balances", 1)));
  ESTORIA_ASSERT_OK_AND_ASSIGN(requested, store_->ListReplayRequests("balances"));
  EXPECT_THAT(requested, IsEmpty());
}

TEST_P(DeadLetterStoreConformance, ReplayRequestErrors) {
  ESTORIA_REQUIRE_REPLAY_REQUESTS_();
  ESTORIA_ASSERT_OK(store_->Park(Letter("balances", 1)));
  EXPECT_THAT(store_->RequestReplay("balances", 2), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store_->RequestReplay("other", 1), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store_->RequestReplay("", std::nullopt), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->RequestReplay("balances", 0), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->ListReplayRequests(""), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->ClearReplayRequest("", 1), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->ClearReplayRequest("balances", 0), StatusIs(StatusCode::kInvalidArgument));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto requested, store_->ListReplayRequests("balances"));
  EXPECT_THAT(requested, IsEmpty());
}

}  // namespace
}  // namespace estoria::testing
