// Group commit: concurrent appends share transactions, and each append of a
// batch keeps its own expectation check and outcome.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "estoria/postgres/postgres_event_store.h"
#include "estoria/testing/matchers.h"
#include "pg_test_util.h"
#include "sync_point.h"

namespace estoria::postgres {
namespace {

using testing::ScopedSchema;
using testing::TestOptions;

WritableEvent Ev(std::string data = "{}") {
  WritableEvent e;
  e.type = "tested";
  e.data = std::move(data);
  return e;
}

#ifdef ESTORIA_ENABLE_SYNC_POINTS

constexpr char kBeforeCommit[] = "PostgresAppendWriter::BeforeCommit";

// A gate the writer waits on at its BeforeCommit sync point during its first
// transaction, so that the test can queue appends behind it.
struct FirstCommitGate {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false;
  bool open = false;
  int calls = 0;
  void Hook() {
    std::unique_lock<std::mutex> lock(mu);
    if (calls++ > 0) return;
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return open; });
  }
  void WaitEntered() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return entered; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu);
    open = true;
    cv.notify_all();
  }
};

// Waits until the writer has `n` appends queued (a condition, polled).
void AwaitQueued(PostgresEventStore& store, int64_t n) {
  while (store.stats().queued < n) std::this_thread::yield();
}

#endif  // ESTORIA_ENABLE_SYNC_POINTS

TEST(PostgresGroupCommitTest, ConcurrentAppendsShareTransactions) {
#ifndef ESTORIA_ENABLE_SYNC_POINTS
  GTEST_SKIP() << "built without sync points";
#else
  ScopedSchema schema("group");
  auto gate = std::make_shared<FirstCommitGate>();
  // Every transaction of the test stops at the sync point (only the first waits).
  testing_internal::ScopedSyncPointCallback hold(kBeforeCommit, [gate](void*) { gate->Hook(); });
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, PostgresEventStore::Open(TestOptions(schema.name())));

  constexpr int kThreads = 16;
  constexpr int kPerThread = 10;
  std::vector<TypeId> streams;
  for (int t = 0; t < kThreads; ++t) streams.push_back(TypeId::New("account").value());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  // The first append holds its transaction open until the other threads have
  // queued theirs; they must then be committed together.
  threads.emplace_back([&] {
    std::vector<WritableEvent> one{Ev()};
    if (!store->AppendStream(streams[0], one, AppendOptions::ExpectVersion(0))) ++failures;
  });
  gate->WaitEntered();
  for (int t = 1; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<WritableEvent> one{Ev()};
      if (!store->AppendStream(streams[t], one, AppendOptions::ExpectVersion(0))) ++failures;
    });
  }
  AwaitQueued(*store, kThreads - 1);
  gate->Open();
  for (auto& th : threads) th.join();
  threads.clear();
  auto stats = store->stats();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(stats.appends, kThreads);
  EXPECT_EQ(stats.commits, 2) << "the 15 queued appends must share one transaction";

  // Free-running: 16 threads x 10 expectation-checked appends.
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 1; i <= kPerThread; ++i) {
        std::vector<WritableEvent> one{Ev()};
        if (!store->AppendStream(streams[t], one, AppendOptions::ExpectVersion(i))) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  stats = store->stats();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(stats.appends, kThreads * (kPerThread + 1));
  EXPECT_LT(stats.commits, stats.appends);
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, store->HeadPosition());
  EXPECT_EQ(head, kThreads * (kPerThread + 1));
#endif
}

TEST(PostgresGroupCommitTest, EachAppendOfABatchKeepsItsOwnOutcome) {
#ifndef ESTORIA_ENABLE_SYNC_POINTS
  GTEST_SKIP() << "built without sync points";
#else
  ScopedSchema schema("outcome");
  auto gate = std::make_shared<FirstCommitGate>();
  // Every transaction of the test stops at the sync point (only the first waits).
  testing_internal::ScopedSyncPointCallback hold(kBeforeCommit, [gate](void*) { gate->Hook(); });
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, PostgresEventStore::Open(TestOptions(schema.name())));
  TypeId blocker = TypeId::New("other").value();
  TypeId s = TypeId::New("account").value();
  TypeId t = TypeId::New("account").value();
  Uuid reused = Uuid::NewV7();

  std::vector<std::thread> threads;
  std::vector<Result<std::vector<Event> > > results(6, Status::Internal("not run"));
  auto submit = [&](int slot, TypeId stream, AppendOptions options, std::vector<WritableEvent> events) {
    threads.emplace_back([&, slot, stream, options, events] {
      results[static_cast<size_t>(slot)] = store->AppendStream(stream, events, options);
    });
  };
  submit(0, blocker, {}, {Ev()});
  gate->WaitEntered();
  // Queued in this order behind the blocked transaction, then one batch:
  WritableEvent with_id = Ev();
  with_id.id = reused;
  submit(1, s, AppendOptions::ExpectVersion(0), {with_id});  // ok: s v1
  AwaitQueued(*store, 1);
  submit(2, s, AppendOptions::ExpectVersion(0), {Ev()});  // conflict: sees v1 from slot 1
  AwaitQueued(*store, 2);
  submit(3, t, AppendOptions::MustNotExist(), {Ev(), Ev()});  // ok: t v1..2
  AwaitQueued(*store, 3);
  submit(4, s, AppendOptions::ExpectVersion(1), {Ev()});  // ok: s v2
  AwaitQueued(*store, 4);
  submit(5, t, AppendOptions::ExpectVersion(1), {Ev()});  // conflict: t is at 2
  AwaitQueued(*store, 5);
  gate->Open();
  for (auto& th : threads) th.join();

  ESTORIA_ASSERT_OK(results[0]);
  ESTORIA_ASSERT_OK(results[1]);
  EXPECT_EQ(results[1]->front().stream_version, 1);
  EXPECT_EQ(results[1]->front().id.uuid(), reused);
  ASSERT_THAT(results[2], ::estoria::testing::StatusIs(StatusCode::kConflict));
  ASSERT_TRUE(results[2].error().conflict().has_value());
  EXPECT_EQ(results[2].error().conflict()->actual_version, 1);
  ESTORIA_ASSERT_OK(results[3]);
  EXPECT_EQ(results[3]->back().stream_version, 2);
  ESTORIA_ASSERT_OK(results[4]);
  EXPECT_EQ(results[4]->front().stream_version, 2);
  ASSERT_THAT(results[5], ::estoria::testing::StatusIs(StatusCode::kConflict));
  EXPECT_EQ(results[5].error().conflict()->actual_version, 2);
  auto stats = store->stats();
  EXPECT_EQ(stats.commits, 2);
  EXPECT_EQ(stats.conflicts, 2);
  // Positions: the batch's accepted events follow the blocker's, gap-free.
  EXPECT_EQ(results[0]->front().global_position, 1);
  EXPECT_EQ(results[1]->front().global_position, 2);
  EXPECT_EQ(results[3]->front().global_position, 3);
  EXPECT_EQ(results[4]->front().global_position, 5);
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, store->HeadPosition());
  EXPECT_EQ(head, 5);

  // Idempotent re-append of slot 1's id: AlreadyExists, nothing written.
  std::vector<WritableEvent> again{with_id};
  EXPECT_THAT(store->AppendStream(s, again, AppendOptions::ExpectVersion(0)),
              ::estoria::testing::StatusIs(StatusCode::kAlreadyExists));
  ESTORIA_ASSERT_OK_AND_ASSIGN(head, store->HeadPosition());
  EXPECT_EQ(head, 5);
#endif
}

TEST(PostgresGroupCommitTest, PredictedBatchesFallBackWhenAnotherWriterIntervenes) {
  ScopedSchema schema("predict");
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, PostgresEventStore::Open(TestOptions(schema.name())));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto b, PostgresEventStore::Open(TestOptions(schema.name())));
  TypeId s = TypeId::New("account").value();
  std::vector<WritableEvent> one{Ev()};
  // Sequential appends through `a` alone: after two quiet batches, `a`
  // decides batches from the versions it remembers (one round trip).
  for (int v = 0; v < 5; ++v) ESTORIA_ASSERT_OK(a->AppendStream(s, one, AppendOptions::ExpectVersion(v)));
  EXPECT_EQ(a->stats().mispredictions, 0);
  // Another writer moves the stream: `a`'s prediction is refused by the guard,
  // nothing is written by it, and the full path reports the real conflict.
  ESTORIA_ASSERT_OK(b->AppendStream(s, one, AppendOptions::ExpectVersion(5)));
  auto stale = a->AppendStream(s, one, AppendOptions::ExpectVersion(5));
  ASSERT_THAT(stale, ::estoria::testing::StatusIs(StatusCode::kConflict));
  EXPECT_EQ(stale.error().conflict()->actual_version, 6);
  EXPECT_EQ(a->stats().mispredictions, 1);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto ok, a->AppendStream(s, one, AppendOptions::ExpectVersion(6)));
  EXPECT_EQ(ok.front().global_position, 7);
  // A stream deleted behind the writer's back: the remembered version is
  // wrong again and the full path sees the stream gone.
  for (int v = 7; v < 10; ++v) ESTORIA_ASSERT_OK(a->AppendStream(s, one, AppendOptions::ExpectVersion(v)));
  ESTORIA_ASSERT_OK(b->DeleteStream(s));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto fresh, a->AppendStream(s, one, AppendOptions::ExpectVersion(0)));
  EXPECT_EQ(fresh.front().stream_version, 1);
  EXPECT_EQ(fresh.front().global_position, 11);
  // Caller-chosen ids already stored: the unique index refuses the predicted
  // batch and the full path reports the idempotent retry.
  for (int v = 1; v < 4; ++v) ESTORIA_ASSERT_OK(a->AppendStream(s, one, AppendOptions::ExpectVersion(v)));
  WritableEvent with_id = Ev();
  with_id.id = Uuid::NewV7();
  std::vector<WritableEvent> idem{with_id};
  ESTORIA_ASSERT_OK(a->AppendStream(s, idem, AppendOptions::ExpectVersion(4)));
  for (int v = 5; v < 8; ++v) ESTORIA_ASSERT_OK(a->AppendStream(s, one, AppendOptions::ExpectVersion(v)));
  EXPECT_THAT(a->AppendStream(s, idem, AppendOptions::ExpectVersion(2)),
              ::estoria::testing::StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(a->AppendStream(s, idem, AppendOptions::ExpectVersion(4)),
              ::estoria::testing::StatusIs(StatusCode::kAlreadyExists));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, a->HeadPosition());
  EXPECT_EQ(head, 18);
  auto it = a->ReadStream(s);
  ESTORIA_ASSERT_OK(it);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto events, Collect(**it));
  ASSERT_EQ(events.size(), 8u);
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].stream_version, static_cast<int64_t>(i) + 1);
}

// A small batch limit: the writer gathers at most max_batch_appends appends
// per transaction and every append still finishes, gap-free.
TEST(PostgresGroupCommitTest, SmallBatchLimitStillFinishesEveryAppend) {
  ScopedSchema schema("smallbatch");
  PostgresOptions o = TestOptions(schema.name());
  o.max_batch_appends = 3;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, PostgresEventStore::Open(o));
  constexpr int kThreads = 8, kPerThread = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      TypeId own = TypeId::New("account").value();
      for (int i = 0; i < kPerThread; ++i) {
        std::vector<WritableEvent> one{Ev()};
        auto r = store->AppendStream(own, one, AppendOptions::ExpectVersion(i));
        if (!r || r->front().stream_version != i + 1) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  auto stats = store->stats();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(stats.appends, kThreads * kPerThread);
  EXPECT_GE(stats.commits, kThreads * kPerThread / 3) << "a transaction held more than 3 appends";
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, store->HeadPosition());
  EXPECT_EQ(head, kThreads * kPerThread);
}

}  // namespace
}  // namespace estoria::postgres
