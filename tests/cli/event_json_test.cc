// The memory store's EventImporter (verbatim import rules) and the CLI's
// copier. The event JSON codec itself is tested in tests/unit/json_codec_test.cc.
#include "event_json.h"

#include <gtest/gtest.h>

#include "copier.h"
#include "estoria/memory/memory_event_store.h"
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

TEST(EventImporterTest, MemoryStoreImportsVerbatimWithPreservedPositions) {
  auto source = estoria::memory::MemoryEventStore::Open().value();
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

  auto target = estoria::memory::MemoryEventStore::Open().value();
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
  auto store = estoria::memory::MemoryEventStore::Open().value();
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
  auto source = estoria::memory::MemoryEventStore::Open().value();
  for (int s = 0; s < 5; ++s) {
    std::vector<WritableEvent> batch(7);
    for (auto& w : batch) {
      w.type = "deposited";
      w.data = "{}";
    }
    ESTORIA_ASSERT_OK(source->AppendStream(TypeId("account", Uuid::NewV7()), batch).status());
  }
  auto target = estoria::memory::MemoryEventStore::Open().value();
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
