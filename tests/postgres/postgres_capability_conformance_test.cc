// The capability conformance suites instantiated for PostgreSQL, each test on
// a fresh schema (dropped when the program ends): AppendWatcher, EventImporter
// and StreamLister of PostgresEventStore, PostgresDeadLetterStore, HandlerSink
// over PostgresCheckpointStore + PostgresDeadLetterStore, and
// PostgresReadModel (effects read back on a second connection). Without
// ESTORIA_TEST_POSTGRES every test of the binary is skipped (pg_test_env.cc).
#include "estoria/postgres/postgres_checkpoint_store.h"
#include "estoria/postgres/postgres_event_store.h"
#include "estoria/postgres/postgres_projection_stores.h"
#include "estoria/postgres/postgres_read_model.h"
#include "estoria/testing/dead_letter_store_conformance.h"
#include "estoria/testing/event_store_capability_conformance.h"
#include "estoria/testing/projection_sink_conformance.h"
#include "pg_test_util.h"

namespace {

using namespace estoria::postgres;           // NOLINT(google-build-using-namespace): Pg* and the test helpers
using namespace estoria::postgres::testing;  // NOLINT(google-build-using-namespace)
using estoria::Event;
using estoria::Result;
using estoria::Status;
using estoria::testing::ProjectionSinkUnderTest;

Status NoServer() { return Status::FailedPrecondition("ESTORIA_TEST_POSTGRES is unset"); }

ESTORIA_INSTANTIATE_EVENT_STORE_CAPABILITY_CONFORMANCE(Postgres, []() -> Result<std::shared_ptr<estoria::EventStore>> {
  if (ServerUri().empty()) return NoServer();
  auto store = estoria::postgres::PostgresEventStore::Open(TestOptions(SchemaJanitor::Get().Make("capconf")));
  if (!store) return store.error();
  return std::shared_ptr<estoria::EventStore>(*store);
});

ESTORIA_INSTANTIATE_DEAD_LETTER_STORE_CONFORMANCE(Postgres, []() -> Result<std::shared_ptr<estoria::DeadLetterStore>> {
  if (ServerUri().empty()) return NoServer();
  auto store = estoria::postgres::PostgresDeadLetterStore::Open(TestOptions(SchemaJanitor::Get().Make("dlq")));
  if (!store) return store.error();
  return std::shared_ptr<estoria::DeadLetterStore>(*store);
});

// HandlerSink with both stores in one schema.
ESTORIA_INSTANTIATE_PROJECTION_SINK_CONFORMANCE(
    PostgresHandlerSink, [](estoria::EventHandler verdict) -> Result<ProjectionSinkUnderTest> {
      if (ServerUri().empty()) return NoServer();
      auto options = TestOptions(SchemaJanitor::Get().Make("hsink"));
      auto checkpoints = estoria::postgres::PostgresCheckpointStore::Open(options);
      if (!checkpoints) return checkpoints.error();
      auto dead_letters = estoria::postgres::PostgresDeadLetterStore::Open(options);
      if (!dead_letters) return dead_letters.error();
      return estoria::testing::MakeHandlerSinkUnderTest(std::move(verdict), *checkpoints, *dead_letters);
    });

// PostgresReadModel: the handler inserts the effect row, then returns the
// verdict.
Result<ProjectionSinkUnderTest> OpenReadModel(estoria::EventHandler verdict) {
  if (ServerUri().empty()) return NoServer();
  const std::string schema = SchemaJanitor::Get().Make("rmodel");
  const std::string table = QuoteIdentifier(schema) + ".conf_effects";
  auto options = TestOptions(schema);
  estoria::postgres::PostgresReadModelOptions o;
  o.conninfo = options.conninfo;
  o.schema = schema;
  o.setup = [table](PgConnection& c) {
    return c.Exec("CREATE TABLE IF NOT EXISTS " + table + " (seq bigserial PRIMARY KEY, position int8 NOT NULL)")
        .error();
  };
  auto model = estoria::postgres::PostgresReadModel::Open(
      o, [table, verdict = std::move(verdict)](PgConnection& c, const Event& e) -> Status {
        ESTORIA_RETURN_IF_ERROR(
            c.ExecParams("INSERT INTO " + table + " (position) VALUES ($1)", PgParams().Int64(e.global_position))
                .error());
        return verdict(e);
      });
  if (!model) return model.error();
  estoria::postgres::PgConnectOptions connect;
  connect.conninfo = options.conninfo;
  auto reader = PgConnection::Connect(connect);
  if (!reader) return reader.error();
  std::shared_ptr<PgConnection> conn(std::move(*reader));
  return ProjectionSinkUnderTest{*model, [conn, table]() -> Result<std::vector<int64_t>> {
                                   ESTORIA_ASSIGN_OR_RETURN(
                                       auto r, conn->ExecParams("SELECT position FROM " + table + " ORDER BY seq",
                                                                PgParams(), estoria::postgres::PgFormat::kBinary));
                                   std::vector<int64_t> out;
                                   for (int i = 0; i < r.rows(); ++i) out.push_back(r.Int64(i, 0));
                                   return out;
                                 }};
}

ESTORIA_INSTANTIATE_PROJECTION_SINK_CONFORMANCE(PostgresReadModel, OpenReadModel);

}  // namespace
