// EventImporterConformance: ImportEvents as documented in
// estoria/event_store.h (EventImporter and ImportOptions).
#include "conformance_util.h"
#include "estoria/testing/event_store_capability_conformance.h"

namespace estoria::testing {

int LinkEventImporterConformance() { return 0; }

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

namespace {

// An event as another store returned it: every field set, reserved metadata
// included, an old timestamp, a binary payload.
Event Stored(const TypeId& stream, int64_t version, int64_t position = 0, std::string type = "imported") {
  Event e;
  e.id = TypeId(std::move(type), Uuid::NewV7());
  e.stream_id = stream;
  e.stream_version = version;
  e.global_position = position;
  e.timestamp = Timestamp(std::chrono::microseconds(int64_t{1'600'000'000'123'456} + version));
  e.content_type = "application/vnd.conformance+octets";
  e.data = std::string("\0\x01\xfe v", 5) + std::to_string(version);
  e.metadata = {{std::string(kReservedMetadataPrefix) + "schema_version", "2"},
                {"user", "u" + std::to_string(version)}};
  return e;
}

int64_t Head(EventStore& store) {
  if (GlobalReader* g = store.global_reader()) {
    auto head = g->HeadPosition();
    EXPECT_TRUE(head.has_value()) << head.error();
    return head.value_or(-1);
  }
  return -1;
}

// The stream does not exist (nothing of it was written).
void ExpectAbsent(EventStore& store, const TypeId& stream) {
  EXPECT_THAT(store.ReadStream(stream), StatusIs(StatusCode::kNotFound)) << stream;
}

TEST_P(EventImporterConformance, WritesEventsVerbatimAtTheNextPositions) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto before, store_->AppendStream(NewStream(), Evs(2)));
  const int64_t head = before.back().global_position;
  TypeId s = NewStream("imported_stream");
  // Source positions are ignored without preserve_positions.
  std::vector<Event> events = {Stored(s, 1, 900), Stored(s, 2, 901), Stored(s, 3, 950)};
  events[1].metadata.clear();
  events[2].data.clear();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto positions, importer_->ImportEvents(events));
  EXPECT_THAT(positions, ElementsAre(head + 1, head + 2, head + 3));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto read, ReadStreamAll(*store_, s));
  ASSERT_EQ(read.size(), events.size());
  for (size_t i = 0; i < read.size(); ++i) {
    Event expected = events[i];
    expected.global_position = positions[i];
    EXPECT_EQ(read[i], expected) << "event " << i;
  }
  if (GlobalReader* g = store_->global_reader()) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, ReadAllEvents(*g, {head, 0, {}, {}}));
    EXPECT_EQ(all, read);
    EXPECT_EQ(Head(*store_), head + 3);
  }
  // Appends continue the imported stream.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto next, store_->AppendStream(s, Evs(1), AppendOptions::ExpectVersion(3)));
  EXPECT_EQ(next[0].stream_version, 4);
  EXPECT_GT(next[0].global_position, head + 3);
}

TEST_P(EventImporterConformance, InterleavedStreamsKeepTheGivenOrder) {
  TypeId a = NewStream(), b = NewStream();
  std::vector<Event> events = {Stored(a, 1), Stored(b, 1), Stored(a, 2), Stored(b, 2), Stored(b, 3)};
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto positions, importer_->ImportEvents(events));
  ASSERT_EQ(positions.size(), events.size());
  for (size_t i = 1; i < positions.size(); ++i) EXPECT_GT(positions[i], positions[i - 1]);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto read_a, ReadStreamAll(*store_, a));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto read_b, ReadStreamAll(*store_, b));
  EXPECT_THAT(Versions(read_a), ElementsAre(1, 2));
  EXPECT_THAT(Versions(read_b), ElementsAre(1, 2, 3));
  EXPECT_EQ(read_a[1].global_position, positions[2]);
  EXPECT_EQ(read_b[2].global_position, positions[4]);
}

TEST_P(EventImporterConformance, ANewStreamMayStartAboveVersionOne) {
  TypeId s = NewStream();
  std::vector<Event> events = {Stored(s, 4), Stored(s, 5)};
  ESTORIA_ASSERT_OK(importer_->ImportEvents(events));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto read, ReadStreamAll(*store_, s));
  EXPECT_THAT(Versions(read), ElementsAre(4, 5));
  // The tip is 5: expectations and appends see it.
  EXPECT_THAT(store_->AppendStream(s, Evs(1), AppendOptions::MustNotExist()), StatusIs(StatusCode::kConflict));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto next, store_->AppendStream(s, Evs(1), AppendOptions::ExpectVersion(5)));
  EXPECT_EQ(next[0].stream_version, 6);
}

TEST_P(EventImporterConformance, AnExistingStreamMustBeContinuedAtItsTip) {
  TypeId s = NewStream();
  ESTORIA_ASSERT_OK(store_->AppendStream(s, Evs(2)));
  const int64_t head = Head(*store_);
  // Importing the stream again from version 1, or leaving a gap, is rejected.
  for (int64_t version : {int64_t{1}, int64_t{2}, int64_t{4}}) {
    std::vector<Event> events = {Stored(s, version)};
    EXPECT_THAT(importer_->ImportEvents(events), StatusIs(StatusCode::kInvalidArgument)) << "version " << version;
  }
  EXPECT_EQ(Head(*store_), head);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto unchanged, ReadStreamAll(*store_, s));
  EXPECT_THAT(Versions(unchanged), ElementsAre(1, 2));
  // tip + 1 continues it.
  std::vector<Event> next = {Stored(s, 3), Stored(s, 4)};
  ESTORIA_ASSERT_OK(importer_->ImportEvents(next));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto read, ReadStreamAll(*store_, s));
  EXPECT_THAT(Versions(read), ElementsAre(1, 2, 3, 4));
  EXPECT_EQ(read[2].id, next[0].id);
}

TEST_P(EventImporterConformance, AVersionGapInTheBatchWritesNothing) {
  TypeId s = NewStream(), t = NewStream();
  const int64_t head = Head(*store_);
  std::vector<Event> events = {Stored(s, 1), Stored(t, 1), Stored(s, 2), Stored(s, 4)};
  EXPECT_THAT(importer_->ImportEvents(events), StatusIs(StatusCode::kInvalidArgument));
  ExpectAbsent(*store_, s);
  ExpectAbsent(*store_, t);
  EXPECT_EQ(Head(*store_), head);
  // A repeated version within the batch as well.
  std::vector<Event> repeated = {Stored(s, 1), Stored(s, 1)};
  EXPECT_THAT(importer_->ImportEvents(repeated), StatusIs(StatusCode::kInvalidArgument));
  ExpectAbsent(*store_, s);
}

TEST_P(EventImporterConformance, AStoredEventIdIsAlreadyExistsAndWritesNothing) {
  TypeId appended_to = NewStream();
  WritableEvent w = internal::Ev();
  w.id = Uuid::NewV7();
  ESTORIA_ASSERT_OK(store_->AppendStream(appended_to, std::span<const WritableEvent>(&w, 1)));
  const int64_t head = Head(*store_);
  TypeId fresh = NewStream(), other = NewStream();
  Event dup = Stored(other, 1);
  dup.id = TypeId("imported", *w.id);
  std::vector<Event> events = {Stored(fresh, 1), dup};
  EXPECT_THAT(importer_->ImportEvents(events), StatusIs(StatusCode::kAlreadyExists));
  ExpectAbsent(*store_, fresh);
  ExpectAbsent(*store_, other);
  EXPECT_EQ(Head(*store_), head);

  // An id imported before, and an id twice in one batch.
  std::vector<Event> first = {Stored(fresh, 1)};
  ESTORIA_ASSERT_OK(importer_->ImportEvents(first));
  Event again = Stored(other, 1);
  again.id = first[0].id;
  std::vector<Event> second = {again};
  EXPECT_THAT(importer_->ImportEvents(second), StatusIs(StatusCode::kAlreadyExists));
  Event twin = Stored(other, 2);
  twin.id = TypeId("imported", Uuid::NewV7());
  Event twin_first = Stored(other, 1);
  twin_first.id = twin.id;
  std::vector<Event> twins = {twin_first, twin};
  EXPECT_THAT(importer_->ImportEvents(twins), StatusIs(StatusCode::kAlreadyExists));
  ExpectAbsent(*store_, other);
}

TEST_P(EventImporterConformance, InvalidIdsTypesAndVersionsAreRejected) {
  TypeId s = NewStream();
  const int64_t head = Head(*store_);
  Event bad_type = Stored(s, 2);
  bad_type.id = TypeId("Not Valid", Uuid::NewV7());
  Event bad_stream = Stored(TypeId("Bad Stream", Uuid::NewV7()), 1);
  Event version_zero = Stored(NewStream(), 0);
  Event negative_version = Stored(NewStream(), -3);
  // Metadata must be UTF-8, as on append: every stored event has a JSON form.
  Event bad_value = Stored(s, 2);
  bad_value.metadata["user"] = "\xff";
  Event bad_key = Stored(s, 2);
  bad_key.metadata["\xc3"] = "v";
  for (const Event& bad : {bad_type, bad_stream, version_zero, negative_version, bad_value, bad_key}) {
    std::vector<Event> events = {Stored(s, 1), bad};
    EXPECT_THAT(importer_->ImportEvents(events), StatusIs(StatusCode::kInvalidArgument)) << bad;
  }
  ExpectAbsent(*store_, s);
  EXPECT_EQ(Head(*store_), head);
}

// preserve_positions: a backend either keeps the positions or says NotSupported.
TEST_P(EventImporterConformance, OversizedEventsAreRefusedAndWriteNothing) {
  const EventLimits limits = store_->event_limits();
  const int64_t head = Head(*store_);
  TypeId s = NewStream("imported_stream");
  std::vector<Event> events = {Stored(s, 1), Stored(s, 2), Stored(s, 3)};
  events[1].data.assign(static_cast<size_t>(limits.max_event_data_bytes) + 1, 'd');
  auto refused = importer_->ImportEvents(events);
  ASSERT_THAT(refused, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(refused.error().message(), ::testing::HasSubstr("event 1"));
  EXPECT_THAT(refused.error().message(), ::testing::HasSubstr("max_event_data_bytes"));
  events[1].data.clear();
  events[2].metadata["big"] = std::string(static_cast<size_t>(limits.max_event_metadata_bytes), 'm');
  refused = importer_->ImportEvents(events);
  ASSERT_THAT(refused, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(refused.error().message(), ::testing::HasSubstr("max_event_metadata_bytes"));
  ExpectAbsent(*store_, s);
  EXPECT_EQ(Head(*store_), head);
  // At the limit: imported.
  events[1].data.assign(static_cast<size_t>(limits.max_event_data_bytes), 'd');
  events[2].metadata = {{"k", std::string(static_cast<size_t>(limits.max_event_metadata_bytes) - 1, 'm')}};
  ESTORIA_ASSERT_OK(importer_->ImportEvents(events));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto read, ReadStreamAll(*store_, s));
  ASSERT_EQ(read.size(), 3u);
  EXPECT_EQ(read[1].data, events[1].data);
  EXPECT_EQ(read[2].metadata, events[2].metadata);
}

TEST_P(EventImporterConformance, PreservedPositionsKeepTheirGaps) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto before, store_->AppendStream(NewStream(), Evs(1)));
  const int64_t head = before.back().global_position;
  TypeId a = NewStream(), b = NewStream();
  std::vector<Event> events = {Stored(a, 1, head + 5), Stored(b, 1, head + 6), Stored(a, 2, head + 10)};
  auto imported = importer_->ImportEvents(events, ImportOptions{true});
  if (!imported && imported.error().code() == StatusCode::kNotSupported) {
    GTEST_SKIP() << "preserve_positions is not supported: " << imported.error();
  }
  ESTORIA_ASSERT_OK(imported);
  EXPECT_THAT(*imported, ElementsAre(head + 5, head + 6, head + 10));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto read_a, ReadStreamAll(*store_, a));
  ASSERT_EQ(read_a.size(), 2u);
  EXPECT_EQ(read_a[0], events[0]);
  EXPECT_EQ(read_a[1], events[2]);
  if (GlobalReader* g = store_->global_reader()) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, ReadAllEvents(*g, {head, 0, {}, {}}));
    EXPECT_THAT(internal::Positions(all), ElementsAre(head + 5, head + 6, head + 10));
    EXPECT_EQ(Head(*store_), head + 10);
  }
  // Later appends land above the preserved positions.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto next, store_->AppendStream(b, Evs(1)));
  EXPECT_GT(next[0].global_position, head + 10);
  EXPECT_EQ(next[0].stream_version, 2);
}

TEST_P(EventImporterConformance, PreservedPositionsMustIncreaseAboveTheHead) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto before, store_->AppendStream(NewStream(), Evs(2)));
  const int64_t head = before.back().global_position;
  TypeId s = NewStream();
  std::vector<std::vector<Event>> bad_batches = {
      {Stored(s, 1, head + 3), Stored(s, 2, head + 2)},  // decreasing
      {Stored(s, 1, head + 3), Stored(s, 2, head + 3)},  // repeated
      {Stored(s, 1, head)},                              // at the head
      {Stored(s, 1, head - 1)},                          // below it
  };
  for (const auto& batch : bad_batches) {
    auto imported = importer_->ImportEvents(batch, ImportOptions{true});
    if (!imported && imported.error().code() == StatusCode::kNotSupported) {
      GTEST_SKIP() << "preserve_positions is not supported: " << imported.error();
    }
    EXPECT_THAT(imported, StatusIs(StatusCode::kInvalidArgument)) << "first position " << batch[0].global_position;
  }
  ExpectAbsent(*store_, s);
  EXPECT_EQ(Head(*store_), head);
}

}  // namespace
}  // namespace estoria::testing
