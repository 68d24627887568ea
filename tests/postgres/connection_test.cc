// PgConnection and friends against a real server: error mapping, transaction
// guard, pipelines, prepared statements across reconnects, deadlines, and the
// checkpoint-in-the-caller's-transaction helper.
#include "estoria/postgres/connection.h"

#include "estoria/postgres/postgres_checkpoint_store.h"
#include "estoria/testing/matchers.h"
#include "pg_test_util.h"
#include "pg_wire.h"

namespace estoria::postgres {
namespace {

using ::estoria::testing::StatusIs;
using testing::RawConnection;
using testing::ScopedSchema;

TEST(PgConnectionTest, ErrorsMapToStatusCodes) {
  ScopedSchema schema("conn_errors");
  auto conn = RawConnection();
  ASSERT_NE(conn, nullptr);
  std::string t = QuoteIdentifier(schema.name()) + ".t";
  ESTORIA_ASSERT_OK(conn->Exec("CREATE SCHEMA " + QuoteIdentifier(schema.name()) + "; CREATE TABLE " + t +
                               " (id int8 PRIMARY KEY, v text NOT NULL)"));
  ESTORIA_ASSERT_OK(conn->ExecParams("INSERT INTO " + t + " VALUES ($1, $2)", PgParams().Int64(1).Text("a")));
  auto dup = conn->ExecParams("INSERT INTO " + t + " VALUES ($1, $2)", PgParams().Int64(1).Text("b"));
  EXPECT_THAT(dup, StatusIs(StatusCode::kAlreadyExists));
  EXPECT_NE(dup.error().message().find("23505"), std::string::npos);
  EXPECT_THAT(conn->ExecParams("INSERT INTO " + t + " VALUES ($1, NULL)", PgParams().Int64(2)),
              StatusIs(StatusCode::kFailedPrecondition));                               // 23502 not-null violation
  EXPECT_THAT(conn->Exec("SELECT 'x'::int4"), StatusIs(StatusCode::kInvalidArgument));  // 22P02
  EXPECT_THAT(conn->Exec("SELEC 1"), StatusIs(StatusCode::kInternal));                  // 42601
  // The connection stays usable after statement errors.
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      PgResult r, conn->ExecParams("SELECT v, $1::int8 FROM " + t, PgParams().Int64(-7), PgFormat::kBinary));
  EXPECT_EQ(r.String(0, 0), "a");
  EXPECT_EQ(r.Int64(0, 1), -7);
}

TEST(PgConnectionTest, TransactionGuardRollsBackUnlessCommitted) {
  ScopedSchema schema("conn_tx");
  auto conn = RawConnection();
  std::string t = QuoteIdentifier(schema.name()) + ".t";
  ESTORIA_ASSERT_OK(
      conn->Exec("CREATE SCHEMA " + QuoteIdentifier(schema.name()) + "; CREATE TABLE " + t + " (id int8)"));
  {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto tx, PgTransaction::Begin(*conn));
    ESTORIA_ASSERT_OK(conn->Exec("INSERT INTO " + t + " VALUES (1)"));
  }  // rolled back
  {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto tx, PgTransaction::Begin(*conn));
    ESTORIA_ASSERT_OK(conn->Exec("INSERT INTO " + t + " VALUES (2)"));
    ESTORIA_ASSERT_OK(tx.Commit());
  }
  {
    // A failed transaction cannot be committed: COMMIT reports the rollback.
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto tx, PgTransaction::Begin(*conn));
    ESTORIA_ASSERT_OK(conn->Exec("INSERT INTO " + t + " VALUES (3)"));
    EXPECT_FALSE(conn->Exec("SELECT 1/0").has_value());
    EXPECT_FALSE(tx.Commit().ok());
  }
  EXPECT_EQ(conn->transaction_status(), PQTRANS_IDLE);
  ESTORIA_ASSERT_OK_AND_ASSIGN(PgResult r, conn->Exec("SELECT string_agg(id::text, ',') FROM " + t));
  EXPECT_EQ(r.String(0, 0), "2");
}

TEST(PgConnectionTest, PipelinePreparesLazilyAndSurvivesReconnect) {
  auto conn = RawConnection();
  PgStatement add{"test_add", "SELECT $1::int8 + $2::int8"};
  PgStatement echo{"test_echo", "SELECT $1::text, $2::bytea, $3::uuid"};
  Uuid id = Uuid::NewV7();
  PgPipeline p;
  p.Add(add, PgParams().Int64(40).Int64(2), PgFormat::kBinary)
      .Add(add, PgParams().Int64(1).Int64(1))
      .Add(echo, PgParams().Text("héllo").Bytes(std::string("\0\x01\xff", 3)).UuidValue(id), PgFormat::kBinary);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto results, conn->RunPipeline(p));
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].Int64(0, 0), 42);
  EXPECT_EQ(results[1].Int64(0, 0), 2);  // text format
  EXPECT_EQ(results[2].String(0, 0), "héllo");
  EXPECT_EQ(results[2].String(0, 1), std::string("\0\x01\xff", 3));
  EXPECT_EQ(results[2].UuidAt(0, 2), id);
  // An error stops the pipeline and is reported; the connection stays usable.
  PgStatement fail{"test_fail", "SELECT 1 / $1::int8"};
  PgPipeline bad;
  bad.Add(fail, PgParams().Int64(0)).Add(add, PgParams().Int64(1).Int64(2));
  EXPECT_THAT(conn->RunPipeline(bad), StatusIs(StatusCode::kInvalidArgument));  // 22012 division by zero
  ESTORIA_ASSERT_OK_AND_ASSIGN(PgResult again,
                               conn->ExecPrepared(add, PgParams().Int64(2).Int64(3), PgFormat::kBinary));
  EXPECT_EQ(again.Int64(0, 0), 5);
  // Kill the session: the next call fails with Unavailable, EnsureConnected
  // reconnects, and the statement is prepared again on the new session.
  auto killer = RawConnection();
  ESTORIA_ASSERT_OK_AND_ASSIGN(PgResult pid, conn->Exec("SELECT pg_backend_pid()"));
  ESTORIA_ASSERT_OK(killer->ExecParams("SELECT pg_terminate_backend($1::int4, 10000)", PgParams().Text(pid.Raw(0, 0))));
  EXPECT_THAT(conn->Exec("SELECT 1"), StatusIs(StatusCode::kUnavailable));
  EXPECT_TRUE(conn->broken());
  ESTORIA_ASSERT_OK(conn->EnsureConnected());
  ESTORIA_ASSERT_OK_AND_ASSIGN(again, conn->ExecPrepared(add, PgParams().Int64(20).Int64(3), PgFormat::kBinary));
  EXPECT_EQ(again.Int64(0, 0), 23);
}

TEST(PgConnectionTest, QueryDeadlineGivesUnavailable) {
  PgConnectOptions o;
  o.conninfo = testing::ServerUri();
  o.query_timeout = std::chrono::milliseconds(200);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto conn, PgConnection::Connect(o));
  EXPECT_THAT(conn->Exec("SELECT pg_sleep(5)"), StatusIs(StatusCode::kUnavailable));
  EXPECT_TRUE(conn->broken());
  ESTORIA_ASSERT_OK(conn->EnsureConnected());
  ESTORIA_ASSERT_OK(conn->Exec("SELECT 1"));
}

TEST(PgConnectionTest, CheckpointCommitsWithTheCallersTransaction) {
  ScopedSchema schema("conn_ckpt");
  PostgresOptions o = testing::TestOptions(schema.name());
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, PostgresCheckpointStore::Open(o));
  auto conn = RawConnection();
  {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto tx, PgTransaction::Begin(*conn));
    ESTORIA_ASSERT_OK(PostgresCheckpointStore::SaveInTransaction(*conn, schema.name(), "balances", 10));
    ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t inside,
                                 PostgresCheckpointStore::LoadInTransaction(*conn, schema.name(), "balances"));
    EXPECT_EQ(inside, 10);
  }  // rolled back
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t p, store->Load("balances"));
  EXPECT_EQ(p, 0);
  {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto tx, PgTransaction::Begin(*conn));
    ESTORIA_ASSERT_OK(PostgresCheckpointStore::SaveInTransaction(*conn, schema.name(), "balances", 12));
    ESTORIA_ASSERT_OK(tx.Commit());
  }
  ESTORIA_ASSERT_OK_AND_ASSIGN(p, store->Load("balances"));
  EXPECT_EQ(p, 12);
  EXPECT_THAT(PostgresCheckpointStore::SaveInTransaction(*conn, "Bad Schema", "x", 1),
              StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace estoria::postgres
