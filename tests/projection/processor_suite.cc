#include "processor_suite.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "estoria/checkpoint_store.h"
#include "estoria/memory/memory_stores.h"
#include "estoria/testing/matchers.h"
#include "projection_test_util.h"

namespace estoria::testing {

using namespace std::chrono_literals;

void ProcessorSuite::SetUp() {
  auto opened = GetParam().open();
  if (opened.error().IsNotSupported()) GTEST_SKIP() << opened.error();
  ASSERT_TRUE(opened.ok()) << opened.error();
  store_ = *opened;
}

namespace {

std::vector<int64_t> Range(int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (int64_t i = from; i <= to; ++i) out.push_back(i);
  return out;
}

}  // namespace

TEST_P(ProcessorSuite, ReplaysCatchesUpAndTails) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t history, AppendEvents(*store_, 300));
  auto recorder = std::make_shared<Recorder>();
  auto checkpoints = estoria::memory::MemoryCheckpointStore::Open().value();
  auto sink = MemoryDeadLetterSink([recorder](const Event& e) { return recorder->Handle(e); }, checkpoints);
  ProcessorOptions options{.name = "suite_tail", .batch_size = 32, .poll_interval = 5s};
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto processor, Processor::Create(store_, sink, options));
  ESTORIA_ASSERT_OK(processor->Start());
  ESTORIA_ASSERT_OK(processor->WaitForPosition(history, 30s));
  EXPECT_EQ(recorder->positions(), Range(1, history));

  // Tail: appends through the same store object wake the processor (the poll
  // interval is 5 s; the wait would time out without the push).
  std::atomic<int64_t> last{0};
  std::thread writer([&] {
    auto r = AppendEvents(*store_, 40);
    last = r.ok() ? *r : -1;
  });
  writer.join();
  ASSERT_GT(last.load(), history);
  ESTORIA_ASSERT_OK(processor->WaitForPosition(last, 4s));
  ESTORIA_ASSERT_OK(processor->WaitUntilCaughtUp(4s));
  ProcessorState st = processor->state();
  EXPECT_EQ(st.position, last.load());
  EXPECT_EQ(st.events_handled, last.load());
  EXPECT_EQ(st.lag_events, 0);
  ESTORIA_EXPECT_OK(st.last_error);
  EXPECT_EQ(recorder->positions(), Range(1, last));
  ESTORIA_ASSERT_OK(processor->Stop());
  EXPECT_EQ(processor->state().phase, ProcessorPhase::kStopped);
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t saved, checkpoints->Load("suite_tail"));
  EXPECT_EQ(saved, last.load());
}

TEST_P(ProcessorSuite, ResumesFromItsCheckpoint) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t first, AppendEvents(*store_, 50));
  auto checkpoints = estoria::memory::MemoryCheckpointStore::Open().value();
  auto recorder = std::make_shared<Recorder>();
  auto handler = [recorder](const Event& e) { return recorder->Handle(e); };
  ProcessorOptions options{.name = "suite_resume", .batch_size = 16};
  {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto p,
                                 Processor::Create(store_, MemoryDeadLetterSink(handler, checkpoints), options));
    ESTORIA_ASSERT_OK(p->Start());
    ESTORIA_ASSERT_OK(p->WaitForPosition(first, 30s));
    ESTORIA_ASSERT_OK(p->Stop());
  }
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t second, AppendEvents(*store_, 20));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto p, Processor::Create(store_, MemoryDeadLetterSink(handler, checkpoints), options));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK(p->WaitForPosition(second, 30s));
  ESTORIA_ASSERT_OK(p->Stop());
  EXPECT_EQ(recorder->positions(), Range(1, second));  // nothing twice: the checkpoint was saved on stop
}

TEST_P(ProcessorSuite, HandlerThatFailsOnceIsRetried) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t last, AppendEvents(*store_, 20));
  auto recorder = std::make_shared<Recorder>();
  std::atomic<int> calls_at_7{0};
  auto handler = [&](const Event& e) -> Status {
    if (e.global_position == 7 && calls_at_7++ == 0) return Status::Unavailable("downstream busy");
    return recorder->Handle(e);
  };
  ProcessorOptions options{.name = "suite_retry", .failure_policy = FailurePolicy::Retry(3, 10ms)};
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto p, Processor::Create(store_, MemoryDeadLetterSink(handler), options));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK(p->WaitForPosition(last, 30s));
  ProcessorState st = p->state();
  ESTORIA_ASSERT_OK(p->Stop());
  EXPECT_EQ(calls_at_7.load(), 2);
  EXPECT_EQ(st.retries, 1);
  EXPECT_THAT(st.last_error, StatusIs(StatusCode::kUnavailable));
  EXPECT_EQ(recorder->positions(), Range(1, last));
}

TEST_P(ProcessorSuite, ParkedEventIsListedAndReplayed) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t last, AppendEvents(*store_, 12));
  auto recorder = std::make_shared<Recorder>();
  std::atomic<bool> broken{true};
  auto handler = [&](const Event& e) -> Status {
    if (e.global_position == 5 && broken) throw std::runtime_error("cannot handle 5");
    return recorder->Handle(e);
  };
  auto dead_letters = estoria::memory::MemoryDeadLetterStore::Open().value();
  ProcessorOptions options{.name = "suite_park", .failure_policy = FailurePolicy::Park(2, 1ms)};
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto p, Processor::Create(store_,
                                std::make_shared<HandlerSink>(
                                    handler, estoria::memory::MemoryCheckpointStore::Open().value(), dead_letters),
                                options));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK(p->WaitForPosition(last, 30s));
  EXPECT_EQ(p->state().events_parked, 1);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto parked, p->ListParked());
  ASSERT_EQ(parked.size(), 1u);
  EXPECT_EQ(parked[0].event.global_position, 5);
  EXPECT_EQ(parked[0].attempts, 2);
  EXPECT_NE(parked[0].error.find("cannot handle 5"), std::string::npos);
  EXPECT_NE(parked[0].error.find("Internal"), std::string::npos);
  std::vector<int64_t> expected = Range(1, last);
  expected.erase(expected.begin() + 4);
  EXPECT_EQ(recorder->positions(), expected);

  EXPECT_THAT(p->ReplayParked(5), StatusIs(StatusCode::kInternal));  // still broken: stays parked
  ESTORIA_ASSERT_OK_AND_ASSIGN(parked, p->ListParked());
  EXPECT_EQ(parked.size(), 1u);
  broken = false;
  ESTORIA_ASSERT_OK(p->ReplayParked(5));
  ESTORIA_ASSERT_OK_AND_ASSIGN(parked, p->ListParked());
  EXPECT_TRUE(parked.empty());
  EXPECT_EQ(recorder->positions().back(), 5);
  EXPECT_THAT(p->ReplayParked(5), StatusIs(StatusCode::kNotFound));
  ESTORIA_ASSERT_OK(p->Stop());
}

TEST_P(ProcessorSuite, PollsForWritesFromAnotherHandle) {
  if (!GetParam().open_again) GTEST_SKIP() << "backend has a single handle";
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto other, GetParam().open_again());
  auto recorder = std::make_shared<Recorder>();
  ProcessorOptions options{.name = "suite_poll", .poll_interval = 50ms};
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto p, Processor::Create(
                  store_, MemoryDeadLetterSink([recorder](const Event& e) { return recorder->Handle(e); }), options));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t last, AppendEvents(*other, 10));
  ESTORIA_ASSERT_OK(p->WaitForPosition(last, 30s));
  EXPECT_EQ(recorder->positions(), Range(1, last));
  ESTORIA_ASSERT_OK(p->Stop());
}

}  // namespace estoria::testing
