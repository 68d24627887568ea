// FoldStream and FoldAll on the memory backend.
#include "estoria/fold.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "estoria/memory/memory_event_store.h"
#include "estoria/testing/matchers.h"

namespace estoria {
namespace {

using estoria::testing::StatusIs;

class FoldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 1; i <= 5; ++i) Append(a_, "balancechanged", std::to_string(i));
    Append(b_, "opened", "\"bob\"");
    Append(a_, "closed", "{}");
  }
  void Append(const TypeId& stream, std::string type, std::string data) {
    std::vector<WritableEvent> e(1);
    e[0].type = std::move(type);
    e[0].data = std::move(data);
    auto r = events_->AppendStream(stream, e);
    ESTORIA_ASSERT_OK(r);
    times_.push_back(r->back().timestamp);
  }
  std::shared_ptr<estoria::memory::MemoryEventStore> events_ = estoria::memory::MemoryEventStore::Open().value();
  TypeId a_ = TypeId::New("account").value();
  TypeId b_ = TypeId::New("customer").value();
  std::vector<Timestamp> times_;
};

TEST_F(FoldTest, FoldsAStreamInOrder) {
  int64_t sum = 0;
  std::vector<int64_t> versions;
  ESTORIA_ASSERT_OK(FoldStream(*events_, a_, [&](const Event& e) {
    versions.push_back(e.stream_version);
    if (e.type() == "balancechanged") sum += std::stoll(e.data);
  }));
  EXPECT_EQ(sum, 15);
  EXPECT_EQ(versions, (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
}

TEST_F(FoldTest, BoundsLimitTheFold) {
  std::vector<int64_t> versions;
  auto collect = [&](const Event& e) { versions.push_back(e.stream_version); };
  ESTORIA_ASSERT_OK(FoldStream(*events_, a_, collect, {.after_version = 2, .to_version = 4}));
  EXPECT_EQ(versions, (std::vector<int64_t>{3, 4}));
  versions.clear();
  ESTORIA_ASSERT_OK(FoldStream(*events_, a_, collect, {.to_time = times_[1]}));
  EXPECT_GE(versions.size(), 2u);
  for (int64_t v : versions)
    EXPECT_LE(events_->ReadStream(a_, {.after_version = v - 1, .count = 1}).value()->Next().value()->timestamp,
              times_[1]);
  EXPECT_THAT(FoldStream(*events_, a_, collect, {.after_version = -1}), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(FoldTest, HandlerErrorStopsTheFold) {
  int seen = 0;
  Status st = FoldStream(*events_, a_, [&](const Event& e) -> Status {
    ++seen;
    return e.stream_version == 3 ? Status::FailedPrecondition("stop at 3") : Status::Ok();
  });
  EXPECT_THAT(st, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_EQ(seen, 3);
}

TEST_F(FoldTest, HandlerExceptionIsInternal) {
  Status st = FoldStream(*events_, a_, [](const Event&) { throw std::runtime_error("boom"); });
  EXPECT_THAT(st, StatusIs(StatusCode::kInternal));
  EXPECT_NE(st.message().find("boom"), std::string::npos);
  EXPECT_THAT(FoldAll(*events_, [](const Event&) { throw 42; }), StatusIs(StatusCode::kInternal));
}

TEST_F(FoldTest, MissingStreamIsNotFound) {
  EXPECT_THAT(FoldStream(*events_, TypeId::New("account").value(), [](const Event&) {}),
              StatusIs(StatusCode::kNotFound));
}

TEST_F(FoldTest, FoldsARangeOfTheGlobalLog) {
  std::vector<int64_t> positions;
  ESTORIA_ASSERT_OK(FoldAll(*events_, [&](const Event& e) { positions.push_back(e.global_position); }));
  EXPECT_EQ(positions, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7}));
  positions.clear();
  ReadAllOptions opts;
  opts.after_position = 2;
  opts.event_types = {"balancechanged", "opened"};
  ESTORIA_ASSERT_OK(FoldAll(
      *events_, [&](const Event& e) { positions.push_back(e.global_position); }, opts));
  EXPECT_EQ(positions, (std::vector<int64_t>{3, 4, 5, 6}));
  opts = {};
  opts.after_position = -1;
  EXPECT_THAT(FoldAll(
                  *events_, [](const Event&) {}, opts),
              StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace estoria
