// The conformance suites instantiated for PostgreSQL: every test gets a fresh
// schema (dropped when the program ends). Without ESTORIA_TEST_POSTGRES every
// test of the binary is skipped (pg_test_env.cc).
#include "estoria/postgres/postgres_checkpoint_store.h"
#include "estoria/postgres/postgres_event_store.h"
#include "estoria/postgres/postgres_snapshot_store.h"
#include "estoria/testing/conformance.h"
#include "pg_test_util.h"

namespace {

using estoria::Result;
using estoria::Status;
using namespace estoria::postgres;
using estoria::postgres::testing::SchemaJanitor;
using estoria::postgres::testing::ServerUri;
using estoria::postgres::testing::TestOptions;

Status NoServer() { return Status::FailedPrecondition("ESTORIA_TEST_POSTGRES is unset"); }

ESTORIA_INSTANTIATE_EVENT_STORE_CONFORMANCE(Postgres, []() -> Result<std::shared_ptr<estoria::EventStore>> {
  if (ServerUri().empty()) return NoServer();
  auto store = PostgresEventStore::Open(TestOptions(SchemaJanitor::Get().Make("conf")));
  if (!store) return store.error();
  return std::shared_ptr<estoria::EventStore>(*store);
});

ESTORIA_INSTANTIATE_SNAPSHOT_STORE_CONFORMANCE(
    Postgres, [](estoria::SnapshotRetention r) -> Result<std::shared_ptr<estoria::SnapshotStore>> {
      if (ServerUri().empty()) return NoServer();
      auto store = PostgresSnapshotStore::Open(TestOptions(SchemaJanitor::Get().Make("snap")), r);
      if (!store) return store.error();
      return std::shared_ptr<estoria::SnapshotStore>(*store);
    });

ESTORIA_INSTANTIATE_CHECKPOINT_STORE_CONFORMANCE(Postgres, []() -> Result<std::shared_ptr<estoria::CheckpointStore>> {
  if (ServerUri().empty()) return NoServer();
  auto store = PostgresCheckpointStore::Open(TestOptions(SchemaJanitor::Get().Make("ckpt")));
  if (!store) return store.error();
  return std::shared_ptr<estoria::CheckpointStore>(*store);
});

}  // namespace
