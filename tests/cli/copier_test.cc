// The CLI's copier. The event JSON codec is tested in
// tests/unit/json_codec_test.cc, importers by the EventImporter conformance suite.
#include "copier.h"

#include <gtest/gtest.h>

#include "estoria/memory/memory_event_store.h"
#include "estoria/testing/matchers.h"
#include "event_json.h"

namespace estoria::cli {
namespace {

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
