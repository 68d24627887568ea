// StreamListerConformance: ListStreams as documented in estoria/event_store.h
// (StreamLister, ListStreamsOptions, StreamInfo).
#include <algorithm>

#include "conformance_util.h"
#include "estoria/testing/event_store_capability_conformance.h"

namespace estoria::testing {

int LinkStreamListerConformance() { return 0; }

namespace {

std::vector<std::string> Names(const std::vector<StreamInfo>& infos) {
  std::vector<std::string> out;
  for (const auto& i : infos) out.push_back(i.stream_id.ToString());
  return out;
}

class Streams {
 public:
  // Appends `count` events to a new stream of `type`; remembers its info.
  void Add(EventStore& store, const std::string& type, int count) {
    TypeId id = NewStream(type);
    auto appended = store.AppendStream(id, Evs(count));
    ASSERT_TRUE(appended.has_value()) << appended.error();
    infos_.push_back(StreamInfo{id, appended->back().stream_version, appended->back().timestamp});
    std::sort(infos_.begin(), infos_.end(),
              [](const StreamInfo& a, const StreamInfo& b) { return a.stream_id.ToString() < b.stream_id.ToString(); });
  }
  const std::vector<StreamInfo>& all() const { return infos_; }
  std::vector<StreamInfo> OfType(const std::string& type) const {
    std::vector<StreamInfo> out;
    for (const auto& i : infos_) {
      if (i.stream_id.type() == type) out.push_back(i);
    }
    return out;
  }

 private:
  std::vector<StreamInfo> infos_;
};

TEST_P(StreamListerConformance, EmptyStoreListsNothing) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto none, lister_->ListStreams());
  EXPECT_TRUE(none.empty());
}

TEST_P(StreamListerConformance, ListsStreamsByIdTextWithTipAndLastTimestamp) {
  Streams streams;
  for (const char* type : {"order", "account", "account_archive", "b", "account"}) {
    ASSERT_NO_FATAL_FAILURE(streams.Add(*store_, type, 1 + static_cast<int>(streams.all().size())));
  }
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto listed, lister_->ListStreams());
  EXPECT_EQ(Names(listed), Names(streams.all()));  // bytewise order of the id text
  EXPECT_EQ(listed, streams.all());
  // A later append moves the tip and the timestamp.
  TypeId first = streams.all()[0].stream_id;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto more, store_->AppendStream(first, Evs(2)));
  ESTORIA_ASSERT_OK_AND_ASSIGN(listed, lister_->ListStreams());
  ASSERT_FALSE(listed.empty());
  EXPECT_EQ(listed[0], (StreamInfo{first, more.back().stream_version, more.back().timestamp}));
}

TEST_P(StreamListerConformance, FiltersByTypeAndPagesWithAfterAndLimit) {
  Streams streams;
  for (int i = 0; i < 3; ++i) ASSERT_NO_FATAL_FAILURE(streams.Add(*store_, "account", 1));
  for (int i = 0; i < 2; ++i) ASSERT_NO_FATAL_FAILURE(streams.Add(*store_, "order", 1));
  ASSERT_NO_FATAL_FAILURE(streams.Add(*store_, "account_x", 1));  // a type with "account" as a prefix
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto accounts, lister_->ListStreams({"account", "", 0}));
  EXPECT_EQ(accounts, streams.OfType("account"));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto unknown, lister_->ListStreams({"nosuchtype", "", 0}));
  EXPECT_TRUE(unknown.empty());

  // Pages of two, each starting after the last id of the previous page.
  std::vector<StreamInfo> paged;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto chunk, lister_->ListStreams({"", after, 2}));
    EXPECT_LE(chunk.size(), 2u);
    if (chunk.empty()) break;
    paged.insert(paged.end(), chunk.begin(), chunk.end());
    after = chunk.back().stream_id.ToString();
  }
  EXPECT_EQ(paged, streams.all());
  // `after` is exclusive and need not name a stream; filters combine.
  const auto& all = streams.all();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto rest, lister_->ListStreams({"", all[2].stream_id.ToString(), 0}));
  EXPECT_EQ(rest, std::vector<StreamInfo>(all.begin() + 3, all.end()));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto after_all, lister_->ListStreams({"", "zzzz", 0}));
  EXPECT_TRUE(after_all.empty());
  auto orders = streams.OfType("order");
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto one_order, lister_->ListStreams({"order", "", 1}));
  EXPECT_EQ(one_order, std::vector<StreamInfo>(orders.begin(), orders.begin() + 1));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto next_order, lister_->ListStreams({"order", orders[0].stream_id.ToString(), 5}));
  EXPECT_EQ(next_order, std::vector<StreamInfo>(orders.begin() + 1, orders.end()));
}

TEST_P(StreamListerConformance, NegativeLimitIsInvalid) {
  EXPECT_THAT(lister_->ListStreams({"", "", -1}), StatusIs(StatusCode::kInvalidArgument));
}

TEST_P(StreamListerConformance, DeletedStreamsDisappearTruncatedOnesKeepTheirTip) {
  StreamDeleter* deleter = store_->stream_deleter();
  if (deleter == nullptr) GTEST_SKIP() << "no StreamDeleter capability";
  Streams streams;
  for (int i = 0; i < 3; ++i) ASSERT_NO_FATAL_FAILURE(streams.Add(*store_, "account", 3));
  const auto all = streams.all();
  ESTORIA_ASSERT_OK(deleter->DeleteStream(all[0].stream_id));
  ESTORIA_ASSERT_OK(deleter->DeleteStream(all[1].stream_id, {3}));  // truncated to empty: still exists
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto listed, lister_->ListStreams());
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].stream_id, all[1].stream_id);
  EXPECT_EQ(listed[0].version, 3);
  EXPECT_EQ(listed[1], all[2]);
}

}  // namespace
}  // namespace estoria::testing
