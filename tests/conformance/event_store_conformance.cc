// EventStoreConformance: StreamWriter + StreamReader semantics (design §2).
#include <algorithm>
#include <set>

#include "conformance_util.h"
#include "estoria/testing/conformance.h"

namespace estoria::testing {

int kEventStoreSuiteAnchor = 0;  // see LinkConformanceSuites

using ::testing::ElementsAre;
using ::testing::HasSubstr;

void EventStoreConformance::SetUp() { internal::MakeStore(GetParam(), store_); }

namespace {

TEST_P(EventStoreConformance, AppendToNewStreamStartsAtVersionOne) {
  TypeId s = NewStream();
  auto evs = Evs(3);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto appended, store_->AppendStream(s, evs));
  ASSERT_EQ(appended.size(), 3u);
  EXPECT_THAT(Versions(appended), ElementsAre(1, 2, 3));
  for (size_t i = 0; i < appended.size(); ++i) {
    EXPECT_EQ(appended[i].stream_id, s);
    EXPECT_EQ(appended[i].type(), "happened");
    EXPECT_EQ(appended[i].data, evs[i].data);
    EXPECT_FALSE(appended[i].id.uuid().IsNil());
    if (i > 0) {
      EXPECT_EQ(appended[i].global_position, appended[i - 1].global_position + 1);
    }
  }
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto more, store_->AppendStream(s, Evs(2)));
  EXPECT_THAT(Versions(more), ElementsAre(4, 5));
  EXPECT_GT(more[0].global_position, appended[2].global_position);
}

TEST_P(EventStoreConformance, ReturnedEventsEqualALaterRead) {
  TypeId s = NewStream("account");
  std::vector<WritableEvent> evs = {Ev("opened", R"({"owner":"ana"})", {{"user", "u1"}, {"trace", ""}}),
                                    Ev("deposited", R"({"amount":5})")};
  evs[1].content_type = "application/vnd.test+json";
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto appended, store_->AppendStream(s, evs));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto read, ReadStreamAll(*store_, s));
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read, appended);
  EXPECT_EQ(read[0].metadata, (Metadata{{"user", "u1"}, {"trace", ""}}));
  EXPECT_EQ(read[1].content_type, "application/vnd.test+json");
  EXPECT_EQ(read[0].content_type, "application/json");
  // Timestamps are recent and have microsecond precision.
  auto now = Now();
  EXPECT_LE(read[0].timestamp, now);
  EXPECT_GT(read[0].timestamp, now - std::chrono::minutes(5));
}

TEST_P(EventStoreConformance, InputsAreNotModified) {
  TypeId s = NewStream();
  std::vector<WritableEvent> evs = {Ev("a", "x", {{"k", "v"}})};
  std::vector<WritableEvent> copy = evs;
  ESTORIA_ASSERT_OK(store_->AppendStream(s, evs));
  EXPECT_FALSE(evs[0].id.has_value());
  EXPECT_EQ(evs[0].data, copy[0].data);
  EXPECT_EQ(evs[0].metadata, copy[0].metadata);
}

TEST_P(EventStoreConformance, CallerChosenIdsAreKept) {
  TypeId s = NewStream();
  auto e = Ev();
  Uuid id = Uuid::NewV7();
  e.id = id;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto appended, store_->AppendStream(s, std::vector<WritableEvent>{e}));
  EXPECT_EQ(appended[0].id.uuid(), id);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto read, ReadStreamAll(*store_, s));
  EXPECT_EQ(read[0].id, TypeId("happened", id));
}

TEST_P(EventStoreConformance, InvalidAppendsAreRejectedAndWriteNothing) {
  TypeId s = NewStream();
  EXPECT_THAT(store_->AppendStream(s, std::vector<WritableEvent>{}), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->AppendStream(s, std::vector<WritableEvent>{Ev("Bad-Type")}),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->AppendStream(s, std::vector<WritableEvent>{Ev("")}), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->AppendStream(TypeId("Not Valid", Uuid::NewV7()), Evs(1)), StatusIs(StatusCode::kInvalidArgument));
  AppendOptions both;
  both.expect_version = 0;
  both.stream_state = StreamState::kMustNotExist;
  auto r = store_->AppendStream(s, Evs(1), both);
  EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->AppendStream(s, Evs(1), AppendOptions::ExpectVersion(-1)),
              StatusIs(StatusCode::kInvalidArgument));
  // One bad event in the middle: none of the three is written.
  std::vector<WritableEvent> mixed = {Ev("ok"), Ev("ok", "{}", {{"estoria.version", "1"}}), Ev("ok")};
  auto reserved = store_->AppendStream(s, mixed);
  EXPECT_THAT(reserved, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(reserved.error().message(), HasSubstr("estoria."));
  EXPECT_THAT(store_->ReadStream(s), StatusIs(StatusCode::kNotFound));
}

// EventLimits: an event over the store's limits is refused with the whole
// append (InvalidArgument naming the event, its size and the limit); nothing is
// written and the head does not move; events exactly at the limits are stored.
TEST_P(EventStoreConformance, OversizedEventsAreRefusedAndWriteNothing) {
  const EventLimits limits = store_->event_limits();
  ASSERT_GE(limits.max_event_data_bytes, 1);
  ASSERT_GE(limits.max_event_metadata_bytes, 2);
  TypeId s = NewStream();
  ESTORIA_ASSERT_OK(store_->AppendStream(s, Evs(2)));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto before, ReadStreamAll(*store_, s));
  GlobalReader* global = store_->global_reader();
  int64_t head = global ? global->HeadPosition().value_or(-1) : 0;

  const auto data_limit = static_cast<size_t>(limits.max_event_data_bytes);
  const auto metadata_limit = static_cast<size_t>(limits.max_event_metadata_bytes);
  std::vector<WritableEvent> big_data = {Ev(), Ev("happened", std::string(data_limit + 1, 'd')), Ev()};
  auto refused = store_->AppendStream(s, big_data);
  ASSERT_THAT(refused, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(refused.error().message(), HasSubstr("event 1"));
  EXPECT_THAT(refused.error().message(), HasSubstr(std::to_string(data_limit + 1)));
  EXPECT_THAT(refused.error().message(), HasSubstr("max_event_data_bytes (" + std::to_string(data_limit) + ")"));
  // Metadata size = the bytes of every key and value: "k" + limit bytes.
  std::vector<WritableEvent> big_metadata = {Ev(), Ev(),
                                             Ev("happened", "{}", {{"k", std::string(metadata_limit, 'm')}})};
  refused = store_->AppendStream(s, big_metadata, AppendOptions::ExpectVersion(2));
  ASSERT_THAT(refused, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(refused.error().message(), HasSubstr("event 2"));
  EXPECT_THAT(refused.error().message(),
              HasSubstr("max_event_metadata_bytes (" + std::to_string(metadata_limit) + ")"));
  // A new stream is not created by a refused append either.
  TypeId fresh = NewStream();
  EXPECT_THAT(store_->AppendStream(fresh, big_data), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->ReadStream(fresh), StatusIs(StatusCode::kNotFound));

  ESTORIA_ASSERT_OK_AND_ASSIGN(auto after, ReadStreamAll(*store_, s));
  EXPECT_EQ(after, before);
  if (global) {
    EXPECT_EQ(global->HeadPosition().value_or(-1), head);
  }

  // Exactly at the limits: stored and read back whole.
  std::vector<WritableEvent> at_limit = {Ev("happened", std::string(data_limit, 'd')),
                                         Ev("happened", "{}", {{"k", std::string(metadata_limit - 1, 'm')}})};
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto appended, store_->AppendStream(s, at_limit, AppendOptions::ExpectVersion(2)));
  EXPECT_THAT(Versions(appended), ElementsAre(3, 4));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto read, ReadStreamAll(*store_, s, ReadStreamOptions{.after_version = 2}));
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read[0].data.size(), data_limit);
  EXPECT_EQ(read[1].metadata.at("k").size(), metadata_limit - 1);
}

TEST_P(EventStoreConformance, ExpectVersionMatchesOrConflictsWithDetails) {
  TypeId s = NewStream();
  ESTORIA_ASSERT_OK(store_->AppendStream(s, Evs(1), AppendOptions::ExpectVersion(0)));
  ESTORIA_ASSERT_OK(store_->AppendStream(s, Evs(2), AppendOptions::ExpectVersion(1)));
  auto stale = store_->AppendStream(s, Evs(2), AppendOptions::ExpectVersion(1));
  ASSERT_THAT(stale, StatusIs(StatusCode::kConflict));
  ASSERT_TRUE(stale.error().conflict().has_value());
  EXPECT_EQ(stale.error().conflict()->stream_id, s.ToString());
  EXPECT_EQ(stale.error().conflict()->expected_version, 1);
  EXPECT_EQ(stale.error().conflict()->actual_version, 3);
  auto ahead = store_->AppendStream(s, Evs(1), AppendOptions::ExpectVersion(7));
  ASSERT_THAT(ahead, StatusIs(StatusCode::kConflict));
  EXPECT_EQ(ahead.error().conflict()->actual_version, 3);
  auto zero = store_->AppendStream(s, Evs(1), AppendOptions::ExpectVersion(0));
  ASSERT_THAT(zero, StatusIs(StatusCode::kConflict));
  EXPECT_EQ(zero.error().conflict()->expected_version, 0);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto read, ReadStreamAll(*store_, s));
  EXPECT_EQ(read.size(), 3u);  // nothing written by the failed appends
}

TEST_P(EventStoreConformance, ExpectVersionOnMissingStream) {
  TypeId s = NewStream();
  auto r = store_->AppendStream(s, Evs(1), AppendOptions::ExpectVersion(2));
  ASSERT_THAT(r, StatusIs(StatusCode::kConflict));
  EXPECT_EQ(r.error().conflict()->expected_version, 2);
  EXPECT_EQ(r.error().conflict()->actual_version, 0);
  EXPECT_THAT(store_->ReadStream(s), StatusIs(StatusCode::kNotFound));
}

TEST_P(EventStoreConformance, StreamMustNotExist) {
  TypeId s = NewStream();
  ESTORIA_ASSERT_OK(store_->AppendStream(s, Evs(2), AppendOptions::MustNotExist()));
  auto r = store_->AppendStream(s, Evs(1), AppendOptions::MustNotExist());
  ASSERT_THAT(r, StatusIs(StatusCode::kConflict));
  ASSERT_TRUE(r.error().conflict().has_value());
  EXPECT_EQ(r.error().conflict()->expected_version, 0);
  EXPECT_EQ(r.error().conflict()->actual_version, 2);
}

TEST_P(EventStoreConformance, StreamMustExist) {
  TypeId s = NewStream();
  auto r = store_->AppendStream(s, Evs(1), AppendOptions::MustExist());
  ASSERT_THAT(r, StatusIs(StatusCode::kConflict));
  ASSERT_TRUE(r.error().conflict().has_value());
  EXPECT_EQ(r.error().conflict()->expected_version, -1);
  EXPECT_EQ(r.error().conflict()->actual_version, 0);
  EXPECT_THAT(store_->ReadStream(s), StatusIs(StatusCode::kNotFound));
  ESTORIA_ASSERT_OK(store_->AppendStream(s, Evs(1)));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto appended, store_->AppendStream(s, Evs(1), AppendOptions::MustExist()));
  EXPECT_EQ(appended[0].stream_version, 2);
}

TEST_P(EventStoreConformance, MultiEventAppendIsAtomicOnConflict) {
  TypeId s = NewStream();
  ESTORIA_ASSERT_OK(store_->AppendStream(s, Evs(1)));
  EXPECT_THAT(store_->AppendStream(s, Evs(5), AppendOptions::ExpectVersion(0)), StatusIs(StatusCode::kConflict));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto read, ReadStreamAll(*store_, s));
  EXPECT_EQ(read.size(), 1u);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto next, store_->AppendStream(s, Evs(1)));
  EXPECT_EQ(next[0].stream_version, 2);
}

TEST_P(EventStoreConformance, ReadForwardAfterAndCount) {
  TypeId s = NewStream();
  ESTORIA_ASSERT_OK(store_->AppendStream(s, Evs(10)));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, ReadStreamAll(*store_, s));
  EXPECT_EQ(Versions(all), (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto after, ReadStreamAll(*store_, s, {Direction::kForward, 7, 0}));
  EXPECT_THAT(Versions(after), ElementsAre(8, 9, 10));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto counted, ReadStreamAll(*store_, s, {Direction::kForward, 2, 3}));
  EXPECT_THAT(Versions(counted), ElementsAre(3, 4, 5));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto past, ReadStreamAll(*store_, s, {Direction::kForward, 10, 0}));
  EXPECT_TRUE(past.empty());
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto far, ReadStreamAll(*store_, s, {Direction::kForward, 1000, 5}));
  EXPECT_TRUE(far.empty());
}

TEST_P(EventStoreConformance, ReadBackward) {
  TypeId s = NewStream();
  ESTORIA_ASSERT_OK(store_->AppendStream(s, Evs(6)));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, ReadStreamAll(*store_, s, {Direction::kBackward, 0, 0}));
  EXPECT_THAT(Versions(all), ElementsAre(6, 5, 4, 3, 2, 1));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto from4, ReadStreamAll(*store_, s, {Direction::kBackward, 4, 0}));
  EXPECT_THAT(Versions(from4), ElementsAre(4, 3, 2, 1));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto two, ReadStreamAll(*store_, s, {Direction::kBackward, 0, 2}));
  EXPECT_THAT(Versions(two), ElementsAre(6, 5));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto beyond, ReadStreamAll(*store_, s, {Direction::kBackward, 100, 1}));
  EXPECT_THAT(Versions(beyond), ElementsAre(6));
}

TEST_P(EventStoreConformance, LargeStreamsReadInFull) {
  TypeId s = NewStream();
  for (int i = 0; i < 3; ++i) ESTORIA_ASSERT_OK(store_->AppendStream(s, Evs(700)));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, ReadStreamAll(*store_, s));
  ASSERT_EQ(all.size(), 2100u);
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i].stream_version, static_cast<int64_t>(i) + 1);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto back, ReadStreamAll(*store_, s, {Direction::kBackward, 0, 0}));
  ASSERT_EQ(back.size(), 2100u);
  EXPECT_EQ(back.front().stream_version, 2100);
  EXPECT_EQ(back.back().stream_version, 1);
}

TEST_P(EventStoreConformance, MissingStreamIsNotFound) {
  EXPECT_THAT(store_->ReadStream(NewStream()), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store_->ReadStream(NewStream(), {Direction::kBackward, 0, 0}), StatusIs(StatusCode::kNotFound));
}

TEST_P(EventStoreConformance, StreamTypeIsPartOfTheId) {
  Uuid u = Uuid::NewV7();
  ESTORIA_ASSERT_OK(store_->AppendStream(TypeId("alpha", u), Evs(2)));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto b, store_->AppendStream(TypeId("beta", u), Evs(1)));
  EXPECT_EQ(b[0].stream_version, 1);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, ReadStreamAll(*store_, TypeId("alpha", u)));
  EXPECT_EQ(a.size(), 2u);
}

TEST_P(EventStoreConformance, BadReadOptionsAreInvalid) {
  TypeId s = NewStream();
  ESTORIA_ASSERT_OK(store_->AppendStream(s, Evs(1)));
  EXPECT_THAT(store_->ReadStream(s, {Direction::kForward, -1, 0}), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->ReadStream(s, {Direction::kForward, 0, -2}), StatusIs(StatusCode::kInvalidArgument));
}

TEST_P(EventStoreConformance, BinaryAndEmptyPayloadsRoundTrip) {
  TypeId s = NewStream();
  std::string binary;
  for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(i));
  binary += std::string("\0\0end\xff", 6);
  std::vector<WritableEvent> evs = {Ev("blob", binary), Ev("empty", ""), Ev("text", "caf\xc3\xa9 \xe2\x82\xac")};
  evs[0].content_type = "application/octet-stream";
  evs[1].content_type = "";
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto appended, store_->AppendStream(s, evs));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto read, ReadStreamAll(*store_, s));
  ASSERT_EQ(read.size(), 3u);
  EXPECT_EQ(read[0].data, binary);
  EXPECT_EQ(read[0].data.size(), 262u);
  EXPECT_EQ(read[0].content_type, "application/octet-stream");
  EXPECT_EQ(read[1].data, "");
  EXPECT_EQ(read[1].content_type, "");
  EXPECT_EQ(read[2].data, "caf\xc3\xa9 \xe2\x82\xac");
  EXPECT_EQ(read, appended);
}

TEST_P(EventStoreConformance, PayloadIsStoredVerbatimNotNormalised) {
  TypeId s = NewStream();
  std::string json = "{ \"b\" : 1,\n  \"a\":[1 , 2] ,\"a\":3 }";
  ESTORIA_ASSERT_OK(store_->AppendStream(s, std::vector<WritableEvent>{Ev("raw", json)}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto read, ReadStreamAll(*store_, s));
  EXPECT_EQ(read[0].data, json);
}

TEST_P(EventStoreConformance, MetadataRoundTripsIncludingEmptyValues) {
  TypeId s = NewStream();
  Metadata md = {{"empty", ""}, {"unicode", "\xc3\xa1rvore"}, {"quote", "a\"b\\c"}, {"k.with.dots", "1"}};
  ESTORIA_ASSERT_OK(store_->AppendStream(s, std::vector<WritableEvent>{Ev("m", "{}", md), Ev("n", "{}", {})}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto read, ReadStreamAll(*store_, s));
  EXPECT_EQ(read[0].metadata, md);
  EXPECT_TRUE(read[1].metadata.empty());
}

// Metadata that is not UTF-8 has no JSON form (export, dead letters, jsonb):
// every backend refuses it on append, naming the key, and writes nothing.
TEST_P(EventStoreConformance, MetadataThatIsNotUtf8IsRejectedAndWritesNothing) {
  TypeId s = NewStream();
  const std::vector<std::string> bad_texts = {"\xff", "caf\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"};
  for (const std::string& bad : bad_texts) {
    auto bad_value = store_->AppendStream(s, std::vector<WritableEvent>{Ev("ok"), Ev("m", "{}", {{"user", bad}})});
    EXPECT_THAT(bad_value, StatusIs(StatusCode::kInvalidArgument));
    if (!bad_value.has_value()) {
      EXPECT_THAT(bad_value.error().message(), HasSubstr("metadata value of \"user\" is not valid UTF-8"));
    }
    auto bad_key = store_->AppendStream(s, std::vector<WritableEvent>{Ev("m", "{}", {{"k" + bad, "v"}})});
    EXPECT_THAT(bad_key, StatusIs(StatusCode::kInvalidArgument));
    if (!bad_key.has_value()) {
      EXPECT_THAT(bad_key.error().message(), HasSubstr("metadata key \"k"));
      EXPECT_THAT(bad_key.error().message(), HasSubstr("is not valid UTF-8"));
    }
  }
  EXPECT_THAT(store_->ReadStream(s), StatusIs(StatusCode::kNotFound));
  // Multi-byte UTF-8 in keys and values is fine.
  Metadata md = {{"cl\xc3\xa9", "\xf0\x9f\x98\x80"}};
  ESTORIA_ASSERT_OK(store_->AppendStream(s, std::vector<WritableEvent>{Ev("m", "{}", md)}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto read, ReadStreamAll(*store_, s));
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].metadata, md);
}

TEST_P(EventStoreConformance, IdempotentReappendReportsAlreadyExists) {
  TypeId s = NewStream();
  std::vector<WritableEvent> evs = Evs(3);
  for (auto& e : evs) e.id = Uuid::NewV7();
  ESTORIA_ASSERT_OK(store_->AppendStream(s, Evs(1)));
  ESTORIA_ASSERT_OK(store_->AppendStream(s, evs, AppendOptions::ExpectVersion(1)));
  auto again = store_->AppendStream(s, evs);
  EXPECT_THAT(again, StatusIs(StatusCode::kAlreadyExists));
  auto again_expect = store_->AppendStream(s, evs, AppendOptions::ExpectVersion(1));
  EXPECT_THAT(again_expect, StatusIs(StatusCode::kAlreadyExists));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto read, ReadStreamAll(*store_, s));
  EXPECT_EQ(read.size(), 4u);  // no duplicates
  // The same ids with an expectation naming another place are not a retry.
  EXPECT_THAT(store_->AppendStream(s, evs, AppendOptions::ExpectVersion(4)), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->AppendStream(s, evs, AppendOptions::ExpectVersion(0)), StatusIs(StatusCode::kInvalidArgument));
  // Reusing one id in another append (or another stream) is rejected.
  std::vector<WritableEvent> reuse = {Ev(), evs[1]};
  EXPECT_THAT(store_->AppendStream(s, reuse), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->AppendStream(NewStream(), std::vector<WritableEvent>{evs[0]}),
              StatusIs(StatusCode::kInvalidArgument));
  // A duplicate id within one append is rejected.
  std::vector<WritableEvent> dup = Evs(2);
  dup[0].id = dup[1].id = Uuid::NewV7();
  EXPECT_THAT(store_->AppendStream(s, dup), StatusIs(StatusCode::kInvalidArgument));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto after, ReadStreamAll(*store_, s));
  EXPECT_EQ(after.size(), 4u);
}

TEST_P(EventStoreConformance, ListStreams) {
  StreamLister* lister = store_->stream_lister();
  if (lister == nullptr) GTEST_SKIP() << "no StreamLister capability";
  std::vector<TypeId> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(NewStream("lista"));
    ESTORIA_ASSERT_OK(store_->AppendStream(ids.back(), Evs(i + 1)));
  }
  TypeId other = NewStream("listb");
  ESTORIA_ASSERT_OK(store_->AppendStream(other, Evs(1)));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, lister->ListStreams({"lista", "", 0}));
  ASSERT_EQ(a.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(a[i].stream_id, ids[i]);  // UUIDv7 ids in creation order sort by text
    EXPECT_EQ(a[i].version, static_cast<int64_t>(i) + 1);
  }
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto limited, lister->ListStreams({"lista", ids[0].ToString(), 1}));
  ASSERT_EQ(limited.size(), 1u);
  EXPECT_EQ(limited[0].stream_id, ids[1]);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto everything, lister->ListStreams({}));
  EXPECT_EQ(everything.size(), 4u);
}

}  // namespace
}  // namespace estoria::testing
