// GlobalReaderConformance: ReadAll order, resume, filters, finite frontier and
// stable prefix (design §2).
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "conformance_util.h"
#include "estoria/testing/conformance.h"

namespace estoria::testing {

int kGlobalReaderSuiteAnchor = 0;  // see LinkConformanceSuites

using internal::Positions;

namespace {

TEST_P(GlobalReaderConformance, EmptyStore) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, ReadAllEvents(*global_));
  EXPECT_TRUE(all.empty());
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, global_->HeadPosition());
  EXPECT_EQ(head, 0);
}

TEST_P(GlobalReaderConformance, OrderIsGapFreeAndMatchesStreamReads) {
  TypeId a = NewStream("alpha"), b = NewStream("beta"), c = NewStream("gamma");
  for (int round = 0; round < 4; ++round) {
    ESTORIA_ASSERT_OK(store_->AppendStream(a, Evs(2)));
    ESTORIA_ASSERT_OK(store_->AppendStream(b, Evs(1)));
    ESTORIA_ASSERT_OK(store_->AppendStream(c, Evs(3)));
  }
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, ReadAllEvents(*global_));
  ASSERT_EQ(all.size(), 24u);
  EXPECT_EQ(all.front().global_position, 1);
  for (size_t i = 1; i < all.size(); ++i) ASSERT_EQ(all[i].global_position, all[i - 1].global_position + 1);
  // Every event equals what its stream read returns.
  std::map<int64_t, Event> by_position;
  for (const TypeId& s : {a, b, c}) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto events, ReadStreamAll(*store_, s));
    for (auto& e : events) by_position[e.global_position] = e;
  }
  ASSERT_EQ(by_position.size(), all.size());
  for (const auto& e : all) EXPECT_EQ(by_position[e.global_position], e);
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, global_->HeadPosition());
  EXPECT_EQ(head, all.back().global_position);
}

TEST_P(GlobalReaderConformance, ResumeAfterPositionAndCount) {
  TypeId s = NewStream();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto appended, store_->AppendStream(s, Evs(10)));
  int64_t p0 = appended[0].global_position;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto after, ReadAllEvents(*global_, {p0 + 6, 0, {}, {}}));
  EXPECT_EQ(Positions(after), (std::vector<int64_t>{p0 + 7, p0 + 8, p0 + 9}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto counted, ReadAllEvents(*global_, {p0, 2, {}, {}}));
  EXPECT_EQ(Positions(counted), (std::vector<int64_t>{p0 + 1, p0 + 2}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto past, ReadAllEvents(*global_, {p0 + 100, 0, {}, {}}));
  EXPECT_TRUE(past.empty());
  EXPECT_THAT(global_->ReadAll({-1, 0, {}, {}}), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(global_->ReadAll({0, -1, {}, {}}), StatusIs(StatusCode::kInvalidArgument));
}

TEST_P(GlobalReaderConformance, FiltersByStreamTypeAndEventType) {
  TypeId acc = NewStream("account"), ord = NewStream("order"), usr = NewStream("user");
  ESTORIA_ASSERT_OK(
      store_->AppendStream(acc, std::vector<WritableEvent>{Ev("opened"), Ev("deposited"), Ev("deposited")}));
  ESTORIA_ASSERT_OK(store_->AppendStream(ord, std::vector<WritableEvent>{Ev("placed"), Ev("deposited")}));
  ESTORIA_ASSERT_OK(store_->AppendStream(usr, std::vector<WritableEvent>{Ev("registered")}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto accounts, ReadAllEvents(*global_, {0, 0, {"account"}, {}}));
  EXPECT_EQ(accounts.size(), 3u);
  for (const auto& e : accounts) EXPECT_EQ(e.stream_id, acc);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto two_types, ReadAllEvents(*global_, {0, 0, {"account", "user"}, {}}));
  EXPECT_EQ(two_types.size(), 4u);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto deposits, ReadAllEvents(*global_, {0, 0, {}, {"deposited"}}));
  EXPECT_EQ(deposits.size(), 3u);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto both, ReadAllEvents(*global_, {0, 0, {"order"}, {"deposited", "placed"}}));
  EXPECT_EQ(both.size(), 2u);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto none, ReadAllEvents(*global_, {0, 0, {"nothing"}, {}}));
  EXPECT_TRUE(none.empty());
  // count applies after filtering.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto first_deposit, ReadAllEvents(*global_, {0, 1, {}, {"deposited"}}));
  ASSERT_EQ(first_deposit.size(), 1u);
  EXPECT_EQ(first_deposit[0].stream_id, acc);
  EXPECT_EQ(first_deposit[0].stream_version, 2);
  EXPECT_THAT(global_->ReadAll({0, 0, {"Bad Type"}, {}}), StatusIs(StatusCode::kInvalidArgument));
}

TEST_P(GlobalReaderConformance, FrontierIsFixedWhenReadAllReturns) {
  TypeId s = NewStream();
  for (int i = 0; i < 3; ++i) ESTORIA_ASSERT_OK(store_->AppendStream(s, Evs(300)));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto it, global_->ReadAll());
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto first, it->Next());
  ASSERT_TRUE(first.has_value());
  ESTORIA_ASSERT_OK(store_->AppendStream(s, Evs(50)));
  ESTORIA_ASSERT_OK(store_->AppendStream(NewStream(), Evs(50)));
  size_t n = 1;
  for (;;) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto next, it->Next());
    if (!next.has_value()) break;
    ++n;
  }
  EXPECT_EQ(n, 900u);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, ReadAllEvents(*global_));
  EXPECT_EQ(all.size(), 1000u);
}

TEST_P(GlobalReaderConformance, StablePrefixWhileAppendsRace) {
  constexpr int kWriters = 4, kAppendsPerWriter = 60;
  std::atomic<int> done_writers{0};
  std::vector<std::thread> writers;
  std::atomic<bool> failed{false};
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&] {
      TypeId s = NewStream("race");
      for (int i = 0; i < kAppendsPerWriter; ++i) {
        if (!store_->AppendStream(s, Evs(1 + i % 3)).has_value()) failed = true;
      }
      ++done_writers;
    });
  }
  // The reader resumes after the last position it saw, like a projection.
  int64_t last = 0;
  std::set<int64_t> seen;
  bool violated = false;
  for (;;) {
    bool writers_done = done_writers.load() == kWriters;
    auto it = global_->ReadAll({last, 0, {}, {}});
    ASSERT_TRUE(it.has_value()) << it.error();
    for (;;) {
      auto next = (*it)->Next();
      ASSERT_TRUE(next.has_value()) << next.error();
      if (!next->has_value()) break;
      int64_t p = (*next)->global_position;
      if (p <= last) violated = true;
      last = p;
      seen.insert(p);
    }
    if (writers_done) break;
  }
  for (auto& t : writers) t.join();
  EXPECT_FALSE(failed);
  EXPECT_FALSE(violated) << "ReadAll yielded a position at or below one already yielded";
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, ReadAllEvents(*global_));
  EXPECT_EQ(seen.size(), all.size()) << "a resuming reader missed events";
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.back().global_position - all.front().global_position + 1, static_cast<int64_t>(all.size()));
}

}  // namespace
}  // namespace estoria::testing
