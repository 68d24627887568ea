// The backend SDK's JSON codecs (estoria/backend/json_codec.h): metadata JSON,
// the event JSON form, UTF-8 checks and base64.
#include "estoria/backend/json_codec.h"

#include <gtest/gtest.h>

#include "estoria/testing/matchers.h"

namespace estoria::backend {
namespace {

using estoria::testing::StatusIs;

Event MakeEvent(std::string stream, int64_t version, int64_t position, std::string content_type, std::string data) {
  Event e;
  e.id = TypeId("deposited", Uuid::NewV7());
  e.stream_id = TypeId::Parse(stream).value();
  e.stream_version = version;
  e.global_position = position;
  e.timestamp = ParseTimestamp("2026-11-26T01:02:03.456789Z").value();
  e.content_type = std::move(content_type);
  e.data = std::move(data);
  return e;
}

const char* kStream = "account_00000000-0000-7000-8000-000000000001";

TEST(Base64Test, RoundTripsEveryByteAndRejectsGarbage) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t len = 0; len < 8; ++len) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(std::string back, Base64Decode(Base64Encode(all.substr(0, len))));
    EXPECT_EQ(back, all.substr(0, len));
  }
  ESTORIA_ASSERT_OK_AND_ASSIGN(std::string back, Base64Decode(Base64Encode(all)));
  EXPECT_EQ(back, all);
  EXPECT_EQ(Base64Encode("hello world"), "aGVsbG8gd29ybGQ=");
  EXPECT_FALSE(Base64Decode("abc").has_value());
  EXPECT_FALSE(Base64Decode("ab!d").has_value());
  EXPECT_FALSE(Base64Decode("a=bc").has_value());
}

TEST(EventJsonTest, JsonPayloadIsAValueOnlyWhenExact) {
  Event compact = MakeEvent(kStream, 1, 1, "application/json", R"({"b":1,"a":[true,null]})");
  JsonValue j = EventToJson(compact).value();
  EXPECT_EQ(j.dump(), std::string(R"({"id":")") + compact.id.ToString() + R"(","stream_id":")" + kStream +
                          R"(","type":"deposited","version":1,"position":1,"timestamp":"2026-11-26T01:02:03.456789Z",)"
                          R"("content_type":"application/json","metadata":{},"data":{"b":1,"a":[true,null]}})");
  // Whitespace that a re-serialisation would lose: bytes kept as base64.
  Event spaced = MakeEvent(kStream, 1, 1, "application/json", R"({"a": 1})");
  EXPECT_TRUE(EventToJson(spaced).value().contains("data_base64"));
  Event vendor = MakeEvent(kStream, 1, 1, "application/vnd.acme+json; charset=utf-8", "[1,2]");
  EXPECT_EQ(EventToJson(vendor).value()["data"].dump(), "[1,2]");
}

TEST(EventJsonTest, RoundTripsExactly) {
  std::vector<Event> events = {
      MakeEvent(kStream, 1, 1, "application/json", R"({"x":"\u00e9t\u00e9","n":1.5})"),
      MakeEvent(kStream, 2, 2, "application/json", "{ \"ws\" : true }"),
      MakeEvent(kStream, 3, 5, "application/octet-stream", std::string("\x00\xff\x10zz", 5)),
      MakeEvent(kStream, 4, 6, "text/plain", ""),
  };
  events[0].metadata = {{"correlation", "c1"}, {"estoria.schema_version", "2"}};
  for (const Event& e : events) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(std::string line, EventToJsonLine(e));
    ESTORIA_ASSERT_OK_AND_ASSIGN(Event back, EventFromJsonLine(line));
    EXPECT_EQ(back, e) << line;
    EXPECT_EQ(EventToJsonLine(back).value(), line);
  }
}

TEST(EventJsonTest, RejectsMalformedEvents) {
  EXPECT_THAT(EventFromJsonLine("{not json").status(), StatusIs(StatusCode::kInvalidArgument));
  JsonValue j = EventToJson(MakeEvent(kStream, 1, 1, "application/json", "{}")).value();
  j.erase("version");
  EXPECT_FALSE(EventFromJson(j).has_value());
  j = EventToJson(MakeEvent(kStream, 1, 1, "application/json", "{}")).value();
  j["type"] = "other";
  EXPECT_FALSE(EventFromJson(j).has_value());
  j = EventToJson(MakeEvent(kStream, 1, 1, "application/json", "{}")).value();
  j["metadata"] = JsonValue{{"n", 1}};
  EXPECT_FALSE(EventFromJson(j).has_value());
  j = EventToJson(MakeEvent(kStream, 1, 1, "application/json", "{}")).value();
  j["timestamp"] = "yesterday";
  EXPECT_FALSE(EventFromJson(j).has_value());
}

TEST(MetadataJsonTest, RoundTripsAndTreatsEmptyTextAsEmpty) {
  Metadata m{{"correlation", "c1"}, {"quote\"", "line\nbreak"}, {"nul", std::string("a\0b", 3)}};
  ESTORIA_ASSERT_OK_AND_ASSIGN(std::string json, EncodeMetadataJson(m));
  ESTORIA_ASSERT_OK_AND_ASSIGN(Metadata back, DecodeMetadataJson(json));
  EXPECT_EQ(back, m);
  EXPECT_EQ(EncodeMetadataJson({}).value(), "{}");
  EXPECT_TRUE(DecodeMetadataJson("").value().empty());
  EXPECT_TRUE(DecodeMetadataJson("{}").value().empty());
}

TEST(MetadataJsonTest, InvalidInputIsInvalidArgumentNeverAnException) {
  // Bytes that are not UTF-8 used to escape as an exception from dump().
  Metadata bad_value{{"k", "\xff\xfe"}};
  EXPECT_THAT(EncodeMetadataJson(bad_value).status(), StatusIs(StatusCode::kInvalidArgument));
  Metadata bad_key{{"\xc3", "v"}};
  EXPECT_THAT(EncodeMetadataJson(bad_key).status(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(DecodeMetadataJson("{nope").status(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(DecodeMetadataJson("[1]").status(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(DecodeMetadataJson(R"({"n":1})").status(), StatusIs(StatusCode::kInvalidArgument));
  Event e = MakeEvent(kStream, 1, 1, "application/json", "{}");
  e.metadata = bad_value;
  EXPECT_THAT(EventToJson(e).status(), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(EventToJsonLine(e).status(), StatusIs(StatusCode::kInvalidArgument));
}

TEST(Utf8Test, AcceptsUtf8AndRejectsOverlongSurrogatesAndTruncation) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80"));
  EXPECT_TRUE(IsValidUtf8(std::string("a\0b", 3)));
  EXPECT_FALSE(IsValidUtf8(std::string("a\0b", 3), /*allow_nul=*/false));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
}

}  // namespace
}  // namespace estoria::backend
