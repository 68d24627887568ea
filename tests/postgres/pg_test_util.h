// Helpers shared by the PostgreSQL tests: the server URI from
// ESTORIA_TEST_POSTGRES (tests skip when it is unset), a unique schema name per
// test (tests running in parallel never collide), and schema cleanup.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "estoria/postgres/connection.h"
#include "estoria/postgres/postgres_options.h"

namespace estoria::postgres::testing {

// The server URI, or "" when PostgreSQL tests should be skipped.
inline std::string ServerUri() {
  const char* uri = std::getenv("ESTORIA_TEST_POSTGRES");
  return uri ? uri : "";
}

#define ESTORIA_REQUIRE_POSTGRES()                                                    \
  do {                                                                                \
    if (::estoria::postgres::testing::ServerUri().empty()) {                          \
      GTEST_SKIP() << "ESTORIA_TEST_POSTGRES is unset: no PostgreSQL server to test"; \
    }                                                                                 \
  } while (0)

// "t_<tag>_<pid>_<n>": unique across processes and within one.
inline std::string UniqueSchema(const std::string& tag) {
  static std::atomic<int> counter{0};
  return "t_" + tag + "_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
}

// Options for the test server with the given schema.
inline PostgresOptions TestOptions(const std::string& schema) {
  PostgresOptions o = ParsePostgresUri(ServerUri()).value();
  o.schema = schema;
  // Sessions are recognisable in pg_stat_activity by the schema name.
  // Appended piecewise: GCC 12 -O3 warns -Wrestrict falsely on "?" + std::string(...).
  o.conninfo += o.conninfo.find('?') == std::string::npos ? '?' : '&';
  o.conninfo += "application_name=";
  o.conninfo += schema;
  o.connect_timeout = std::chrono::milliseconds(5000);
  return o;
}

// A plain connection to the test server.
inline std::unique_ptr<PgConnection> RawConnection() {
  PgConnectOptions o;
  o.conninfo = ServerUri();
  auto conn = PgConnection::Connect(o);
  EXPECT_TRUE(conn.has_value()) << conn.error();
  return conn ? std::move(*conn) : nullptr;
}

inline void DropSchema(const std::string& schema) {
  auto conn = RawConnection();
  if (!conn) return;
  auto r = conn->Exec("DROP SCHEMA IF EXISTS " + QuoteIdentifier(schema) + " CASCADE");
  EXPECT_TRUE(r.has_value()) << r.error();
}

// Schemas to drop when the test program ends (for factories that cannot
// drop their own, like the conformance suites').
class SchemaJanitor : public ::testing::Environment {
 public:
  static SchemaJanitor& Get() {
    static SchemaJanitor* janitor = [] {
      auto* j = new SchemaJanitor;
      ::testing::AddGlobalTestEnvironment(j);  // gtest owns it
      return j;
    }();
    return *janitor;
  }
  std::string Make(const std::string& tag) {
    std::string s = UniqueSchema(tag);
    std::lock_guard<std::mutex> lock(mu_);
    schemas_.push_back(s);
    return s;
  }
  void TearDown() override {
    if (ServerUri().empty()) return;
    for (const auto& s : schemas_) DropSchema(s);
  }

 private:
  std::mutex mu_;
  std::vector<std::string> schemas_;
};

// Drops a schema when the test ends.
class ScopedSchema {
 public:
  explicit ScopedSchema(const std::string& tag) : name_(UniqueSchema(tag)) {}
  ~ScopedSchema() {
    if (!ServerUri().empty()) DropSchema(name_);
  }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

}  // namespace estoria::postgres::testing
