#include "estoria/type_id.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "estoria/event.h"
#include "estoria/testing/matchers.h"

namespace estoria {
namespace {

using ::estoria::testing::StatusIs;
using ::testing::HasSubstr;

TEST(UuidTest, NewV7HasVersionAndVariantBits) {
  Uuid u = Uuid::NewV7();
  EXPECT_EQ(u.version(), 7);
  EXPECT_EQ(u.bytes()[8] & 0xC0, 0x80);  // RFC 9562 variant
  EXPECT_FALSE(u.IsNil());
  EXPECT_TRUE(Uuid().IsNil());
}

TEST(UuidTest, NewV7EmbedsTheCurrentTimeInMilliseconds) {
  auto before =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  Uuid u = Uuid::NewV7();
  auto after =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  int64_t ms = 0;
  for (int i = 0; i < 6; ++i) ms = (ms << 8) | u.bytes()[i];
  EXPECT_GE(ms, before);
  EXPECT_LE(ms, after + 1);
}

TEST(UuidTest, NewV7IsStrictlyIncreasingAcrossThreads) {
  std::vector<std::vector<Uuid>> per_thread(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) per_thread[t].push_back(Uuid::NewV7());
    });
  }
  for (auto& th : threads) th.join();
  std::set<Uuid> all;
  for (const auto& ids : per_thread) {
    for (size_t i = 1; i < ids.size(); ++i) ASSERT_LT(ids[i - 1], ids[i]);
    all.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(all.size(), 20000u);
}

TEST(UuidTest, ParseAndFormatRoundTrip) {
  auto u = Uuid::Parse("0190f1c2-8d5e-7a3b-9c1d-2e3f4a5b6c7d");
  ASSERT_TRUE(u.has_value()) << u.error();
  EXPECT_EQ(u->ToString(), "0190f1c2-8d5e-7a3b-9c1d-2e3f4a5b6c7d");
  auto upper = Uuid::Parse("0190F1C2-8D5E-7A3B-9C1D-2E3F4A5B6C7D");
  ASSERT_TRUE(upper.has_value());
  EXPECT_EQ(*upper, *u);
  Uuid fresh = Uuid::NewV7();
  EXPECT_EQ(Uuid::Parse(fresh.ToString()).value(), fresh);
}

TEST(UuidTest, MalformedTextIsRejectedWithTheReason) {
  EXPECT_THAT(Uuid::Parse(""), StatusIs(StatusCode::kInvalidArgument));
  auto short_text = Uuid::Parse("0190f1c2-8d5e-7a3b-9c1d-2e3f4a5b6c7");
  EXPECT_THAT(short_text.error().message(), HasSubstr("36 characters"));
  auto no_dash = Uuid::Parse("0190f1c2x8d5e-7a3b-9c1d-2e3f4a5b6c7d");
  EXPECT_THAT(no_dash.error().message(), HasSubstr("'-' at offset 8"));
  auto bad_hex = Uuid::Parse("0190f1c2-8d5e-7a3b-9c1d-2e3f4a5b6c7g");
  EXPECT_THAT(bad_hex.error().message(), HasSubstr("offset 35"));
  EXPECT_THAT(Uuid::Parse("{0190f1c2-8d5e-7a3b-9c1d-2e3f4a5b6c}"), StatusIs(StatusCode::kInvalidArgument));
}

TEST(TypeIdTest, FormatIsTypeUnderscoreUuid) {
  TypeId id = TypeId::Make("account", Uuid::Parse("0190f1c2-8d5e-7a3b-9c1d-2e3f4a5b6c7d").value()).value();
  EXPECT_EQ(id.ToString(), "account_0190f1c2-8d5e-7a3b-9c1d-2e3f4a5b6c7d");
  EXPECT_EQ(id.type(), "account");
}

TEST(TypeIdTest, ParseIsTheExactInverseOfFormat) {
  for (std::string type : {"a", "account", "bank.account", "user_profile", "x9.y_z"}) {
    TypeId id = TypeId::New(type).value();
    auto parsed = TypeId::Parse(id.ToString());
    ASSERT_TRUE(parsed.has_value()) << parsed.error();
    EXPECT_EQ(*parsed, id);
    EXPECT_EQ(parsed->ToString(), id.ToString());
  }
  // A type containing '_' parses because the UUID has a fixed length.
  auto tricky = TypeId::Parse("my_type_0190f1c2-8d5e-7a3b-9c1d-2e3f4a5b6c7d");
  ASSERT_TRUE(tricky.has_value());
  EXPECT_EQ(tricky->type(), "my_type");
}

TEST(TypeIdTest, MalformedInputsAreRejected) {
  const char* bad[] = {
      "",
      "account",
      "account_",
      "_0190f1c2-8d5e-7a3b-9c1d-2e3f4a5b6c7d",          // empty type
      "Account_0190f1c2-8d5e-7a3b-9c1d-2e3f4a5b6c7d",   // uppercase
      "1account_0190f1c2-8d5e-7a3b-9c1d-2e3f4a5b6c7d",  // leading digit
      "acc-ount_0190f1c2-8d5e-7a3b-9c1d-2e3f4a5b6c7d",  // '-'
      "account__0190f1c2-8d5e-7a3b-9c1d-2e3f4a5b6c7d",  // trailing '_' in type
      "account-0190f1c2-8d5e-7a3b-9c1d-2e3f4a5b6c7d",   // wrong separator
      "account_0190F1C2-8D5E-7A3B-9C1D-2E3F4A5B6C7D",   // uppercase UUID: not canonical
      "account_0190f1c2-8d5e-7a3b-9c1d-2e3f4a5b6c7D",   // one uppercase digit, last
      "account_A190f1c2-8d5e-7a3b-9c1d-2e3f4a5b6c7d",   // one uppercase digit, first
      "account_0190f1c2-8d5e-7a3b-9c1d-2e3f4a5b6c7d ",  // trailing space
      "account_0190f1c28d5e7a3b9c1d2e3f4a5b6c7d",       // no dashes
      "acc ount_0190f1c2-8d5e-7a3b-9c1d-2e3f4a5b6c7d",  // space
  };
  for (const char* text : bad) {
    auto r = TypeId::Parse(text);
    EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument)) << text;
    EXPECT_FALSE(r.error().message().empty());
  }
}

TEST(TypeIdTest, TypeNameRules) {
  ESTORIA_EXPECT_OK(TypeId::ValidateTypeName("a"));
  ESTORIA_EXPECT_OK(TypeId::ValidateTypeName("a.b_c9"));
  EXPECT_THAT(TypeId::ValidateTypeName(""), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(TypeId::ValidateTypeName("_a"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(TypeId::ValidateTypeName("a_"), StatusIs(StatusCode::kInvalidArgument));
  auto st = TypeId::ValidateTypeName("abC");
  EXPECT_THAT(st.message(), HasSubstr("'C' at offset 2"));
  EXPECT_THAT(TypeId::New("Bad"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(TypeId::ValidateTypeName(std::string(256, 'a')), StatusIs(StatusCode::kInvalidArgument));
}

TEST(TimestampTest, FormatHasMicrosecondsAndParsesBack) {
  Timestamp t = Timestamp(std::chrono::microseconds(1764124333123456));
  std::string text = FormatTimestamp(t);
  EXPECT_EQ(text, "2025-11-26T02:32:13.123456Z");
  auto parsed = ParseTimestamp(text);
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  EXPECT_EQ(*parsed, t);
  Timestamp now = Now();
  EXPECT_EQ(ParseTimestamp(FormatTimestamp(now)).value(), now);
}

TEST(TimestampTest, ParseAcceptsOffsetsAndShortFractions) {
  EXPECT_EQ(ParseTimestamp("2025-11-26T04:32:13.5+02:00").value(),
            ParseTimestamp("2025-11-26T02:32:13.500000Z").value());
  EXPECT_EQ(ParseTimestamp("2025-11-26T02:32:13Z").value(), ParseTimestamp("2025-11-26T02:32:13.000000Z").value());
  EXPECT_EQ(ParseTimestamp("2025-11-26T02:32:13.123456789Z").value(),
            ParseTimestamp("2025-11-26T02:32:13.123456Z").value());
}

TEST(TimestampTest, ParseRejectsMalformedText) {
  for (const char* bad :
       {"", "2025-11-26", "2025-11-26T02:32:13", "2025-13-01T00:00:00Z", "2025-02-30T00:00:00Z", "2025-11-26T25:00:00Z",
        "2025-11-26T02:32:13.Z", "2025-11-26T02:32:13Zjunk", "2025-11-26T02:32:13+0200"}) {
    EXPECT_THAT(ParseTimestamp(bad), StatusIs(StatusCode::kInvalidArgument)) << bad;
  }
}

}  // namespace
}  // namespace estoria
