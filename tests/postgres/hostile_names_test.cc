// Hostile names against PostgreSQL: injection strings, quotes, dotted names,
// empty, over-long, NUL and non-ASCII values through every public entry point
// that takes a name that reaches SQL (the store URI's schema, the schema of the
// checkpoint, snapshot, dead-letter, version and read-model stores, the
// advisory lock's scope, versioned table names, DropTables) and through the
// names and payloads that are stored as data (projection and checkpoint names,
// stream ids, event types, metadata). Each is rejected with InvalidArgument
// naming the value, or stored and read back verbatim; and nothing outside the
// intended objects changes: the test runs in a database of its own, a sentinel
// table keeps its row, and the list of schemas and tables is the same before
// and after.
#include <set>

#include "estoria/backend/validation.h"
#include "estoria/open.h"
#include "estoria/postgres/postgres_advisory_lock.h"
#include "estoria/postgres/postgres_checkpoint_store.h"
#include "estoria/postgres/postgres_event_store.h"
#include "estoria/postgres/postgres_projection_stores.h"
#include "estoria/postgres/postgres_read_model.h"
#include "estoria/postgres/postgres_snapshot_store.h"
#include "estoria/projection/versioning.h"
#include "estoria/testing/matchers.h"
#include "pg_test_util.h"

namespace estoria::postgres {
namespace {

using ::estoria::testing::StatusIs;
using ::testing::HasSubstr;

// The sentinel table, in the public schema (where an unqualified name in an
// injected statement would find it).
constexpr const char* kSentinel = "sentinel";

// Names that must never reach SQL unquoted.
std::vector<std::string> HostileNames() {
  return {
      std::string("x\"; DROP TABLE ") + kSentinel + "; --",
      std::string("x'; DROP TABLE ") + kSentinel + "; --",
      "a'b",
      "public.events",
      "\"",
      "",
      std::string(64, 'a'),
      std::string("ab\0cd", 5),
      "caf\xc3\xa9",
      "Upper",
      "9lives",
      "a b",
      "a-b",
      "a;b",
      "a\\b",
      "a$b",
  };
}

bool ValidIdentifier(const std::string& name) { return backend::ValidateSqlIdentifier("x", name, 63).ok(); }

class PostgresHostileNamesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ESTORIA_REQUIRE_POSTGRES();
    database_ = "estoria_hostile_" + std::to_string(getpid());
    auto admin = testing::RawConnection();
    ASSERT_NE(admin, nullptr);
    ESTORIA_ASSERT_OK(admin->Exec("DROP DATABASE IF EXISTS " + QuoteIdentifier(database_) + " WITH (FORCE)"));
    ESTORIA_ASSERT_OK(admin->Exec("CREATE DATABASE " + QuoteIdentifier(database_)));
    std::string uri = testing::ServerUri();
    base_uri_ = uri + (uri.find('?') == std::string::npos ? "?" : "&") + "dbname=" + database_;
    PgConnectOptions o;
    o.conninfo = base_uri_;
    ESTORIA_ASSERT_OK_AND_ASSIGN(conn_, PgConnection::Connect(o));
    ESTORIA_ASSERT_OK(conn_->Exec(std::string("CREATE TABLE public.") + kSentinel + " (v text NOT NULL)"));
    ESTORIA_ASSERT_OK(conn_->Exec(std::string("INSERT INTO public.") + kSentinel + " VALUES ('alive')"));
  }

  void TearDown() override {
    conn_.reset();
    if (database_.empty()) return;
    auto admin = testing::RawConnection();
    if (admin) {
      ESTORIA_EXPECT_OK(admin->Exec("DROP DATABASE IF EXISTS " + QuoteIdentifier(database_) + " WITH (FORCE)"));
    }
  }

  PostgresOptions Options(const std::string& schema) const {
    PostgresOptions o;
    o.conninfo = base_uri_;
    o.schema = schema;
    o.pool_size = 1;
    o.connect_timeout = std::chrono::milliseconds(5000);
    return o;
  }

  // Every schema and relation of the test database (system ones excepted).
  std::set<std::string> Catalog() {
    std::set<std::string> out;
    auto r = conn_->Exec(
        "SELECT n.nspname || '.' || coalesce(c.relname, '') FROM pg_namespace n"
        " LEFT JOIN pg_class c ON c.relnamespace = n.oid"
        " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'"
        " AND n.nspname NOT LIKE 'pg\\_temp%'");
    EXPECT_TRUE(r.has_value()) << r.error();
    if (!r) return out;
    for (int i = 0; i < r->rows(); ++i) out.insert(std::string(r->Raw(i, 0)));
    return out;
  }

  void ExpectSentinelAlive() {
    auto r = conn_->Exec(std::string("SELECT v FROM public.") + kSentinel);
    ASSERT_TRUE(r.has_value()) << r.error();
    ASSERT_EQ(r->rows(), 1);
    EXPECT_EQ(r->Raw(0, 0), "alive");
  }

  std::string database_;
  std::string base_uri_;
  std::unique_ptr<PgConnection> conn_;
};

TEST_F(PostgresHostileNamesTest, SchemaNamesAreRejectedEverywhereAndTouchNothing) {
  // The intended objects first: a store in a valid schema.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto good, PostgresEventStore::Open(Options("good")));
  ESTORIA_ASSERT_OK(PostgresProjectionTables::EnsureSchema(Options("good")));
  const std::set<std::string> before = Catalog();
  ASSERT_TRUE(before.contains("good.events"));
  ASSERT_TRUE(before.contains(std::string("public.") + kSentinel));

  for (const std::string& name : HostileNames()) {
    if (ValidIdentifier(name)) continue;  // "public": a valid name, tried below
    SCOPED_TRACE("schema \"" + name + "\"");
    auto expect_rejected = [&](const Status& st) {
      EXPECT_THAT(st, StatusIs(StatusCode::kInvalidArgument));
      EXPECT_THAT(st.message(), HasSubstr("PostgreSQL schema name")) << st;
      EXPECT_THAT(st.message(), HasSubstr("not a valid SQL identifier")) << st;
    };
    expect_rejected(OpenEventStore(base_uri_ + "&estoria_schema=" + name).error());
    expect_rejected(PostgresEventStore::Open(Options(name)).error());
    expect_rejected(PostgresCheckpointStore::Open(Options(name)).error());
    expect_rejected(PostgresSnapshotStore::Open(Options(name)).error());
    expect_rejected(PostgresDeadLetterStore::Open(Options(name)).error());
    expect_rejected(PostgresVersionRegistry::Open(Options(name)).error());
    expect_rejected(PostgresProjectionTables::EnsureSchema(Options(name)));
    PostgresReadModelOptions model;
    model.conninfo = base_uri_;
    model.schema = name;
    bool setup_ran = false;
    model.setup = [&](PgConnection&) {
      setup_ran = true;
      return Status::Ok();
    };
    expect_rejected(PostgresReadModel::Open(model, [](PgConnection&, const Event&) { return Status::Ok(); }).error());
    EXPECT_FALSE(setup_ran);
    // The in-transaction helpers take the schema too.
    expect_rejected(PostgresCheckpointStore::SaveInTransaction(*conn_, name, "p", 1));
    expect_rejected(PostgresCheckpointStore::LoadInTransaction(*conn_, name, "p").error());
    // ("" names the search_path there, as documented.)
    if (!name.empty()) expect_rejected(PostgresProjectionTables::DropTables(*conn_, name, {"events"}));
    // Table names (versioned names, DropTables) follow the same rule.
    EXPECT_THAT(VersionedName(name, 1), StatusIs(StatusCode::kInvalidArgument));
    EXPECT_THAT(PostgresProjectionTables::DropTables(*conn_, "good", {name}), StatusIs(StatusCode::kInvalidArgument));
    EXPECT_THAT(PostgresProjectionTables::DropTables(*conn_, "", {name}), StatusIs(StatusCode::kInvalidArgument));
  }
  // The advisory lock's scope and a lock name are hashed, never spliced: any
  // value works and creates nothing.
  for (const std::string& name : HostileNames()) {
    PostgresAdvisoryLockOptions lock_options;
    lock_options.conninfo = base_uri_;
    lock_options.scope = name;
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto lock, PostgresAdvisoryLock::Open(lock_options));
    ESTORIA_ASSERT_OK_AND_ASSIGN(bool acquired, lock->TryAcquire(name));
    EXPECT_TRUE(acquired);
    lock->Release(name);
  }
  EXPECT_EQ(Catalog(), before);
  ExpectSentinelAlive();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto events, good->ReadAll());
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, Collect(*events));
  EXPECT_TRUE(all.empty());
}

TEST_F(PostgresHostileNamesTest, TheErrorNamesTheProblem) {
  auto message = [&](const std::string& schema) { return PostgresEventStore::Open(Options(schema)).error().message(); };
  EXPECT_THAT(message(""), HasSubstr("it is empty"));
  EXPECT_THAT(message(std::string(64, 'a')), HasSubstr("it has 64 bytes, more than 63"));
  EXPECT_THAT(message("9lives"), HasSubstr("\"9lives\" is not a valid SQL identifier: it starts with a digit"));
  EXPECT_THAT(message("a'b"), HasSubstr("byte 1 (''') is not in [a-z0-9_]"));
  EXPECT_THAT(message(std::string("ab\0cd", 5)), HasSubstr("\"ab\\x00cd\""));
  EXPECT_THAT(message("caf\xc3\xa9"), HasSubstr("\"caf\\xc3\\xa9\""));
  EXPECT_THAT(message("public.events"), HasSubstr("byte 6 ('.')"));
  // 63 bytes is the PostgreSQL limit, and allowed.
  const std::string longest(63, 'z');
  ESTORIA_EXPECT_OK(PostgresEventStore::Open(Options(longest)));
  EXPECT_TRUE(Catalog().contains(longest + ".events"));
}

TEST_F(PostgresHostileNamesTest, NamesStoredAsDataRoundTripVerbatim) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, PostgresEventStore::Open(Options("good")));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto checkpoints, PostgresCheckpointStore::Open(Options("good")));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto dead_letters, PostgresDeadLetterStore::Open(Options("good")));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto versions, PostgresVersionRegistry::Open(Options("good")));
  const std::set<std::string> before = Catalog();

  // Stream types and event types are validated names: quotes are refused.
  for (const std::string& type :
       {std::string("a'b"), std::string("x\"; DROP TABLE sentinel; --"), std::string("Upper"), std::string("\"")}) {
    SCOPED_TRACE(type);
    EXPECT_THAT(TypeId::New(type), StatusIs(StatusCode::kInvalidArgument));
    WritableEvent e;
    e.type = type;
    std::vector<WritableEvent> one{e};
    EXPECT_THAT(store->AppendStream(TypeId::New("account").value(), one), StatusIs(StatusCode::kInvalidArgument));
  }
  // A dotted type name is valid, and data: it names no table.
  {
    TypeId stream = TypeId::New("public.events").value();
    WritableEvent e;
    e.type = "public.events";
    std::vector<WritableEvent> one{e};
    ESTORIA_ASSERT_OK(store->AppendStream(stream, one));
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto it, store->ReadStream(stream));
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto read, Collect(*it));
    ASSERT_EQ(read.size(), 1u);
    EXPECT_EQ(read[0].type(), "public.events");
    EXPECT_EQ(read[0].stream_id, stream);
  }
  // Payloads, metadata, projection and checkpoint names are data: stored as given.
  int64_t position = 0;
  for (const std::string& name : HostileNames()) {
    if (name.empty()) continue;  // an empty projection or checkpoint name is refused (conformance tests)
    SCOPED_TRACE("name \"" + name + "\"");
    WritableEvent e;
    e.type = "hostile";
    e.data = name;
    e.content_type = "application/octet-stream";
    // Metadata is JSON text on the wire: keys and values must be valid UTF-8,
    // so the NUL byte stays in the payload only.
    if (name.find('\0') == std::string::npos) e.metadata[name] = name;
    std::vector<WritableEvent> one{e};
    TypeId stream = TypeId::New("account").value();
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto appended, store->AppendStream(stream, one));
    ASSERT_EQ(appended.size(), 1u);
    position = appended[0].global_position;
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto it, store->ReadStream(stream));
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto read, Collect(*it));
    ASSERT_EQ(read.size(), 1u);
    EXPECT_EQ(read[0].data, name);
    if (name.find('\0') == std::string::npos) {
      EXPECT_EQ(read[0].metadata.at(name), name);
    }

    DeadLetter letter;
    letter.projection = name;
    letter.event = read[0];
    letter.error = "handler failed";
    letter.attempts = 1;
    if (name.find('\0') != std::string::npos) {
      // PostgreSQL text cannot hold a NUL byte (libpq would cut the name
      // there, and "ab\0cd" would silently be "ab"): such names are refused.
      EXPECT_THAT(checkpoints->Save(name, 42), StatusIs(StatusCode::kInvalidArgument));
      EXPECT_THAT(checkpoints->Load(name), StatusIs(StatusCode::kInvalidArgument));
      EXPECT_THAT(dead_letters->Park(letter), StatusIs(StatusCode::kInvalidArgument));
      EXPECT_THAT(versions->SetActiveVersion(name, 3), StatusIs(StatusCode::kInvalidArgument));
      EXPECT_THAT(versions->ActiveVersion(name), StatusIs(StatusCode::kInvalidArgument));
      ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t prefix, checkpoints->Load(name.substr(0, name.find('\0'))));
      EXPECT_EQ(prefix, 0);
      continue;
    }
    ESTORIA_ASSERT_OK(checkpoints->Save(name, 42));
    ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t loaded, checkpoints->Load(name));
    EXPECT_EQ(loaded, 42);
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto listed, checkpoints->List());
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].name, name);
    ESTORIA_ASSERT_OK(checkpoints->Delete(name));

    ESTORIA_ASSERT_OK(dead_letters->Park(letter));
    ESTORIA_ASSERT_OK_AND_ASSIGN(DeadLetter got, dead_letters->Get(name, position));
    EXPECT_EQ(got.projection, name);
    EXPECT_EQ(got.event.data, name);
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto parked, dead_letters->List(name));
    ASSERT_EQ(parked.size(), 1u);
    EXPECT_EQ(parked[0].projection, name);
    ESTORIA_ASSERT_OK(dead_letters->Discard(name, position));

    ESTORIA_ASSERT_OK(versions->SetActiveVersion(name, 3));
    ESTORIA_ASSERT_OK_AND_ASSIGN(int active, versions->ActiveVersion(name));
    EXPECT_EQ(active, 3);
  }
  EXPECT_EQ(Catalog(), before);
  ExpectSentinelAlive();
}

}  // namespace
}  // namespace estoria::postgres
