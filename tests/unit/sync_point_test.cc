// SyncPoint (src/core/sync_point.h): the registry behind ESTORIA_TEST_SYNC_POINT,
// and the macros compiling away in builds without ESTORIA_ENABLE_SYNC_POINTS.
#include "sync_point.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace estoria::testing_internal {
namespace {

#ifdef ESTORIA_ENABLE_SYNC_POINTS

// Every test clears the registry on both ends: it is process-wide.
class SyncPointTest : public ::testing::Test {
 protected:
  void SetUp() override { SyncPoint::Get()->ClearAll(); }
  void TearDown() override { SyncPoint::Get()->ClearAll(); }
};

TEST_F(SyncPointTest, CallbackRunsWithTheArgument) {
  int seen = 0;
  void* got = nullptr;
  SyncPoint::Get()->SetCallback("Test::Point", [&](void* arg) {
    ++seen;
    got = arg;
  });
  int value = 42;
  ESTORIA_TEST_SYNC_POINT_CALLBACK("Test::Point", &value);
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(got, &value);
  ESTORIA_TEST_SYNC_POINT("Test::Point");
  EXPECT_EQ(seen, 2);
  EXPECT_EQ(got, nullptr);
  // The callback may write through the argument, e.g. to inject a value.
  SyncPoint::Get()->SetCallback("Test::Point", [](void* arg) { *static_cast<int*>(arg) = 7; });
  ESTORIA_TEST_SYNC_POINT_CALLBACK("Test::Point", &value);
  EXPECT_EQ(value, 7);
  EXPECT_EQ(seen, 2) << "SetCallback replaces the earlier callback";
}

TEST_F(SyncPointTest, OnlyTheNamedPointRunsItsCallback) {
  int seen = 0;
  SyncPoint::Get()->SetCallback("Test::A", [&](void*) { ++seen; });
  ESTORIA_TEST_SYNC_POINT("Test::B");
  ESTORIA_TEST_SYNC_POINT("Test::");
  EXPECT_EQ(seen, 0);
  EXPECT_TRUE(ESTORIA_TEST_SYNC_POINT_ARMED("Test::A"));
  EXPECT_FALSE(ESTORIA_TEST_SYNC_POINT_ARMED("Test::B"));
}

TEST_F(SyncPointTest, ClearedCallbacksDoNotRun) {
  int a = 0, b = 0;
  SyncPoint* sp = SyncPoint::Get();
  sp->SetCallback("Test::A", [&](void*) { ++a; });
  sp->SetCallback("Test::B", [&](void*) { ++b; });
  sp->ClearCallback("Test::A");
  sp->ClearCallback("Test::Unknown");  // no-op
  ESTORIA_TEST_SYNC_POINT("Test::A");
  ESTORIA_TEST_SYNC_POINT("Test::B");
  EXPECT_EQ(a, 0);
  EXPECT_EQ(b, 1);
  EXPECT_FALSE(ESTORIA_TEST_SYNC_POINT_ARMED("Test::A"));
  sp->ClearAll();
  ESTORIA_TEST_SYNC_POINT("Test::B");
  EXPECT_EQ(b, 1);
  EXPECT_FALSE(ESTORIA_TEST_SYNC_POINT_ARMED("Test::B"));
}

TEST_F(SyncPointTest, ScopedCallbackIsClearedOnExit) {
  int seen = 0;
  {
    ScopedSyncPointCallback scoped("Test::Scoped", [&](void*) { ++seen; });
    ESTORIA_TEST_SYNC_POINT("Test::Scoped");
  }
  ESTORIA_TEST_SYNC_POINT("Test::Scoped");
  EXPECT_EQ(seen, 1);
}

TEST_F(SyncPointTest, CallbackMayClearItselfAndBlockWithoutBlockingOthers) {
  SyncPoint* sp = SyncPoint::Get();
  std::atomic<bool> entered{false}, release{false};
  int held_runs = 0;
  sp->SetCallback("Test::Hold", [&](void*) {
    ++held_runs;
    SyncPoint::Get()->ClearCallback("Test::Hold");  // runs once; this call completes
    entered = true;
    while (!release) std::this_thread::yield();
  });
  std::thread holder([] { ESTORIA_TEST_SYNC_POINT("Test::Hold"); });
  while (!entered) std::this_thread::yield();
  // While a callback blocks, the registry stays usable from other threads.
  int other = 0;
  sp->SetCallback("Test::Other", [&](void*) { ++other; });
  ESTORIA_TEST_SYNC_POINT("Test::Other");
  ESTORIA_TEST_SYNC_POINT("Test::Hold");  // already cleared: does not run
  release = true;
  holder.join();
  EXPECT_EQ(held_runs, 1);
  EXPECT_EQ(other, 1);
}

// Threads passing a point while another sets and clears its callback: each
// pass runs the callback or nothing (TSan checks the registry's
// synchronisation).
TEST_F(SyncPointTest, ConcurrentSetClearAndProcess) {
  SyncPoint* sp = SyncPoint::Get();
  std::atomic<int64_t> runs{0};
  auto count = [&runs](void*) { runs.fetch_add(1, std::memory_order_relaxed); };
  constexpr int kThreads = 2, kPasses = 20000;
  std::atomic<int> finished{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPasses; ++i) {
        ESTORIA_TEST_SYNC_POINT("Test::Busy");
        (void)ESTORIA_TEST_SYNC_POINT_ARMED("Test::Busy");
      }
      ++finished;
    });
  }
  for (int i = 0; finished.load() < kThreads; ++i) {
    sp->SetCallback("Test::Busy", count);
    std::this_thread::yield();
    if (i % 2) {
      sp->ClearCallback("Test::Busy");
    } else {
      sp->ClearAll();
    }
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(runs.load(), int64_t{kThreads} * kPasses);
  // Armed: a pass runs it; cleared: a pass does not.
  sp->SetCallback("Test::Busy", count);
  int64_t before = runs.load();
  ESTORIA_TEST_SYNC_POINT("Test::Busy");
  EXPECT_EQ(runs.load(), before + 1);
  sp->ClearAll();
  ESTORIA_TEST_SYNC_POINT("Test::Busy");
  EXPECT_EQ(runs.load(), before + 1);
}

#else  // !ESTORIA_ENABLE_SYNC_POINTS

// Without ESTORIA_ENABLE_SYNC_POINTS the macros are no-ops that do not even
// evaluate their arguments, and ARMED is a constant false.
TEST(SyncPointTest, MacrosCompileAwayWithoutSyncPoints) {
  int evaluated = 0;
  ESTORIA_TEST_SYNC_POINT((++evaluated, "Test::Point"));
  ESTORIA_TEST_SYNC_POINT_CALLBACK((++evaluated, "Test::Point"), (++evaluated, &evaluated));
  static_assert(!ESTORIA_TEST_SYNC_POINT_ARMED((++evaluated, "Test::Point")));
  EXPECT_EQ(evaluated, 0);
}

TEST(SyncPointTest, RegistryTests) { GTEST_SKIP() << "built without sync points"; }

#endif  // ESTORIA_ENABLE_SYNC_POINTS

}  // namespace
}  // namespace estoria::testing_internal
