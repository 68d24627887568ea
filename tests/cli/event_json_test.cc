// The JSON event format of the CLI (export/import) and the memory store's
// EventImporter: exact round trips, binary payloads, verbatim import rules.
#include "event_json.h"

#include <gtest/gtest.h>

#include "base64.h"
#include "copier.h"
#include "estoria/memory_event_store.h"
#include "estoria/testing/matchers.h"

namespace estoria::cli {
namespace {

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
  Json j = EventToJson(compact);
  EXPECT_EQ(j.dump(), std::string(R"({"id":")") + compact.id.ToString() + R"(","stream_id":")" + kStream +
                          R"(","type":"deposited","version":1,"position":1,"timestamp":"2026-11-26T01:02:03.456789Z",)"
                          R"("content_type":"application/json","metadata":{},"data":{"b":1,"a":[true,null]}})");
  // Whitespace that a re-serialisation would lose: bytes kept as base64.
  Event spaced = MakeEvent(kStream, 1, 1, "application/json", R"({"a": 1})");
  EXPECT_TRUE(EventToJson(spaced).contains("data_base64"));
  Event vendor = MakeEvent(kStream, 1, 1, "application/vnd.acme+json; charset=utf-8", "[1,2]");
  EXPECT_EQ(EventToJson(vendor)["data"].dump(), "[1,2]");
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
    std::string line = EventToJson(e).dump();
    ESTORIA_ASSERT_OK_AND_ASSIGN(Event back, EventFromJsonLine(line));
    EXPECT_EQ(back, e) << line;
    EXPECT_EQ(EventToJson(back).dump(), line);
  }
}

TEST(EventJsonTest, RejectsMalformedEvents) {
  EXPECT_THAT(EventFromJsonLine("{not json").status(), estoria::testing::StatusIs(StatusCode::kInvalidArgument));
  Json j = EventToJson(MakeEvent(kStream, 1, 1, "application/json", "{}"));
  j.erase("version");
  EXPECT_FALSE(EventFromJson(j).has_value());
  j = EventToJson(MakeEvent(kStream, 1, 1, "application/json", "{}"));
  j["type"] = "other";
  EXPECT_FALSE(EventFromJson(j).has_value());
  j = EventToJson(MakeEvent(kStream, 1, 1, "application/json", "{}"));
  j["metadata"] = Json{{"n", 1}};
  EXPECT_FALSE(EventFromJson(j).has_value());
  j = EventToJson(MakeEvent(kStream, 1, 1, "application/json", "{}"));
  j["timestamp"] = "yesterday";
  EXPECT_FALSE(EventFromJson(j).has_value());
}

TEST(EventImporterTest, MemoryStoreImportsVerbatimWithPreservedPositions) {
  auto source = MemoryEventStore::Create();
  TypeId a("account", Uuid::NewV7()), b("order", Uuid::NewV7());
  std::vector<WritableEvent> three(3);
  for (auto& w : three) {
    w.type = "deposited";
    w.data = "{}";
  }
  three[1].metadata = {{"user", "u"}};
  ESTORIA_ASSERT_OK(source->AppendStream(a, three).status());
  ESTORIA_ASSERT_OK(source->AppendStream(b, three).status());
  ESTORIA_ASSERT_OK(source->DeleteStream(a, DeleteStreamOptions{2}));  // a keeps v3 at position 3
  auto all = Collect(**source->ReadAll());
  ESTORIA_ASSERT_OK(all.status());
  ASSERT_EQ(all->size(), 4u);

  auto target = MemoryEventStore::Create();
  ASSERT_NE(target->event_importer(), nullptr);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto positions, target->ImportEvents(*all, ImportOptions{true}));
  EXPECT_EQ(positions, (std::vector<int64_t>{3, 4, 5, 6}));
  auto copied = Collect(**target->ReadAll());
  ESTORIA_ASSERT_OK(copied.status());
  EXPECT_EQ(*copied, *all);
  EXPECT_EQ(*target->HeadPosition(), 6);
  // The truncated stream continues at its tip, like in the source.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto more,
                               target->AppendStream(a, std::span(three).first(1), AppendOptions::ExpectVersion(3)));
  EXPECT_EQ(more[0].stream_version, 4);
  EXPECT_EQ(more[0].global_position, 7);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto listed, target->ListStreams());
  ASSERT_EQ(listed.size(), 2u);
}

TEST(EventImporterTest, RejectsGapsDuplicatesAndBadPositionsAtomically) {
  auto store = MemoryEventStore::Create();
  Event first = MakeEvent(kStream, 1, 1, "application/json", "{}");
  Event gap = MakeEvent(kStream, 3, 2, "application/json", "{}");
  EXPECT_THAT(store->ImportEvents(std::vector<Event>{first, gap}).status(),
              estoria::testing::StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(*store->HeadPosition(), 0);  // all or none
  ESTORIA_ASSERT_OK(store->ImportEvents(std::vector<Event>{first}).status());
  EXPECT_THAT(store->ImportEvents(std::vector<Event>{first}).status(),
              estoria::testing::StatusIs(StatusCode::kAlreadyExists));
  Event second = MakeEvent(kStream, 2, 1, "application/json", "{}");
  EXPECT_THAT(store->ImportEvents(std::vector<Event>{second}, ImportOptions{true}).status(),
              estoria::testing::StatusIs(StatusCode::kInvalidArgument));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto pos, store->ImportEvents(std::vector<Event>{second}));
  EXPECT_EQ(pos, std::vector<int64_t>{2});
}

TEST(CopierTest, MemoryToMemoryIsExactAndResumes) {
  auto source = MemoryEventStore::Create();
  for (int s = 0; s < 5; ++s) {
    std::vector<WritableEvent> batch(7);
    for (auto& w : batch) {
      w.type = "deposited";
      w.data = "{}";
    }
    ESTORIA_ASSERT_OK(source->AppendStream(TypeId("account", Uuid::NewV7()), batch).status());
  }
  auto target = MemoryEventStore::Create();
  CopyOptions options;
  options.batch = 4;
  // Interrupt after the second batch.
  options.on_progress = [](int64_t done, int64_t) {
    if (done >= 8) throw std::runtime_error("interrupted");
  };
  EXPECT_THROW((void)CopyStore(*source, *target, options), std::runtime_error);
  EXPECT_EQ(*target->HeadPosition(), 8);
  options.on_progress = nullptr;
  ESTORIA_ASSERT_OK_AND_ASSIGN(CopyReport report, CopyStore(*source, *target, options));
  EXPECT_EQ(report.resumed_after, 8);
  EXPECT_EQ(report.copied, 27);
  EXPECT_TRUE(report.verbatim);
  EXPECT_TRUE(report.positions_preserved);
  EXPECT_EQ(*Collect(**target->ReadAll()), *Collect(**source->ReadAll()));
}

}  // namespace
}  // namespace estoria::cli
