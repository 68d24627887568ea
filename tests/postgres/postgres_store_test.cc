// PostgresEventStore specifics: URI parsing, schema creation and versioning,
// verbatim payloads, cross-process wake-ups, reconnection, unreachable server.
#include <thread>

#include "estoria/open.h"
#include "estoria/postgres/postgres_event_store.h"
#include "estoria/testing/matchers.h"
#include "pg_test_util.h"

namespace estoria::postgres {
namespace {

using ::estoria::testing::StatusIs;
using testing::RawConnection;
using testing::ScopedSchema;
using testing::TestOptions;

WritableEvent Ev(std::string data = "{}") {
  WritableEvent e;
  e.type = "tested";
  e.data = std::move(data);
  return e;
}

TEST(PostgresUriTest, EstoriaParametersAreStrippedBeforeLibpq) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(PostgresOptions o,
                               ParsePostgresUri("postgresql://u@h:5/db?sslmode=disable&estoria_schema=app_events"
                                                "&estoria_durability=relaxed&estoria_pool_size=7&connect_timeout=3"
                                                "&estoria_connect_timeout_ms=1500"));
  EXPECT_EQ(o.conninfo, "postgresql://u@h:5/db?sslmode=disable&connect_timeout=3");
  EXPECT_EQ(o.schema, "app_events");
  EXPECT_EQ(o.durability, Durability::kRelaxed);
  EXPECT_EQ(o.pool_size, 7);
  EXPECT_EQ(o.connect_timeout, std::chrono::milliseconds(1500));
  ESTORIA_ASSERT_OK_AND_ASSIGN(o, ParsePostgresUri("postgres://h/db?estoria_schema=x"));
  EXPECT_EQ(o.conninfo, "postgres://h/db");
  ESTORIA_ASSERT_OK_AND_ASSIGN(o, ParsePostgresUri("postgres:"));
  EXPECT_EQ(o.conninfo, "");
  EXPECT_EQ(o.schema, "estoria");
  EXPECT_THAT(ParsePostgresUri("postgres://h/db?estoria_bogus=1"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParsePostgresUri("postgres://h/db?estoria_durability=maybe"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParsePostgresUri("mysql://h/db"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(o.event_limits, EventLimits{});
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      o, ParsePostgresUri("postgres://h/db?estoria_max_event_data_bytes=2048&estoria_max_event_metadata_bytes=99"));
  EXPECT_EQ(o.conninfo, "postgres://h/db");
  EXPECT_EQ(o.event_limits, (EventLimits{2048, 99}));
  EXPECT_THAT(ParsePostgresUri("postgres://h/db?estoria_max_event_data_bytes=-1"),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST(PostgresStoreTest, OpenEventStoreByUriUsesTheSchemaParameter) {
  ScopedSchema schema("uri");
  std::string uri = testing::ServerUri();
  uri += (uri.find('?') == std::string::npos ? "?" : "&") + std::string("estoria_schema=") + schema.name();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, OpenEventStore(uri));
  ASSERT_NE(store->global_reader(), nullptr);
  ASSERT_NE(store->stream_deleter(), nullptr);
  ASSERT_NE(store->stream_lister(), nullptr);
  ASSERT_NE(store->append_watcher(), nullptr);
  std::vector<WritableEvent> evs{Ev()};
  ESTORIA_ASSERT_OK(store->AppendStream(TypeId::New("account").value(), evs));
  auto raw = RawConnection();
  ESTORIA_ASSERT_OK_AND_ASSIGN(PgResult r,
                               raw->Exec("SELECT count(*) FROM " + QuoteIdentifier(schema.name()) + ".events"));
  EXPECT_EQ(r.Int64(0, 0), 1);
  EXPECT_THAT(OpenEventStore(testing::ServerUri() + "?estoria_schema=Bad-Name"),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST(PostgresStoreTest, ConcurrentFirstOpensAreSafe) {
  ScopedSchema schema("firstopen");
  constexpr int kOpeners = 8;
  std::vector<Status> results(kOpeners);
  std::vector<std::thread> threads;
  for (int i = 0; i < kOpeners; ++i) {
    threads.emplace_back(
        [&, i] { results[static_cast<size_t>(i)] = PostgresEventStore::Open(TestOptions(schema.name())).error(); });
  }
  for (auto& t : threads) t.join();
  for (const auto& st : results) ESTORIA_EXPECT_OK(st);
  auto raw = RawConnection();
  ESTORIA_ASSERT_OK_AND_ASSIGN(PgResult r, raw->Exec("SELECT count(*), max(version) FROM " +
                                                     QuoteIdentifier(schema.name()) + ".schema_version"));
  // One row per schema version, each applied once.
  EXPECT_EQ(r.Int64(0, 0), 2);
  EXPECT_EQ(r.Int64(0, 1), 2);
}

// A schema at version 1 (no durable frontier yet) is migrated on open: every
// log_durable slot starts at the head, so the events stored before stay
// readable and appends continue after them.
TEST(PostgresStoreTest, VersionOneSchemaIsMigratedWithItsHeadDurable) {
  ScopedSchema schema("migrate");
  const std::string q = QuoteIdentifier(schema.name());
  {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, PostgresEventStore::Open(TestOptions(schema.name())));
    std::vector<WritableEvent> evs{Ev(), Ev(), Ev()};
    ESTORIA_ASSERT_OK(store->AppendStream(TypeId::New("old").value(), evs));
  }
  auto raw = RawConnection();
  ESTORIA_ASSERT_OK(raw->Exec("DROP TABLE " + q + ".log_durable"));
  ESTORIA_ASSERT_OK(raw->Exec("DELETE FROM " + q + ".schema_version WHERE version = 2"));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, PostgresEventStore::Open(TestOptions(schema.name())));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, store->HeadPosition());
  EXPECT_EQ(head, 3);
  ESTORIA_ASSERT_OK_AND_ASSIGN(PgResult slots, raw->Exec("SELECT count(*), min(head) FROM " + q + ".log_durable"));
  EXPECT_EQ(slots.Int64(0, 0), 64);
  EXPECT_EQ(slots.Int64(0, 1), 3);
  std::vector<WritableEvent> more{Ev()};
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto added, store->AppendStream(TypeId::New("new").value(), more));
  EXPECT_EQ(added.front().global_position, 4);
  auto it = store->ReadAll();
  ESTORIA_ASSERT_OK(it);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, Collect(**it));
  EXPECT_EQ(all.size(), 4u);
}

TEST(PostgresStoreTest, NewerSchemaVersionIsRefused) {
  ScopedSchema schema("newer");
  { ESTORIA_ASSERT_OK(PostgresEventStore::Open(TestOptions(schema.name()))); }
  auto raw = RawConnection();
  ESTORIA_ASSERT_OK(
      raw->Exec("INSERT INTO " + QuoteIdentifier(schema.name()) + ".schema_version (version) VALUES (99)"));
  EXPECT_THAT(PostgresEventStore::Open(TestOptions(schema.name())), StatusIs(StatusCode::kFailedPrecondition));
}

TEST(PostgresStoreTest, PayloadBytesAndContentTypeAreStoredVerbatim) {
  ScopedSchema schema("verbatim");
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, PostgresEventStore::Open(TestOptions(schema.name())));
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  WritableEvent e = Ev(bytes);
  e.content_type = "application/octet-stream";
  e.metadata = {{"trace", "ünïcødé ✓"}, {"empty", ""}};
  WritableEvent json = Ev("{ \"b\" : 1,   \"a\":[2 ,1] }");  // not normalised
  std::vector<WritableEvent> evs{e, json};
  TypeId stream = TypeId::New("blob").value();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto written, store->AppendStream(stream, evs));
  auto it = store->ReadStream(stream);
  ESTORIA_ASSERT_OK(it);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto read, Collect(**it));
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read, written);
  EXPECT_EQ(read[0].data, bytes);
  EXPECT_EQ(read[0].content_type, "application/octet-stream");
  EXPECT_EQ(read[0].metadata, e.metadata);
  EXPECT_EQ(read[1].data, json.data);
  // In SQL: bytea, text content type, jsonb metadata, microsecond timestamps.
  auto raw = RawConnection();
  ESTORIA_ASSERT_OK_AND_ASSIGN(PgResult r,
                               raw->ExecParams("SELECT data = $1, content_type, metadata->>'trace',"
                                               " (extract(epoch from created_at) * 1000000)::int8 FROM " +
                                                   QuoteIdentifier(schema.name()) + ".events WHERE position = 1",
                                               PgParams().Bytes(bytes)));
  EXPECT_EQ(r.Raw(0, 0), "t");
  EXPECT_EQ(r.Raw(0, 1), "application/octet-stream");
  EXPECT_EQ(r.Raw(0, 2), "ünïcødé ✓");
  EXPECT_EQ(r.Int64(0, 3), read[0].timestamp.time_since_epoch().count());
}

TEST(PostgresStoreTest, MetadataThatJsonbCannotHoldIsInvalidArgument) {
  ScopedSchema schema("badmeta");
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, PostgresEventStore::Open(TestOptions(schema.name())));
  WritableEvent e = Ev();
  e.metadata = {{"k", std::string("a\0b", 3)}};
  std::vector<WritableEvent> evs{e};
  EXPECT_THAT(store->AppendStream(TypeId::New("x").value(), evs), StatusIs(StatusCode::kInvalidArgument));
  evs[0].metadata = {{"k", "\xff\xfe"}};
  EXPECT_THAT(store->AppendStream(TypeId::New("x").value(), evs), StatusIs(StatusCode::kInvalidArgument));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, store->HeadPosition());
  EXPECT_EQ(head, 0);
}

TEST(PostgresStoreTest, WaitForAppendIsWokenByNotifyFromAnotherStore) {
  ScopedSchema schema("notify");
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto waiter, PostgresEventStore::Open(TestOptions(schema.name())));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto writer, PostgresEventStore::Open(TestOptions(schema.name())));
  std::vector<WritableEvent> evs{Ev(), Ev()};
  ESTORIA_ASSERT_OK(writer->AppendStream(TypeId::New("a").value(), evs));
  // The listener starts on the first wait and reads the head it missed.
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, waiter->WaitForAppend(0, std::chrono::seconds(30)));
  EXPECT_EQ(head, 2);
  ESTORIA_ASSERT_OK_AND_ASSIGN(head, waiter->WaitForAppend(2, std::chrono::milliseconds(10)));
  EXPECT_EQ(head, 2);  // timeout: nothing newer
  Result<int64_t> woken = Status::Internal("not run");
  std::thread t([&] { woken = waiter->WaitForAppend(2, std::chrono::seconds(30)); });
  ESTORIA_ASSERT_OK(writer->AppendStream(TypeId::New("a").value(), evs));
  t.join();
  ESTORIA_ASSERT_OK(woken);
  EXPECT_EQ(*woken, 4);  // from the NOTIFY of the other store's transaction
  EXPECT_EQ(waiter->stats().appends, 0);
  EXPECT_GE(waiter->stats().listener_connects, 1);
}

TEST(PostgresStoreTest, DroppedConnectionsAreReestablishedOnNextUse) {
  ScopedSchema schema("dropped");
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, PostgresEventStore::Open(TestOptions(schema.name())));
  TypeId stream = TypeId::New("account").value();
  std::vector<WritableEvent> evs{Ev()};
  ESTORIA_ASSERT_OK(store->AppendStream(stream, evs));
  ESTORIA_ASSERT_OK(store->ReadStream(stream));
  while (store->stats().listener_connects < 1) {  // the listener is up
    ESTORIA_ASSERT_OK(store->WaitForAppend(1 << 30, std::chrono::milliseconds(50)));
  }
  auto raw = RawConnection();
  // Terminate every session of this store (writer, pool, listener) and wait
  // until they are gone.
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      PgResult pids,
      raw->ExecParams("SELECT pid FROM pg_stat_activity WHERE application_name = $1", PgParams().Text(schema.name())));
  EXPECT_GE(pids.rows(), 3);  // writer, pooled reader, listener
  for (int i = 0; i < pids.rows(); ++i) {
    ESTORIA_ASSERT_OK(raw->ExecParams("SELECT pg_terminate_backend($1::int4, 10000)", PgParams().Text(pids.Raw(i, 0))));
  }
  ESTORIA_ASSERT_OK(store->AppendStream(stream, evs, AppendOptions::ExpectVersion(1)));
  auto it = store->ReadStream(stream);
  ESTORIA_ASSERT_OK(it);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto read, Collect(**it));
  EXPECT_EQ(read.size(), 2u);
  // The listener reconnects too, and then hears other stores again.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto other, PostgresEventStore::Open(TestOptions(schema.name())));
  while (store->stats().listener_connects < 2) {
    (void)store->WaitForAppend(1 << 30, std::chrono::milliseconds(100));
  }
  Result<int64_t> woken = Status::Internal("not run");
  std::thread t([&] { woken = store->WaitForAppend(2, std::chrono::seconds(30)); });
  ESTORIA_ASSERT_OK(other->AppendStream(stream, evs, AppendOptions::ExpectVersion(2)));
  t.join();
  ESTORIA_ASSERT_OK(woken);
  EXPECT_EQ(*woken, 3);
}

TEST(PostgresStoreTest, UnreachableServerIsUnavailableNotAHang) {
  PostgresOptions o;
  o.conninfo = "postgresql://postgres@127.0.0.1:1/postgres";  // nothing listens on port 1
  o.schema = "unreachable";
  o.connect_timeout = std::chrono::milliseconds(500);
  EXPECT_THAT(PostgresEventStore::Open(o), StatusIs(StatusCode::kUnavailable));
  o.conninfo = "postgresql://postgres@10.255.255.1:5432/postgres";  // unroutable: times out or fails
  EXPECT_THAT(PostgresEventStore::Open(o), StatusIs(StatusCode::kUnavailable));
  o.conninfo = "host=127.0.0.1 port=1 bogus_option=1";
  EXPECT_THAT(PostgresEventStore::Open(o), StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace estoria::postgres
