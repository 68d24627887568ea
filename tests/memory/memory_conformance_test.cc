// The conformance suites instantiated for the memory backend.
#include "estoria/memory_event_store.h"
#include "estoria/testing/conformance.h"

namespace {

ESTORIA_INSTANTIATE_EVENT_STORE_CONFORMANCE(Memory, []() -> estoria::Result<std::shared_ptr<estoria::EventStore>> {
  return std::shared_ptr<estoria::EventStore>(estoria::MemoryEventStore::Create());
});

ESTORIA_INSTANTIATE_SNAPSHOT_STORE_CONFORMANCE(
    Memory, [](estoria::SnapshotRetention r) -> estoria::Result<std::shared_ptr<estoria::SnapshotStore>> {
      return estoria::NewMemorySnapshotStore({r});
    });

ESTORIA_INSTANTIATE_CHECKPOINT_STORE_CONFORMANCE(
    Memory, []() -> estoria::Result<std::shared_ptr<estoria::CheckpointStore>> {
      return estoria::NewMemoryCheckpointStore();
    });

}  // namespace
