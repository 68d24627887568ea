// The backend SDK's group-commit policy (estoria/backend/group_commit.h):
// FollowerSpin, the bounded spin of followers, and GatherPolicy.
#include "estoria/backend/group_commit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace estoria::backend {
namespace {

using namespace std::chrono_literals;

TEST(FollowerSpinTest, ReturnsTrueOnceAnotherThreadIsDone) {
  FollowerSpin wait;
  std::atomic<bool> done{false};
  std::thread setter([&] {
    std::this_thread::sleep_for(2ms);
    done.store(true, std::memory_order_release);
  });
  // A budget far above the 2 ms the setter takes: the spin ends when done.
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(wait.Spin([&] { return done.load(std::memory_order_acquire); }, 10s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  setter.join();
}

TEST(FollowerSpinTest, GivesUpAfterTheBudget) {
  FollowerSpin wait;
  int calls = 0;
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(wait.Spin([&] { return ++calls < 0; }, 3ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 3ms);
  EXPECT_GT(calls, 1);  // it checked more than once while spinning
}

TEST(FollowerSpinTest, NoBudgetChecksOnceAndDoesNotSpin) {
  FollowerSpin wait;
  int calls = 0;
  EXPECT_FALSE(wait.Spin([&] { return ++calls < 0; }, 0us));
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(wait.Spin([] { return true; }, -5us));
}

TEST(FollowerSpinTest, AtMostMaxSpinnersSpinAtOnce) {
  FollowerSpin wait;
  std::atomic<bool> release{false};
  std::atomic<int> refused{0};
  const int n = FollowerSpin::kMaxSpinners + 8;
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&] {
      if (!wait.Spin([&] { return release.load(); }, 60s)) refused.fetch_add(1);
    });
  }
  // The first kMaxSpinners threads spin until released; the others find the
  // cap reached and return false at once (to sleep instead).
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (refused.load() < n - FollowerSpin::kMaxSpinners && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(refused.load(), n - FollowerSpin::kMaxSpinners);
  release.store(true);
  for (auto& t : threads) t.join();
  EXPECT_EQ(refused.load(), n - FollowerSpin::kMaxSpinners);  // the spinners all saw the release
}

TEST(GatherPolicyTest, GathersAsManyAsTheLastBatchWithinTwiceItsTimeCapped) {
  GatherPolicy p;
  auto t0 = GatherPolicy::Clock::now();
  EXPECT_EQ(p.target(), 1u);
  EXPECT_TRUE(p.Ready(1, t0));  // nothing learnt yet: a lone request starts at once
  p.BatchDone(4, 200us, t0);
  EXPECT_EQ(p.target(), 4u);
  EXPECT_EQ(p.window(), 400us);
  EXPECT_EQ(p.deadline(), t0 + 400us);
  EXPECT_FALSE(p.Ready(3, t0 + 100us));
  EXPECT_TRUE(p.Ready(4, t0 + 100us));
  EXPECT_TRUE(p.Ready(1, t0 + 400us));
  EXPECT_EQ(p.spin_budget(), 400us);
  p.BatchDone(2, 50ms, t0);  // a slow commit: the window is capped
  EXPECT_EQ(p.window(), GatherPolicy::kMaxWindow);
  EXPECT_EQ(p.spin_budget(), 0us);  // fewer than kMinSpinBatch: followers sleep at once
  p.BatchDone(0, 0us, t0);
  EXPECT_EQ(p.target(), 1u);
}

}  // namespace
}  // namespace estoria::backend
