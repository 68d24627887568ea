// Processor on the memory backend: the shared suite plus the lifecycle,
// failure-policy, filter, lock and versioning behaviour.
#include "estoria/projection/processor.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "estoria/memory/memory_event_store.h"
#include "estoria/memory/memory_stores.h"
#include "estoria/projection/versioning.h"
#include "estoria/projection/wait.h"
#include "estoria/testing/matchers.h"
#include "processor_suite.h"
#include "projection_test_util.h"

namespace estoria::testing {
namespace {

using namespace std::chrono_literals;

INSTANTIATE_TEST_SUITE_P(Memory, ProcessorSuite,
                         ::testing::Values(ProcessorBackend{"memory",
                                                            []() -> Result<std::shared_ptr<EventStore>> {
                                                              return estoria::memory::MemoryEventStore::Open().value();
                                                            },
                                                            nullptr}),
                         [](const auto& info) { return info.param.name; });

// A store exposing only a GlobalReader (no AppendWatcher): the processor must poll.
class NoWatcherStore : public EventStore, public GlobalReader {
 public:
  explicit NoWatcherStore(std::shared_ptr<estoria::memory::MemoryEventStore> inner) : inner_(std::move(inner)) {}
  Result<std::vector<Event>> AppendStream(const TypeId& id, std::span<const WritableEvent> events,
                                          const AppendOptions& options) override {
    return inner_->AppendStream(id, events, options);
  }
  Result<std::unique_ptr<EventIterator>> ReadStream(const TypeId& id, const ReadStreamOptions& options) override {
    return inner_->ReadStream(id, options);
  }
  Result<std::unique_ptr<EventIterator>> ReadAll(const ReadAllOptions& options) override {
    return inner_->ReadAll(options);
  }
  Result<int64_t> HeadPosition() override { return inner_->HeadPosition(); }
  GlobalReader* global_reader() override { return this; }

 private:
  std::shared_ptr<estoria::memory::MemoryEventStore> inner_;
};

std::shared_ptr<HandlerSink> RecordingSink(
    std::shared_ptr<Recorder> recorder,
    std::shared_ptr<CheckpointStore> checkpoints = estoria::memory::MemoryCheckpointStore::Open().value()) {
  return MemoryDeadLetterSink([recorder](const Event& e) { return recorder->Handle(e); }, std::move(checkpoints));
}

TEST(ProcessorTest, CreateValidatesOptions) {
  auto store = estoria::memory::MemoryEventStore::Open().value();
  auto sink = RecordingSink(std::make_shared<Recorder>());
  EXPECT_THAT(Processor::Create(nullptr, sink, {.name = "p"}), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Processor::Create(store, nullptr, {.name = "p"}), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Processor::Create(store, sink, {}), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Processor::Create(store, sink, {.name = "p", .batch_size = 0}), StatusIs(StatusCode::kInvalidArgument));
  ProcessorOptions bad{.name = "p"};
  bad.failure_policy.max_attempts = 0;
  EXPECT_THAT(Processor::Create(store, sink, bad), StatusIs(StatusCode::kInvalidArgument));
}

TEST(ProcessorTest, StartTwiceIsFailedPreconditionAndRestartWorks) {
  auto store = estoria::memory::MemoryEventStore::Open().value();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto p,
                               Processor::Create(store, RecordingSink(std::make_shared<Recorder>()), {.name = "p"}));
  EXPECT_EQ(p->state().phase, ProcessorPhase::kIdle);
  ESTORIA_ASSERT_OK(p->Start());
  EXPECT_THAT(p->Start(), StatusIs(StatusCode::kFailedPrecondition));
  ESTORIA_ASSERT_OK(p->Stop());
  ESTORIA_ASSERT_OK(p->Stop());  // idempotent
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t last, AppendEvents(*store, 3));
  ESTORIA_ASSERT_OK(p->WaitForPosition(last, 10s));
  ESTORIA_ASSERT_OK(p->Stop());
}

TEST(ProcessorTest, StopInterruptsALongTailWait) {
  auto store = estoria::memory::MemoryEventStore::Open().value();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto p, Processor::Create(store, RecordingSink(std::make_shared<Recorder>()),
                                                         {.name = "p", .poll_interval = 1h}));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK(p->WaitUntilCaughtUp(10s));
  EXPECT_EQ(p->state().phase, ProcessorPhase::kTailing);
  auto started = std::chrono::steady_clock::now();
  ESTORIA_ASSERT_OK(p->Stop());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);  // not the 1 h poll interval
  EXPECT_EQ(p->state().phase, ProcessorPhase::kStopped);
}

TEST(ProcessorTest, StopInterruptsARetryBackoff) {
  auto store = estoria::memory::MemoryEventStore::Open().value();
  ESTORIA_ASSERT_OK(AppendEvents(*store, 1).error());
  std::atomic<int> calls{0};
  auto sink = MemoryDeadLetterSink([&](const Event&) {
    ++calls;
    return Status::Unavailable("down");
  });
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto p, Processor::Create(store, sink, {.name = "p", .failure_policy = FailurePolicy::Retry(100, 1h)}));
  ESTORIA_ASSERT_OK(p->Start());
  while (p->state().retries == 0) std::this_thread::yield();
  auto started = std::chrono::steady_clock::now();
  ESTORIA_ASSERT_OK(p->Stop());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(p->state().position, 0);
}

TEST(ProcessorTest, StopPolicyStopsAtTheFailingEvent) {
  auto store = estoria::memory::MemoryEventStore::Open().value();
  ESTORIA_ASSERT_OK(AppendEvents(*store, 10).error());
  auto checkpoints = estoria::memory::MemoryCheckpointStore::Open().value();
  auto recorder = std::make_shared<Recorder>();
  auto sink = MemoryDeadLetterSink(
      [&](const Event& e) -> Status {
        if (e.global_position == 6) return Status::InvalidArgument("bad event");
        return recorder->Handle(e);
      },
      checkpoints);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto p, Processor::Create(store, sink, {.name = "p"}));
  ESTORIA_ASSERT_OK(p->Start());
  EXPECT_THAT(p->WaitForExit(30s), StatusIs(StatusCode::kInvalidArgument));
  ProcessorState st = p->state();
  EXPECT_EQ(st.phase, ProcessorPhase::kFailed);
  EXPECT_EQ(st.position, 5);
  EXPECT_EQ(st.checkpoint, 5);
  EXPECT_THAT(st.last_error, StatusIs(StatusCode::kInvalidArgument));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t saved, checkpoints->Load("p"));
  EXPECT_EQ(saved, 5);
  EXPECT_THAT(p->WaitForPosition(6, 1s), StatusIs(StatusCode::kFailedPrecondition));
}

TEST(ProcessorTest, HandlerExceptionBecomesInternal) {
  auto store = estoria::memory::MemoryEventStore::Open().value();
  ESTORIA_ASSERT_OK(AppendEvents(*store, 2).error());
  auto sink = MemoryDeadLetterSink([](const Event&) -> Status { throw 42; });
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto p, Processor::Create(store, sink, {.name = "p"}));
  ESTORIA_ASSERT_OK(p->Start());
  EXPECT_THAT(p->WaitForExit(30s), StatusIs(StatusCode::kInternal));
  EXPECT_EQ(p->state().position, 0);
}

TEST(ProcessorTest, RetryExhaustedStops) {
  auto store = estoria::memory::MemoryEventStore::Open().value();
  ESTORIA_ASSERT_OK(AppendEvents(*store, 2).error());
  std::atomic<int> calls{0};
  auto sink = MemoryDeadLetterSink([&](const Event&) {
    ++calls;
    return Status::Unavailable("down");
  });
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto p, Processor::Create(store, sink, {.name = "p", .failure_policy = FailurePolicy::Retry(3, 1ms)}));
  ESTORIA_ASSERT_OK(p->Start());
  EXPECT_THAT(p->WaitForExit(30s), StatusIs(StatusCode::kUnavailable));
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(p->state().retries, 2);
}

TEST(ProcessorTest, CheckpointIsSavedEveryNEvents) {
  auto store = estoria::memory::MemoryEventStore::Open().value();
  auto checkpoints = estoria::memory::MemoryCheckpointStore::Open().value();
  std::mutex mu;
  std::vector<int64_t> saved_while_handling;
  auto sink = MemoryDeadLetterSink(
      [&](const Event&) {
        std::lock_guard<std::mutex> lock(mu);
        saved_while_handling.push_back(checkpoints->Load("p").value_or(-1));
        return Status::Ok();
      },
      checkpoints);
  ESTORIA_ASSERT_OK(AppendEvents(*store, 25).error());
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto p,
      Processor::Create(store, sink,
                        {.name = "p", .batch_size = 5, .checkpoint_every_events = 10, .checkpoint_interval = 1h}));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK(p->WaitForPosition(25, 30s));
  ESTORIA_ASSERT_OK(p->Stop());
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(saved_while_handling.size(), 25u);
  EXPECT_EQ(saved_while_handling[9], 0);    // the 10th event: nothing saved yet
  EXPECT_EQ(saved_while_handling[10], 10);  // saved after 10 events (end of batch 2)
  EXPECT_EQ(saved_while_handling[20], 20);
  EXPECT_EQ(checkpoints->Load("p").value(), 25);  // and on stop
}

TEST(ProcessorTest, CheckpointIsSavedAfterTheIntervalWhileTailing) {
  auto store = estoria::memory::MemoryEventStore::Open().value();
  auto checkpoints = estoria::memory::MemoryCheckpointStore::Open().value();
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto p, Processor::Create(
                  store, RecordingSink(std::make_shared<Recorder>(), checkpoints),
                  {.name = "p", .checkpoint_every_events = 1000, .checkpoint_interval = 20ms, .poll_interval = 1h}));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t last, AppendEvents(*store, 3));
  ESTORIA_ASSERT_OK(WaitForCheckpoint(*checkpoints, "p", last, 30s));
  ESTORIA_ASSERT_OK(p->Stop());
}

TEST(ProcessorTest, FiltersStillAdvanceThePosition) {
  auto store = estoria::memory::MemoryEventStore::Open().value();
  ESTORIA_ASSERT_OK(AppendEvents(*store, 5).error());
  WritableEvent other;
  other.type = "renamed";
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto appended, store->AppendStream(TypeId("counter", Uuid::NewV7()), {&other, 1}));
  ESTORIA_ASSERT_OK(AppendEvents(*store, 3).error());
  auto recorder = std::make_shared<Recorder>();
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto p, Processor::Create(store, RecordingSink(recorder), {.name = "p", .event_types = {"renamed"}}));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK(p->WaitForPosition(9, 30s));  // the head, though the last matching event is 6
  EXPECT_EQ(recorder->positions(), std::vector<int64_t>{appended[0].global_position});
  ESTORIA_ASSERT_OK(p->Stop());
  EXPECT_EQ(p->state().checkpoint, 9);
}

TEST(ProcessorTest, TailsByPollingWithoutAWatcher) {
  auto inner = estoria::memory::MemoryEventStore::Open().value();
  auto store = std::make_shared<NoWatcherStore>(inner);
  auto recorder = std::make_shared<Recorder>();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto p,
                               Processor::Create(store, RecordingSink(recorder), {.name = "p", .poll_interval = 10ms}));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK(p->WaitUntilCaughtUp(10s));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t last, AppendEvents(*store, 7));
  ESTORIA_ASSERT_OK(p->WaitForPosition(last, 30s));
  EXPECT_EQ(recorder->positions().size(), 7u);
  ESTORIA_ASSERT_OK(p->Stop());
}

TEST(ProcessorTest, WaitForPositionTimesOutWithUnavailable) {
  auto store = estoria::memory::MemoryEventStore::Open().value();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto p,
                               Processor::Create(store, RecordingSink(std::make_shared<Recorder>()), {.name = "p"}));
  ESTORIA_ASSERT_OK(p->Start());
  Status s = p->WaitForPosition(100, 30ms);
  EXPECT_THAT(s, StatusIs(StatusCode::kUnavailable));
  EXPECT_EQ(s.message().rfind("timeout", 0), 0u);
  ESTORIA_ASSERT_OK(p->Stop());
}

TEST(ProcessorTest, LagIsReportedWhileBehind) {
  auto store = estoria::memory::MemoryEventStore::Open().value();
  ESTORIA_ASSERT_OK(AppendEvents(*store, 10).error());
  std::mutex gate;
  std::unique_lock<std::mutex> closed(gate);
  auto sink = MemoryDeadLetterSink([&](const Event&) {
    std::lock_guard<std::mutex> lock(gate);  // blocks until the test opens the gate
    return Status::Ok();
  });
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto p, Processor::Create(store, sink, {.name = "p"}));
  ESTORIA_ASSERT_OK(p->Start());
  while (p->state().head_position == 0) std::this_thread::yield();
  std::this_thread::sleep_for(2ms);  // let the events age (the lag is measured, not waited on)
  ProcessorState st = p->state();
  EXPECT_FALSE(st.caught_up);
  EXPECT_EQ(st.lag_events, 10);
  EXPECT_GT(st.lag_time.count(), 0);
  closed.unlock();
  ESTORIA_ASSERT_OK(p->WaitForPosition(10, 30s));
  ESTORIA_ASSERT_OK(p->WaitUntilCaughtUp(30s));
  ESTORIA_ASSERT_OK(p->Stop());
  st = p->state();
  EXPECT_EQ(st.lag_events, 0);
  EXPECT_EQ(st.lag_time.count(), 0);
}

// A lock held by one owner at a time within the process.
class TestLock : public ProjectionLock {
 public:
  explicit TestLock(std::shared_ptr<std::atomic<int>> owner, int me) : owner_(std::move(owner)), me_(me) {}
  Result<bool> TryAcquire(std::string_view) override {
    int free = 0;
    return owner_->compare_exchange_strong(free, me_) || free == me_;
  }
  Result<bool> Renew(std::string_view) override { return owner_->load() == me_; }
  void Release(std::string_view) override {
    int mine = me_;
    owner_->compare_exchange_strong(mine, 0);
  }
  std::chrono::milliseconds renew_interval() const override { return 5ms; }

 private:
  std::shared_ptr<std::atomic<int>> owner_;
  int me_;
};

TEST(ProcessorTest, OnlyTheLockHolderProcesses) {
  auto store = estoria::memory::MemoryEventStore::Open().value();
  auto owner = std::make_shared<std::atomic<int>>(0);
  auto checkpoints = estoria::memory::MemoryCheckpointStore::Open().value();
  auto a_rec = std::make_shared<Recorder>();
  auto b_rec = std::make_shared<Recorder>();
  ProcessorOptions a_opt{.name = "p",
                         .checkpoint_every_events = 1,
                         .lock = std::make_shared<TestLock>(owner, 1),
                         .lock_retry_interval = 5ms};
  ProcessorOptions b_opt = a_opt;
  b_opt.lock = std::make_shared<TestLock>(owner, 2);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, Processor::Create(store, RecordingSink(a_rec, checkpoints), a_opt));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto b, Processor::Create(store, RecordingSink(b_rec, checkpoints), b_opt));
  ESTORIA_ASSERT_OK(a->Start());
  ESTORIA_ASSERT_OK(a->WaitUntilCaughtUp(10s));
  ESTORIA_ASSERT_OK(b->Start());
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t first, AppendEvents(*store, 10));
  ESTORIA_ASSERT_OK(a->WaitForPosition(first, 30s));
  EXPECT_EQ(b->state().phase, ProcessorPhase::kStandby);
  EXPECT_FALSE(b->state().active);
  ESTORIA_ASSERT_OK(a->Stop());  // releases the lock: b takes over from the checkpoint
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t second, AppendEvents(*store, 5));
  ESTORIA_ASSERT_OK(b->WaitForPosition(second, 30s));
  EXPECT_EQ(a_rec->positions().size(), 10u);
  EXPECT_EQ(b_rec->positions(), (std::vector<int64_t>{11, 12, 13, 14, 15}));
  ESTORIA_ASSERT_OK(b->Stop());
}

// A lock that does not fence the checkpoint store: a former holder whose
// session died may save an older checkpoint after the new holder saved its
// own. The active processor must put its checkpoint back (at its next renew),
// or read-your-writes waits on the checkpoint would never finish.
TEST(ProcessorTest, ActiveHolderRestoresACheckpointALateFormerHolderLowered) {
  auto store = estoria::memory::MemoryEventStore::Open().value();
  auto owner = std::make_shared<std::atomic<int>>(0);
  auto checkpoints = estoria::memory::MemoryCheckpointStore::Open().value();
  ProcessorOptions o{.name = "p",
                     .checkpoint_every_events = 1,
                     .poll_interval = 1h,
                     .lock = std::make_shared<TestLock>(owner, 1),
                     .lock_retry_interval = 5ms};
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto p,
                               Processor::Create(store, RecordingSink(std::make_shared<Recorder>(), checkpoints), o));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t last, AppendEvents(*store, 10));
  ESTORIA_ASSERT_OK(WaitForCheckpoint(*checkpoints, "p", last, 30s));
  ESTORIA_ASSERT_OK(checkpoints->Save("p", last - 3));  // the late save of a former holder
  ESTORIA_ASSERT_OK(WaitForCheckpoint(*checkpoints, "p", last, 30s));
  EXPECT_EQ(p->state().position, last);
  ESTORIA_ASSERT_OK(p->Stop());
  EXPECT_EQ(checkpoints->Load("p").value(), last);
}

TEST(ProcessorTest, StopInterruptsAStandbyWait) {
  auto store = estoria::memory::MemoryEventStore::Open().value();
  auto owner = std::make_shared<std::atomic<int>>(99);  // held by someone else forever
  ProcessorOptions o{.name = "p", .lock = std::make_shared<TestLock>(owner, 1), .lock_retry_interval = 1h};
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto p, Processor::Create(store, RecordingSink(std::make_shared<Recorder>()), o));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK(AppendEvents(*store, 3).error());
  EXPECT_THAT(p->WaitForPosition(3, 50ms), StatusIs(StatusCode::kUnavailable));
  EXPECT_EQ(p->state().phase, ProcessorPhase::kStandby);
  auto started = std::chrono::steady_clock::now();
  ESTORIA_ASSERT_OK(p->Stop());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);  // not the 1 h retry interval
  EXPECT_EQ(p->state().position, 0);
}

TEST(VersioningTest, NamesAndCutOver) {
  EXPECT_EQ(VersionedName("balances", 2).value(), "balances_v2");
  EXPECT_EQ(VersionedTable("account_view", 1).value(), "account_view_v1");
  EXPECT_THAT(VersionedName("Bad-Name", 1), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(VersionedName("ok", 0), StatusIs(StatusCode::kInvalidArgument));
  auto store = estoria::memory::MemoryEventStore::Open().value();
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, AppendEvents(*store, 4));
  auto registry = estoria::memory::MemoryVersionRegistry::Open().value();
  EXPECT_THAT(registry->ActiveVersion("balances"), StatusIs(StatusCode::kNotFound));
  ESTORIA_ASSERT_OK(registry->SetActiveVersion("balances", 1));
  EXPECT_THAT(CutOver(*registry, *store, "balances", 2, head - 1), StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_EQ(registry->ActiveVersion("balances").value(), 1);
  ESTORIA_ASSERT_OK(CutOver(*registry, *store, "balances", 2, head));
  EXPECT_EQ(registry->ActiveVersion("balances").value(), 2);
}

TEST(DeadLetterStoreTest, MemoryStoreParksListsAndDiscards) {
  auto store = estoria::memory::MemoryDeadLetterStore::Open().value();
  Event e;
  e.global_position = 3;
  EXPECT_THAT(store->Park({"", e, "x", 1, Now()}), StatusIs(StatusCode::kInvalidArgument));
  ESTORIA_ASSERT_OK(store->Park({"a", e, "x", 1, Now()}));
  e.global_position = 1;
  ESTORIA_ASSERT_OK(store->Park({"a", e, "y", 2, Now()}));
  ESTORIA_ASSERT_OK(store->Park({"b", e, "z", 1, Now()}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto listed, store->List("a"));
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].event.global_position, 1);
  EXPECT_EQ(listed[1].error, "x");
  ESTORIA_ASSERT_OK(store->Discard("a", 3));
  EXPECT_THAT(store->Discard("a", 3), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store->Get("a", 3), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(store->Get("a", 1).value().attempts, 2);
}

}  // namespace
}  // namespace estoria::testing
