// The installed conformance suites, instantiated on the out-of-tree backend of
// wrapped_store.h: what a third-party backend's test file looks like.
#include "estoria/backend/registry.h"
#include "estoria/memory/memory_stores.h"
#include "estoria/open.h"
#include "estoria/testing/conformance.h"
#include "estoria/testing/dead_letter_store_conformance.h"
#include "estoria/testing/event_store_capability_conformance.h"
#include "estoria/testing/matchers.h"
#include "wrapped_store.h"

namespace {

// Each factory returns a new, empty store, as the suites require.
estoria::Result<std::shared_ptr<estoria::EventStore>> NewEventStore() {
  return std::shared_ptr<estoria::EventStore>(wrapped::WrappedStore::OverMemory());
}

estoria::Result<std::shared_ptr<estoria::SnapshotStore>> NewSnapshotStore(estoria::SnapshotRetention retention) {
  return std::shared_ptr<estoria::SnapshotStore>(
      std::make_shared<wrapped::WrappedSnapshotStore>(estoria::memory::MemorySnapshotStore::Open({retention}).value()));
}

estoria::Result<std::shared_ptr<estoria::CheckpointStore>> NewCheckpointStore() {
  return std::shared_ptr<estoria::CheckpointStore>(
      std::make_shared<wrapped::WrappedCheckpointStore>(estoria::memory::MemoryCheckpointStore::Open().value()));
}

ESTORIA_INSTANTIATE_EVENT_STORE_CONFORMANCE(Wrapped, NewEventStore);
ESTORIA_INSTANTIATE_SNAPSHOT_STORE_CONFORMANCE(Wrapped, NewSnapshotStore);
ESTORIA_INSTANTIATE_CHECKPOINT_STORE_CONFORMANCE(Wrapped, NewCheckpointStore);
ESTORIA_INSTANTIATE_EVENT_STORE_CAPABILITY_CONFORMANCE(Wrapped, NewEventStore);
ESTORIA_INSTANTIATE_DEAD_LETTER_STORE_CONFORMANCE(Wrapped,
                                                  []() -> estoria::Result<std::shared_ptr<estoria::DeadLetterStore>> {
                                                    return std::shared_ptr<estoria::DeadLetterStore>(
                                                        estoria::memory::MemoryDeadLetterStore::Open().value());
                                                  });

// A third-party backend registers its URI scheme with the backend SDK; then
// OpenEventStore (and so the CLI's --store) opens it like a built-in one.
TEST(WrappedBackendTest, OpensByUriAfterRegisteringItsScheme) {
  ESTORIA_ASSERT_OK(estoria::backend::RegisterEventStoreScheme(
      "wrapped",
      [](std::string_view) -> estoria::Result<std::shared_ptr<estoria::EventStore>> { return NewEventStore(); }));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, estoria::OpenEventStore("wrapped:"));
  EXPECT_NE(std::dynamic_pointer_cast<wrapped::WrappedStore>(store), nullptr);
  ESTORIA_ASSERT_OK(estoria::OpenEventStore("memory:").status());  // the built-in schemes are still there
}

}  // namespace
