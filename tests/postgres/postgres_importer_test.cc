// PostgresEventStore as an EventImporter: verbatim round trips (ids, versions,
// timestamps, positions, content types, binary payloads, reserved metadata),
// the all-or-nothing refusals, positions interleaved with appends, wake-ups.
#include <thread>

#include "estoria/postgres/postgres_event_store.h"
#include "estoria/testing/matchers.h"
#include "pg_test_util.h"

namespace estoria::postgres {
namespace {

using ::estoria::testing::StatusIs;
using testing::ScopedSchema;
using testing::TestOptions;

// 2025-01-02T03:04:05.678901Z plus `us` microseconds.
Timestamp At(int64_t us) { return Timestamp(std::chrono::microseconds(1735787045678901LL + us)); }

Event Imported(const TypeId& stream, int64_t version, std::string type, int64_t position = 0) {
  Event e;
  e.id = TypeId(std::move(type), Uuid::NewV7());
  e.stream_id = stream;
  e.stream_version = version;
  e.global_position = position;
  e.timestamp = At(version * 1000 + position);
  e.content_type = "application/json";
  e.data = R"({"v":)" + std::to_string(version) + "}";
  return e;
}

WritableEvent Ev() {
  WritableEvent e;
  e.type = "appended";
  e.data = "{}";
  return e;
}

std::vector<Event> ReadAllOf(PostgresEventStore& store) {
  auto it = store.ReadAll();
  EXPECT_TRUE(it.has_value()) << it.error();
  if (!it) return {};
  auto all = Collect(**it);
  EXPECT_TRUE(all.has_value()) << all.error();
  return all.value_or(std::vector<Event>{});
}

std::vector<int64_t> PositionsOf(const std::vector<Event>& events) {
  std::vector<int64_t> out;
  for (const Event& e : events) out.push_back(e.global_position);
  return out;
}

TEST(PostgresImporterTest, RoundTripKeepsEverythingIncludingPreservedPositions) {
  ESTORIA_REQUIRE_POSTGRES();
  ScopedSchema schema("imp_roundtrip");
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, PostgresEventStore::Open(TestOptions(schema.name())));
  ASSERT_EQ(store->event_importer(), store.get());
  TypeId a = TypeId::New("account").value(), b = TypeId::New("order").value();
  std::vector<Event> events{Imported(a, 1, "opened", 2), Imported(a, 2, "deposited", 3),
                            Imported(b, 3, "placed", 5),  // a truncated source stream
                            Imported(b, 4, "shipped", 9)};
  events[0].metadata = {{"estoria.causation_id", "c-1"}, {"estoria.idempotency", "k"}, {"user", "ü"}};
  events[1].content_type = "application/octet-stream";
  events[1].data = std::string("\x00\x01\xff\x00", 4);
  events[2].content_type = "text/plain";
  events[2].data = "";
  events[3].metadata = {{"estoria.correlation_id", "r-9"}};
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto positions, store->ImportEvents(events, ImportOptions{true}));
  EXPECT_EQ(positions, (std::vector<int64_t>{2, 3, 5, 9}));
  EXPECT_EQ(ReadAllOf(*store), events);  // every field, positions included
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, store->HeadPosition());
  EXPECT_EQ(head, 9);

  // Another store object (fresh connections) reads the same, per stream too.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto other, PostgresEventStore::Open(TestOptions(schema.name())));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto it, other->ReadStream(b));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto stream_b, Collect(*it));
  EXPECT_EQ(stream_b, (std::vector<Event>{events[2], events[3]}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto streams, other->ListStreams());
  ASSERT_EQ(streams.size(), 2u);
  for (const StreamInfo& s : streams) {
    EXPECT_EQ(s.version, s.stream_id == a ? 2 : 4);
    EXPECT_EQ(s.last_timestamp, s.stream_id == a ? events[1].timestamp : events[3].timestamp);
  }

  // Without preserve_positions the same events get head+1, head+2, ...
  ScopedSchema second("imp_roundtrip_assigned");
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto target, PostgresEventStore::Open(TestOptions(second.name())));
  ESTORIA_ASSERT_OK_AND_ASSIGN(positions, target->ImportEvents(events));
  EXPECT_EQ(positions, (std::vector<int64_t>{1, 2, 3, 4}));
  std::vector<Event> copied = ReadAllOf(*target);
  ASSERT_EQ(copied.size(), events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    Event expected = events[i];
    expected.global_position = static_cast<int64_t>(i) + 1;
    EXPECT_EQ(copied[i], expected) << "at " << i;
  }
  // An empty import writes nothing.
  ESTORIA_ASSERT_OK_AND_ASSIGN(positions, target->ImportEvents(std::vector<Event>{}));
  EXPECT_TRUE(positions.empty());
}

TEST(PostgresImporterTest, NewStreamMayStartAboveVersionOneAndAppendsContinueIt) {
  ESTORIA_REQUIRE_POSTGRES();
  ScopedSchema schema("imp_truncated");
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, PostgresEventStore::Open(TestOptions(schema.name())));
  TypeId s = TypeId::New("account").value();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto positions,
                               store->ImportEvents(std::vector<Event>{Imported(s, 5, "x"), Imported(s, 6, "y")}));
  EXPECT_EQ(positions, (std::vector<int64_t>{1, 2}));
  std::vector<WritableEvent> evs{Ev()};
  EXPECT_THAT(store->AppendStream(s, evs, AppendOptions::ExpectVersion(5)), StatusIs(StatusCode::kConflict));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto appended, store->AppendStream(s, evs, AppendOptions::ExpectVersion(6)));
  ASSERT_EQ(appended.size(), 1u);
  EXPECT_EQ(appended[0].stream_version, 7);
  EXPECT_EQ(appended[0].global_position, 3);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto it, store->ReadStream(s));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto read, Collect(*it));
  ASSERT_EQ(read.size(), 3u);
  EXPECT_EQ(read[0].stream_version, 5);
  EXPECT_EQ(read[2].stream_version, 7);
}

TEST(PostgresImporterTest, VersionThatDoesNotContinueTheTipWritesNothing) {
  ESTORIA_REQUIRE_POSTGRES();
  ScopedSchema schema("imp_badversion");
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, PostgresEventStore::Open(TestOptions(schema.name())));
  TypeId a = TypeId::New("account").value(), fresh = TypeId::New("account").value();
  std::vector<WritableEvent> evs{Ev(), Ev()};
  ESTORIA_ASSERT_OK(store->AppendStream(a, evs));  // tip 2
  // Continuing a fresh stream is fine, but `a` would skip version 3.
  EXPECT_THAT(store->ImportEvents(std::vector<Event>{Imported(fresh, 1, "x"), Imported(a, 4, "y")}),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store->ImportEvents(std::vector<Event>{Imported(a, 2, "y")}), StatusIs(StatusCode::kInvalidArgument));
  // A gap inside the batch of a new stream.
  EXPECT_THAT(store->ImportEvents(std::vector<Event>{Imported(fresh, 1, "x"), Imported(fresh, 3, "y")}),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store->ImportEvents(std::vector<Event>{Imported(fresh, 0, "x")}), StatusIs(StatusCode::kInvalidArgument));
  // PostgreSQL cannot store NUL in text or jsonb.
  Event nul = Imported(fresh, 1, "x");
  nul.content_type = std::string("a\0b", 3);
  EXPECT_THAT(store->ImportEvents(std::vector<Event>{nul}), StatusIs(StatusCode::kInvalidArgument));
  // Preserved positions must be increasing and above the head (2).
  EXPECT_THAT(store->ImportEvents(std::vector<Event>{Imported(fresh, 1, "x", 2)}, ImportOptions{true}),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store->ImportEvents(std::vector<Event>{Imported(fresh, 1, "x", 5), Imported(fresh, 2, "y", 5)},
                                  ImportOptions{true}),
              StatusIs(StatusCode::kInvalidArgument));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, store->HeadPosition());
  EXPECT_EQ(head, 2);
  EXPECT_EQ(ReadAllOf(*store).size(), 2u);
  EXPECT_THAT(store->ReadStream(fresh), StatusIs(StatusCode::kNotFound));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto streams, store->ListStreams());
  EXPECT_EQ(streams.size(), 1u);
}

TEST(PostgresImporterTest, AlreadyStoredIdWritesNothing) {
  ESTORIA_REQUIRE_POSTGRES();
  ScopedSchema schema("imp_dupid");
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, PostgresEventStore::Open(TestOptions(schema.name())));
  TypeId a = TypeId::New("account").value(), fresh = TypeId::New("account").value();
  std::vector<WritableEvent> evs{Ev()};
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto appended, store->AppendStream(a, evs));
  Event dup = Imported(a, 2, "y");
  dup.id = appended[0].id;  // already stored by the append
  EXPECT_THAT(store->ImportEvents(std::vector<Event>{Imported(fresh, 1, "x"), dup}),
              StatusIs(StatusCode::kAlreadyExists));
  // The same id twice within one batch.
  Event first = Imported(fresh, 1, "x");
  Event twice = Imported(fresh, 2, "x");
  twice.id = first.id;
  EXPECT_THAT(store->ImportEvents(std::vector<Event>{first, twice}), StatusIs(StatusCode::kAlreadyExists));
  // An import repeated after it committed.
  ESTORIA_ASSERT_OK(store->ImportEvents(std::vector<Event>{first}));
  EXPECT_THAT(store->ImportEvents(std::vector<Event>{first}), StatusIs(StatusCode::kAlreadyExists));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, store->HeadPosition());
  EXPECT_EQ(head, 2);
  std::vector<Event> all = ReadAllOf(*store);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1], [&] {
    Event e = first;
    e.global_position = 2;
    return e;
  }());
}

TEST(PostgresImporterTest, PositionsInterleaveGapFreeWithAppends) {
  ESTORIA_REQUIRE_POSTGRES();
  ScopedSchema schema("imp_interleave");
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, PostgresEventStore::Open(TestOptions(schema.name())));
  TypeId a = TypeId::New("account").value(), b = TypeId::New("order").value();
  std::vector<WritableEvent> one{Ev()};
  // Several quiet appends in a row: the writer starts predicting the head.
  for (int i = 0; i < 4; ++i) ESTORIA_ASSERT_OK(store->AppendStream(a, one));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto positions, store->ImportEvents(std::vector<Event>{
                                                   Imported(b, 1, "x"), Imported(a, 5, "y"), Imported(b, 2, "z")}));
  EXPECT_EQ(positions, (std::vector<int64_t>{5, 6, 7}));
  // The writer's remembered head and versions are stale now; appends continue.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto appended, store->AppendStream(a, one, AppendOptions::ExpectVersion(5)));
  EXPECT_EQ(appended[0].stream_version, 6);
  EXPECT_EQ(appended[0].global_position, 8);
  ESTORIA_ASSERT_OK_AND_ASSIGN(appended, store->AppendStream(b, one, AppendOptions::ExpectVersion(2)));
  EXPECT_EQ(appended[0].stream_version, 3);
  EXPECT_EQ(appended[0].global_position, 9);
  for (int i = 0; i < 3; ++i) ESTORIA_ASSERT_OK(store->AppendStream(a, one));
  ESTORIA_ASSERT_OK_AND_ASSIGN(positions, store->ImportEvents(std::vector<Event>{Imported(a, 10, "w")}));
  EXPECT_EQ(positions, (std::vector<int64_t>{13}));
  ESTORIA_ASSERT_OK(store->AppendStream(b, one, AppendOptions::ExpectVersion(3)));
  EXPECT_EQ(PositionsOf(ReadAllOf(*store)), (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, store->HeadPosition());
  EXPECT_EQ(head, 14);
}

TEST(PostgresImporterTest, ImportWakesWaitersInThisAndOtherStores) {
  ESTORIA_REQUIRE_POSTGRES();
  ScopedSchema schema("imp_wake");
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto importer, PostgresEventStore::Open(TestOptions(schema.name())));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto watcher, PostgresEventStore::Open(TestOptions(schema.name())));
  std::vector<WritableEvent> one{Ev()};
  ESTORIA_ASSERT_OK(importer->AppendStream(TypeId::New("a").value(), one));
  // Both listeners are up and know head 1.
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, watcher->WaitForAppend(0, std::chrono::seconds(30)));
  ASSERT_EQ(head, 1);
  ESTORIA_ASSERT_OK_AND_ASSIGN(head, importer->WaitForAppend(0, std::chrono::seconds(30)));
  ASSERT_EQ(head, 1);
  Result<int64_t> remote = Status::Internal("not run"), local = Status::Internal("not run");
  std::thread t1([&] { remote = watcher->WaitForAppend(1, std::chrono::seconds(30)); });
  std::thread t2([&] { local = importer->WaitForAppend(1, std::chrono::seconds(30)); });
  TypeId s = TypeId::New("b").value();
  ESTORIA_ASSERT_OK(importer->ImportEvents(std::vector<Event>{Imported(s, 1, "x"), Imported(s, 2, "y")}));
  t1.join();
  t2.join();
  ESTORIA_ASSERT_OK(remote);
  EXPECT_EQ(*remote, 3);  // the NOTIFY of the import transaction
  ESTORIA_ASSERT_OK(local);
  EXPECT_EQ(*local, 3);
  EXPECT_EQ(watcher->stats().appends, 0);
}

}  // namespace
}  // namespace estoria::postgres
