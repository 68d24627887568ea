#include "estoria/status.h"

#include <gtest/gtest.h>

#include <memory>

#include "estoria/testing/matchers.h"

namespace estoria {
namespace {

using ::estoria::testing::StatusIs;

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, EveryCodeHasANameAndPredicate) {
  EXPECT_TRUE(Status::InvalidArgument("x").IsInvalidArgument());
  EXPECT_TRUE(Status::NotFound("x").IsNotFound());
  EXPECT_TRUE(Status::Conflict("x").IsConflict());
  EXPECT_TRUE(Status::AlreadyExists("x").IsAlreadyExists());
  EXPECT_TRUE(Status::FailedPrecondition("x").IsFailedPrecondition());
  EXPECT_TRUE(Status::Unavailable("x").IsUnavailable());
  EXPECT_TRUE(Status::Corruption("x").IsCorruption());
  EXPECT_TRUE(Status::NotSupported("x").IsNotSupported());
  EXPECT_TRUE(Status::Internal("x").IsInternal());
  EXPECT_EQ(Status::Unavailable("down").ToString(), "Unavailable: down");
  EXPECT_FALSE(Status::NotFound("x").IsConflict());
}

TEST(StatusTest, ConflictCarriesDetails) {
  Status s = Status::Conflict(ConflictDetails{"account_x", 3, 5});
  ASSERT_TRUE(s.IsConflict());
  ASSERT_TRUE(s.conflict().has_value());
  EXPECT_EQ(s.conflict()->stream_id, "account_x");
  EXPECT_EQ(s.conflict()->expected_version, 3);
  EXPECT_EQ(s.conflict()->actual_version, 5);
  EXPECT_NE(s.message().find("expected version 3"), std::string::npos);
  EXPECT_NE(s.message().find("found version 5"), std::string::npos);
  EXPECT_FALSE(Status::Conflict("plain").conflict().has_value());
}

TEST(StatusTest, WithContextPrefixesAndKeepsCode) {
  Status s = Status::NotFound("stream x").WithContext("load");
  EXPECT_TRUE(s.IsNotFound());
  EXPECT_EQ(s.message(), "load: stream x");
  EXPECT_TRUE(Status::Ok().WithContext("ignored").ok());
}

TEST(StatusTest, EventsAppendedFlag) {
  Status s = Status::Internal("hook failed");
  EXPECT_FALSE(s.events_appended());
  s.MarkEventsAppended();
  EXPECT_TRUE(s.events_appended());
  EXPECT_NE(s.ToString().find("events were appended"), std::string::npos);
}

TEST(ResultTest, HoldsValueOrError) {
  Result<int> a = 42;
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(*a, 42);
  EXPECT_TRUE(a.error().ok());
  Result<int> b = Status::NotFound("nope");
  EXPECT_FALSE(b.has_value());
  EXPECT_THAT(b, StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(b.value_or(7), 7);
}

TEST(ResultTest, OkStatusBecomesInternalError) {
  Result<int> r = Status::Ok();
  EXPECT_THAT(r, StatusIs(StatusCode::kInternal));
}

TEST(ResultTest, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  ASSERT_TRUE(r.has_value());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 5);
}

Result<int> Half(int x) {
  if (x % 2) return Status::InvalidArgument("odd");
  return x / 2;
}
Result<int> Quarter(int x) {
  ESTORIA_ASSIGN_OR_RETURN(int h, Half(x));
  ESTORIA_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}
Status CheckEven(int x) {
  ESTORIA_RETURN_IF_ERROR(Half(x).error());
  return Status::Ok();
}

TEST(ResultTest, PropagationMacros) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_THAT(Quarter(6), StatusIs(StatusCode::kInvalidArgument));
  ESTORIA_EXPECT_OK(CheckEven(4));
  EXPECT_THAT(CheckEven(3), StatusIs(StatusCode::kInvalidArgument));
}

TEST(ResultDeathTest, ValueOnErrorAborts) {
  Result<int> r = Status::NotFound("gone");
  EXPECT_DEATH({ (void)r.value(); }, "NotFound: gone");
}

}  // namespace
}  // namespace estoria
