// The conformance suites instantiated for SQLite: file-backed (a fresh file per
// test) and in-memory (sqlite::memory:).
#include "estoria/sqlite/sqlite_checkpoint_store.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "estoria/sqlite/sqlite_snapshot_store.h"
#include "estoria/testing/conformance.h"
#include "sqlite_test_util.h"

namespace {

using estoria::Result;
using estoria::sqlite::SqliteEventStore;
using estoria::sqlite::SqliteOptions;

estoria::sqlite::testing::TempDir& Dir() { return estoria::sqlite::testing::ProgramTempDir(); }

ESTORIA_INSTANTIATE_EVENT_STORE_CONFORMANCE(SqliteFile, []() -> Result<std::shared_ptr<estoria::EventStore>> {
  SqliteOptions o;
  o.path = Dir().NewFile("events");
  o.durability = estoria::Durability::kRelaxed;
  auto store = SqliteEventStore::Open(o);
  if (!store) return store.error();
  return std::shared_ptr<estoria::EventStore>(*store);
});

}  // namespace

namespace memory_instantiation {
ESTORIA_INSTANTIATE_EVENT_STORE_CONFORMANCE(SqliteMemory, []() -> Result<std::shared_ptr<estoria::EventStore>> {
  auto store = SqliteEventStore::OpenUri("sqlite::memory:");
  if (!store) return store.error();
  return std::shared_ptr<estoria::EventStore>(*store);
});
}  // namespace memory_instantiation

namespace {
using estoria::sqlite::SqliteCheckpointStore;
using estoria::sqlite::SqliteSnapshotStore;

ESTORIA_INSTANTIATE_SNAPSHOT_STORE_CONFORMANCE(
    SqliteFile, [](estoria::SnapshotRetention r) -> Result<std::shared_ptr<estoria::SnapshotStore>> {
      auto store = SqliteSnapshotStore::Open(
          {Dir().NewFile("snapshots"), estoria::Durability::kRelaxed, std::chrono::milliseconds(5000)}, r);
      if (!store) return store.error();
      return std::shared_ptr<estoria::SnapshotStore>(*store);
    });
ESTORIA_INSTANTIATE_CHECKPOINT_STORE_CONFORMANCE(SqliteFile, []() -> Result<std::shared_ptr<estoria::CheckpointStore>> {
  auto store = SqliteCheckpointStore::Open({Dir().NewFile("checkpoints"), estoria::Durability::kRelaxed});
  if (!store) return store.error();
  return std::shared_ptr<estoria::CheckpointStore>(*store);
});
}  // namespace

namespace memory_instantiation {
ESTORIA_INSTANTIATE_SNAPSHOT_STORE_CONFORMANCE(
    SqliteMemory, [](estoria::SnapshotRetention r) -> Result<std::shared_ptr<estoria::SnapshotStore>> {
      auto store = SqliteSnapshotStore::Open({":memory:", estoria::Durability::kStrict, std::chrono::seconds(5)}, r);
      if (!store) return store.error();
      return std::shared_ptr<estoria::SnapshotStore>(*store);
    });
ESTORIA_INSTANTIATE_CHECKPOINT_STORE_CONFORMANCE(SqliteMemory,
                                                 []() -> Result<std::shared_ptr<estoria::CheckpointStore>> {
                                                   auto store = SqliteCheckpointStore::Open({":memory:"});
                                                   if (!store) return store.error();
                                                   return std::shared_ptr<estoria::CheckpointStore>(*store);
                                                 });
}  // namespace memory_instantiation
