// The conformance suites instantiated for the memory backend.
#include "estoria/memory/memory_event_store.h"
#include "estoria/memory/memory_stores.h"
#include "estoria/testing/conformance.h"

namespace {

ESTORIA_INSTANTIATE_EVENT_STORE_CONFORMANCE(Memory, []() -> estoria::Result<std::shared_ptr<estoria::EventStore>> {
  return std::shared_ptr<estoria::EventStore>(estoria::memory::MemoryEventStore::Open().value());
});

ESTORIA_INSTANTIATE_SNAPSHOT_STORE_CONFORMANCE(
    Memory, [](estoria::SnapshotRetention r) -> estoria::Result<std::shared_ptr<estoria::SnapshotStore>> {
      return estoria::memory::MemorySnapshotStore::Open({r}).value();
    });

ESTORIA_INSTANTIATE_CHECKPOINT_STORE_CONFORMANCE(Memory,
                                                 []() -> estoria::Result<std::shared_ptr<estoria::CheckpointStore>> {
                                                   return estoria::memory::MemoryCheckpointStore::Open().value();
                                                 });

}  // namespace
