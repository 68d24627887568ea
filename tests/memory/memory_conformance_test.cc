// The conformance suites instantiated for the memory backend.
#include "estoria/memory/memory_event_store.h"
#include "estoria/memory/memory_stores.h"
#include "estoria/open.h"
#include "estoria/testing/conformance.h"

namespace {

ESTORIA_INSTANTIATE_EVENT_STORE_CONFORMANCE(Memory, []() -> estoria::Result<std::shared_ptr<estoria::EventStore>> {
  return std::shared_ptr<estoria::EventStore>(estoria::memory::MemoryEventStore::Open().value());
});

// Configured limits (URI options): the suites take them from event_limits().
ESTORIA_INSTANTIATE_EVENT_STORE_CONFORMANCE(MemorySmallLimits,
                                            []() -> estoria::Result<std::shared_ptr<estoria::EventStore>> {
                                              return estoria::OpenEventStore(
                                                  "memory:?max_event_data_bytes=1000&max_event_metadata_bytes=100");
                                            });

TEST(MemoryUriTest, LimitsAreParsedAndChecked) {
  auto store = estoria::OpenEventStore("memory:?max_event_data_bytes=1000&max_event_metadata_bytes=100");
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->event_limits(), (estoria::EventLimits{1000, 100}));
  EXPECT_EQ(estoria::OpenEventStore("memory:").value()->event_limits(), estoria::EventLimits{});
  EXPECT_EQ(estoria::EventLimits{}.max_event_data_bytes, 1 << 20);
  EXPECT_EQ(estoria::EventLimits{}.max_event_metadata_bytes, 64 << 10);
  for (const char* bad : {"memory:?max_event_data_bytes=0", "memory:?max_event_metadata_bytes=x",
                          "memory:?max_event_data_bytes=4294967296", "memory:?colour=red", "memory:path"}) {
    auto r = estoria::OpenEventStore(bad);
    EXPECT_TRUE(!r.ok() && r.status().IsInvalidArgument()) << bad;
  }
}

ESTORIA_INSTANTIATE_SNAPSHOT_STORE_CONFORMANCE(
    Memory, [](estoria::SnapshotRetention r) -> estoria::Result<std::shared_ptr<estoria::SnapshotStore>> {
      return estoria::memory::MemorySnapshotStore::Open({r}).value();
    });

ESTORIA_INSTANTIATE_CHECKPOINT_STORE_CONFORMANCE(Memory,
                                                 []() -> estoria::Result<std::shared_ptr<estoria::CheckpointStore>> {
                                                   return estoria::memory::MemoryCheckpointStore::Open().value();
                                                 });

}  // namespace
