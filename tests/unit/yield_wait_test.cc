// YieldWait (estoria/internal/yield_wait.h): the bounded spin of group-commit
// followers.
#include "estoria/internal/yield_wait.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace estoria::internal {
namespace {

using namespace std::chrono_literals;

TEST(YieldWaitTest, ReturnsTrueOnceAnotherThreadIsDone) {
  YieldWait wait;
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

TEST(YieldWaitTest, GivesUpAfterTheBudget) {
  YieldWait wait;
  int calls = 0;
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(wait.Spin([&] { return ++calls < 0; }, 3ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 3ms);
  EXPECT_GT(calls, 1);  // it checked more than once while spinning
}

TEST(YieldWaitTest, NoBudgetChecksOnceAndDoesNotSpin) {
  YieldWait wait;
  int calls = 0;
  EXPECT_FALSE(wait.Spin([&] { return ++calls < 0; }, 0us));
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(wait.Spin([] { return true; }, -5us));
}

TEST(YieldWaitTest, AtMostMaxSpinnersSpinAtOnce) {
  YieldWait wait;
  std::atomic<bool> release{false};
  std::atomic<int> refused{0};
  const int n = YieldWait::kMaxSpinners + 8;
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&] {
      if (!wait.Spin([&] { return release.load(); }, 60s)) refused.fetch_add(1);
    });
  }
  // The first kMaxSpinners threads spin until released; the others find the
  // cap reached and return false at once (to sleep instead).
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (refused.load() < n - YieldWait::kMaxSpinners && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(refused.load(), n - YieldWait::kMaxSpinners);
  release.store(true);
  for (auto& t : threads) t.join();
  EXPECT_EQ(refused.load(), n - YieldWait::kMaxSpinners);  // the spinners all saw the release
}

}  // namespace
}  // namespace estoria::internal
