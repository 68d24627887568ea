// StreamDeleterConformance: delete vs truncate and their effect on reads
// (design §2).
#include "conformance_util.h"
#include "estoria/testing/conformance.h"

namespace estoria::testing {

int kStreamDeleterSuiteAnchor = 0;  // see LinkConformanceSuites

using ::testing::ElementsAre;

namespace {

TEST_P(StreamDeleterConformance, DeleteWholeStream) {
  TypeId doomed = NewStream(), kept = NewStream();
  ESTORIA_ASSERT_OK(store_->AppendStream(kept, Evs(2)));
  ESTORIA_ASSERT_OK(store_->AppendStream(doomed, Evs(3)));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto kept_after, store_->AppendStream(kept, Evs(1)));
  ESTORIA_ASSERT_OK(deleter_->DeleteStream(doomed));
  EXPECT_THAT(store_->ReadStream(doomed), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(deleter_->DeleteStream(doomed), StatusIs(StatusCode::kNotFound));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto survivors, ReadStreamAll(*store_, kept));
  EXPECT_EQ(survivors.size(), 3u);
  EXPECT_EQ(survivors[2].global_position, kept_after[0].global_position);  // positions kept
  if (GlobalReader* g = store_->global_reader()) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, ReadAllEvents(*g));
    ASSERT_EQ(all.size(), 3u);
    for (const auto& e : all) EXPECT_EQ(e.stream_id, kept);
  }
  // The id can be reused from version 1.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto reborn, store_->AppendStream(doomed, Evs(1), AppendOptions::MustNotExist()));
  EXPECT_EQ(reborn[0].stream_version, 1);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto reread, ReadStreamAll(*store_, doomed));
  EXPECT_THAT(Versions(reread), ElementsAre(1));
}

TEST_P(StreamDeleterConformance, TruncateKeepsLaterVersionsAndTip) {
  TypeId s = NewStream(), other = NewStream();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto appended, store_->AppendStream(s, Evs(5)));
  ESTORIA_ASSERT_OK(store_->AppendStream(other, Evs(1)));
  ESTORIA_ASSERT_OK(deleter_->DeleteStream(s, {3}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto rest, ReadStreamAll(*store_, s));
  EXPECT_THAT(Versions(rest), ElementsAre(4, 5));
  EXPECT_EQ(rest[0], appended[3]);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto back, ReadStreamAll(*store_, s, {Direction::kBackward, 0, 0}));
  EXPECT_THAT(Versions(back), ElementsAre(5, 4));
  // Appends continue from the old tip; the expectation sees the tip.
  EXPECT_THAT(store_->AppendStream(s, Evs(1), AppendOptions::ExpectVersion(2)), StatusIs(StatusCode::kConflict));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto next, store_->AppendStream(s, Evs(1), AppendOptions::ExpectVersion(5)));
  EXPECT_EQ(next[0].stream_version, 6);
  if (GlobalReader* g = store_->global_reader()) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, ReadAllEvents(*g, {0, 0, {}, {}}));
    EXPECT_EQ(all.size(), 4u);  // 4, 5, other's 1, 6
    EXPECT_EQ(all[0].global_position, appended[3].global_position);
  }
}

TEST_P(StreamDeleterConformance, TruncateEverythingLeavesAnEmptyExistingStream) {
  TypeId s = NewStream();
  ESTORIA_ASSERT_OK(store_->AppendStream(s, Evs(3)));
  ESTORIA_ASSERT_OK(deleter_->DeleteStream(s, {3}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto rest, ReadStreamAll(*store_, s));
  EXPECT_TRUE(rest.empty());  // empty, not NotFound
  EXPECT_THAT(store_->AppendStream(s, Evs(1), AppendOptions::MustNotExist()), StatusIs(StatusCode::kConflict));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto next, store_->AppendStream(s, Evs(1)));
  EXPECT_EQ(next[0].stream_version, 4);
  // Truncating below what is already gone is a no-op.
  ESTORIA_ASSERT_OK(deleter_->DeleteStream(s, {2}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto still, ReadStreamAll(*store_, s));
  EXPECT_THAT(Versions(still), ElementsAre(4));
}

TEST_P(StreamDeleterConformance, ErrorsForMissingStreamAndBadVersion) {
  EXPECT_THAT(deleter_->DeleteStream(NewStream()), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(deleter_->DeleteStream(NewStream(), {1}), StatusIs(StatusCode::kNotFound));
  TypeId s = NewStream();
  ESTORIA_ASSERT_OK(store_->AppendStream(s, Evs(1)));
  EXPECT_THAT(deleter_->DeleteStream(s, {-1}), StatusIs(StatusCode::kInvalidArgument));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto rest, ReadStreamAll(*store_, s));
  EXPECT_EQ(rest.size(), 1u);
}

TEST_P(StreamDeleterConformance, DeletedEventIdsDoNotBlockReuseOfTheStream) {
  TypeId s = NewStream();
  auto evs = Evs(2);
  for (auto& e : evs) e.id = Uuid::NewV7();
  ESTORIA_ASSERT_OK(store_->AppendStream(s, evs));
  ESTORIA_ASSERT_OK(deleter_->DeleteStream(s));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto again, store_->AppendStream(s, evs));
  EXPECT_EQ(again[1].stream_version, 2);
}

}  // namespace
}  // namespace estoria::testing
