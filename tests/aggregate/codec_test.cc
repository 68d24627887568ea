#include "estoria/codec.h"

#include <gtest/gtest.h>

#include "estoria/testing/matchers.h"
#include "test_types.h"

namespace estoria {
namespace {

using estoria::testing::StatusIs;
using estoria_test::Account;
using estoria_test::BalanceChanged;
using estoria_test::Note;

TEST(JsonCodecTest, RoundTripsAndDeclaresContentType) {
  EXPECT_EQ(JsonCodec::kContentType, "application/json");
  Account a{"ann", 42, 3, true};
  ESTORIA_ASSERT_OK_AND_ASSIGN(std::string data, JsonCodec::Encode(a));
  EXPECT_EQ(nlohmann::json::parse(data),
            nlohmann::json({{"owner", "ann"}, {"balance", 42}, {"changes", 3}, {"closed", true}}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(Account back, JsonCodec::Decode<Account>("application/json", data));
  EXPECT_EQ(back, a);
}

TEST(JsonCodecTest, RejectsOtherContentType) {
  auto r = JsonCodec::Decode<BalanceChanged>("application/octet-stream", R"({"amount":1})");
  EXPECT_THAT(r, StatusIs(StatusCode::kCorruption));
  EXPECT_NE(r.error().message().find("application/octet-stream"), std::string::npos);
  EXPECT_NE(r.error().message().find("application/json"), std::string::npos);
}

TEST(JsonCodecTest, InvalidJsonAndWrongShapeAreCorruption) {
  EXPECT_THAT(JsonCodec::Decode<BalanceChanged>("application/json", "{not json"), StatusIs(StatusCode::kCorruption));
  EXPECT_THAT(JsonCodec::Decode<BalanceChanged>("application/json", R"({"amount":"ten"})"),
              StatusIs(StatusCode::kCorruption));
  EXPECT_THAT(JsonCodec::Decode<BalanceChanged>("application/json", R"({"other":1})"),
              StatusIs(StatusCode::kCorruption));
}

TEST(JsonCodecTest, InvalidUtf8IsInvalidArgumentOnEncode) {
  Account a{std::string("\xff\xfe", 2), 0, 0, false};
  EXPECT_THAT(JsonCodec::Encode(a), StatusIs(StatusCode::kInvalidArgument));
}

TEST(BytesCodecTest, RoundTripsBinaryData) {
  EXPECT_EQ(BytesCodec::kContentType, "application/octet-stream");
  std::string raw("a\0b\xff", 4);
  ESTORIA_ASSERT_OK_AND_ASSIGN(std::string data, BytesCodec::Encode(raw));
  EXPECT_EQ(data, raw);
  ESTORIA_ASSERT_OK_AND_ASSIGN(std::string back, BytesCodec::Decode<std::string>("application/octet-stream", data));
  EXPECT_EQ(back, raw);
  ESTORIA_ASSERT_OK_AND_ASSIGN(std::string note_data, BytesCodec::Encode(Note{raw}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(Note note, BytesCodec::Decode<Note>("application/octet-stream", note_data));
  EXPECT_EQ(note.text, raw);
  ESTORIA_ASSERT_OK_AND_ASSIGN(std::string empty, BytesCodec::Decode<std::string>("application/octet-stream", ""));
  EXPECT_EQ(empty, "");
}

TEST(BytesCodecTest, RejectsOtherContentType) {
  EXPECT_THAT(BytesCodec::Decode<std::string>("application/json", "{}"), StatusIs(StatusCode::kCorruption));
}

struct Versioned {
  static constexpr int kSchemaVersion = 3;
};

TEST(CodecForTest, SelectsDeclaredCodecElseJson) {
  static_assert(std::is_same_v<CodecFor<BalanceChanged>, JsonCodec>);
  static_assert(std::is_same_v<CodecFor<Note>, BytesCodec>);
  static_assert(SchemaVersionOf<BalanceChanged>() == 1);
  static_assert(SchemaVersionOf<Versioned>() == 3);
  SUCCEED();
}

}  // namespace
}  // namespace estoria
