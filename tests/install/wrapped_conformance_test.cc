// The installed conformance suites, instantiated on the out-of-tree backend of
// wrapped_store.h: what a third-party backend's test file looks like.
#include "estoria/testing/conformance.h"
#include "wrapped_store.h"

namespace {

// Each factory returns a new, empty store, as the suites require.
estoria::Result<std::shared_ptr<estoria::EventStore>> NewEventStore() {
  return std::shared_ptr<estoria::EventStore>(wrapped::WrappedStore::OverMemory());
}

estoria::Result<std::shared_ptr<estoria::SnapshotStore>> NewSnapshotStore(estoria::SnapshotRetention retention) {
  return std::shared_ptr<estoria::SnapshotStore>(
      std::make_shared<wrapped::WrappedSnapshotStore>(estoria::NewMemorySnapshotStore({retention})));
}

estoria::Result<std::shared_ptr<estoria::CheckpointStore>> NewCheckpointStore() {
  return std::shared_ptr<estoria::CheckpointStore>(
      std::make_shared<wrapped::WrappedCheckpointStore>(estoria::NewMemoryCheckpointStore()));
}

ESTORIA_INSTANTIATE_EVENT_STORE_CONFORMANCE(Wrapped, NewEventStore);
ESTORIA_INSTANTIATE_SNAPSHOT_STORE_CONFORMANCE(Wrapped, NewSnapshotStore);
ESTORIA_INSTANTIATE_CHECKPOINT_STORE_CONFORMANCE(Wrapped, NewCheckpointStore);

}  // namespace
