// PostgreSQL helpers for the projection tests: the server from
// ESTORIA_TEST_POSTGRES (tests skip when unset), a unique schema per test, the
// test read model (per-stream totals + applied log) in that schema.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "estoria/postgres/connection.h"
#include "estoria/postgres/postgres_options.h"
#include "projection_test_util.h"

namespace estoria::testing {

inline std::string PgUri() {
  const char* uri = std::getenv("ESTORIA_TEST_POSTGRES");
  return uri ? uri : "";
}

// "proj_<tag>_<pid>_<n>": unique across processes and tests.
inline std::string NewPgSchema(const std::string& tag) {
  static std::atomic<int> counter{0};
  return "proj_" + tag + "_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
}

inline postgres::PostgresOptions PgOptions(const std::string& schema) {
  postgres::PostgresOptions o = postgres::ParsePostgresUri(PgUri()).value();
  o.schema = schema;
  return o;
}

inline Status DropPgSchema(const std::string& schema) {
  postgres::PgConnectOptions o;
  o.conninfo = postgres::ParsePostgresUri(PgUri()).value().conninfo;
  ESTORIA_ASSIGN_OR_RETURN(auto conn, postgres::PgConnection::Connect(o));
  return conn->Exec("DROP SCHEMA IF EXISTS " + postgres::QuoteIdentifier(schema) + " CASCADE").error();
}

// The test read model's tables, in `schema`.
inline Status PgCreateTables(postgres::PgConnection& c, const std::string& schema, const std::string& suffix = "") {
  std::string q = postgres::QuoteIdentifier(schema);
  return c
      .Exec("CREATE TABLE IF NOT EXISTS " + q + ".totals" + suffix +
            " (stream_id text PRIMARY KEY, total bigint NOT NULL, events bigint NOT NULL);"
            "CREATE TABLE IF NOT EXISTS " +
            q + ".applied" + suffix + " (position bigint NOT NULL)")
      .error();
}

inline Status PgApplyTotals(postgres::PgConnection& c, const std::string& schema, const Event& e,
                            const std::string& suffix = "") {
  std::string q = postgres::QuoteIdentifier(schema);
  ESTORIA_RETURN_IF_ERROR(c.ExecParams("INSERT INTO " + q + ".totals" + suffix +
                                           " (stream_id, total, events) VALUES ($1, $2, 1) ON CONFLICT (stream_id)"
                                           " DO UPDATE SET total = totals" +
                                           suffix + ".total + EXCLUDED.total, events = totals" + suffix + ".events + 1",
                                       postgres::PgParams().Text(e.stream_id.ToString()).Int64(EventN(e)))
                              .error());
  return c
      .ExecParams("INSERT INTO " + q + ".applied" + suffix + " (position) VALUES ($1)",
                  postgres::PgParams().Int64(e.global_position))
      .error();
}

inline Result<TotalsByStream> PgReadTotals(postgres::PgConnection& c, const std::string& schema,
                                           const std::string& suffix = "") {
  ESTORIA_ASSIGN_OR_RETURN(
      auto r, c.Exec("SELECT stream_id, total, events FROM " + postgres::QuoteIdentifier(schema) + ".totals" + suffix));
  TotalsByStream out;
  for (int i = 0; i < r.rows(); ++i) {
    out[r.String(i, 0)] = Totals{r.Int64(i, 1), r.Int64(i, 2)};
  }
  return out;
}

// {rows, distinct positions} of the applied log.
inline Result<std::pair<int64_t, int64_t>> PgAppliedCounts(postgres::PgConnection& c, const std::string& schema) {
  ESTORIA_ASSIGN_OR_RETURN(auto r, c.Exec("SELECT count(*), count(DISTINCT position) FROM " +
                                          postgres::QuoteIdentifier(schema) + ".applied"));
  return std::pair<int64_t, int64_t>{r.Int64(0, 0), r.Int64(0, 1)};
}

}  // namespace estoria::testing
