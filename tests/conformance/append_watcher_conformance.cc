// AppendWatcherConformance: WaitForAppend as documented in
// estoria/event_store.h (AppendWatcher, and EventImporter's "imported events
// wake AppendWatcher waiters").
#include <atomic>
#include <chrono>
#include <thread>

#include "conformance_util.h"
#include "estoria/testing/event_store_capability_conformance.h"

namespace estoria::testing {

int LinkAppendWatcherConformance() { return 0; }

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Generous: a wait that should return at once must return well before this.
constexpr milliseconds kLongWait{30000};
constexpr milliseconds kQuick{10000};

// Starts WaitForAppend(after, kLongWait) on a thread; Join() returns its result
// and how long it took.
class Waiter {
 public:
  Waiter(AppendWatcher* watcher, int64_t after) {
    thread_ = std::thread([this, watcher, after] {
      started_.store(true);
      auto t0 = Clock::now();
      result_ = watcher->WaitForAppend(after, kLongWait);
      took_ = Clock::now() - t0;
    });
    while (!started_.load()) std::this_thread::yield();
  }
  ~Waiter() {
    if (thread_.joinable()) thread_.join();
  }
  Result<int64_t> Join(Clock::duration* took) {
    thread_.join();
    *took = took_;
    return result_;
  }

 private:
  std::atomic<bool> started_{false};
  Result<int64_t> result_ = Status::Internal("not run");
  Clock::duration took_{};
  std::thread thread_;
};

TEST_P(AppendWatcherConformance, ReturnsAtOnceWhenANewerPositionIsKnown) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto appended, store_->AppendStream(NewStream(), Evs(3)));
  const int64_t last = appended.back().global_position;
  for (int64_t after : {int64_t{0}, appended.front().global_position, last - 1}) {
    auto t0 = Clock::now();
    ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t known, watcher_->WaitForAppend(after, kLongWait));
    EXPECT_LT(Clock::now() - t0, kQuick) << "after " << after;
    EXPECT_GE(known, last) << "the highest known position, after " << after;
  }
  if (GlobalReader* g = store_->global_reader()) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, g->HeadPosition());
    ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t known, watcher_->WaitForAppend(0, kLongWait));
    EXPECT_LE(known, head) << "a position known to the watcher must be committed";
  }
}

TEST_P(AppendWatcherConformance, TimesOutWithTheKnownHead) {
  // Empty store: nothing newer than 0 ever arrives.
  const milliseconds timeout{150};
  auto t0 = Clock::now();
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t known, watcher_->WaitForAppend(0, timeout));
  auto took = Clock::now() - t0;
  EXPECT_EQ(known, 0);
  EXPECT_GE(took, timeout / 2) << "returned long before its timeout with nothing new";
  EXPECT_LT(took, kQuick);
  // After an append: waiting past the head times out and reports the head.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto appended, store_->AppendStream(NewStream(), Evs(2)));
  const int64_t last = appended.back().global_position;
  t0 = Clock::now();
  ESTORIA_ASSERT_OK_AND_ASSIGN(known, watcher_->WaitForAppend(last, timeout));
  took = Clock::now() - t0;
  EXPECT_EQ(known, last);
  EXPECT_GE(took, timeout / 2);
  EXPECT_LT(took, kQuick);
  // A zero timeout does not block.
  t0 = Clock::now();
  ESTORIA_ASSERT_OK_AND_ASSIGN(known, watcher_->WaitForAppend(last, milliseconds(0)));
  EXPECT_EQ(known, last);
  EXPECT_LT(Clock::now() - t0, kQuick);
}

TEST_P(AppendWatcherConformance, AnAppendWakesAWaiter) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto first, store_->AppendStream(NewStream(), Evs(1)));
  const int64_t before = first.back().global_position;
  Waiter waiter(watcher_, before);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto appended, store_->AppendStream(NewStream(), Evs(2)));
  Clock::duration took{};
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t known, waiter.Join(&took));
  EXPECT_GT(known, before);
  EXPECT_LT(took, kQuick) << "the waiter was not woken by the append";
  // Once the append has returned, its position is known.
  ESTORIA_ASSERT_OK_AND_ASSIGN(known, watcher_->WaitForAppend(before, kLongWait));
  EXPECT_GE(known, appended.back().global_position);
}

TEST_P(AppendWatcherConformance, AnAppendWakesEveryWaiter) {
  std::vector<std::unique_ptr<Waiter>> waiters;
  for (int i = 0; i < 4; ++i) waiters.push_back(std::make_unique<Waiter>(watcher_, 0));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto appended, store_->AppendStream(NewStream(), Evs(1)));
  for (auto& w : waiters) {
    Clock::duration took{};
    ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t known, w->Join(&took));
    EXPECT_GE(known, 1);
    EXPECT_LT(took, kQuick) << "a waiter was not woken by the append";
  }
  (void)appended;
}

TEST_P(AppendWatcherConformance, AnImportWakesAWaiter) {
  EventImporter* importer = store_->event_importer();
  if (importer == nullptr) GTEST_SKIP() << "no EventImporter capability";
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto first, store_->AppendStream(NewStream(), Evs(1)));
  const int64_t before = first.back().global_position;
  Event e;
  e.id = TypeId("imported", Uuid::NewV7());
  e.stream_id = NewStream();
  e.stream_version = 1;
  e.timestamp = Now();
  e.content_type = std::string(kJsonContentType);
  e.data = "{}";
  Waiter waiter(watcher_, before);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto positions, importer->ImportEvents(std::span<const Event>(&e, 1)));
  ASSERT_EQ(positions.size(), 1u);
  Clock::duration took{};
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t known, waiter.Join(&took));
  EXPECT_GT(known, before);
  EXPECT_LT(took, kQuick) << "the waiter was not woken by the import";
  ESTORIA_ASSERT_OK_AND_ASSIGN(known, watcher_->WaitForAppend(before, kLongWait));
  EXPECT_GE(known, positions[0]);
}

TEST_P(AppendWatcherConformance, ConcurrentAppendsAreAllSeen) {
  // Waiters chase the head while writers append: every wait ends promptly and
  // the last one sees the final position.
  constexpr int kWriters = 4, kAppends = 10;
  std::atomic<int64_t> highest{0};
  std::atomic<int> finished{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&] {
      TypeId s = NewStream();
      for (int i = 0; i < kAppends; ++i) {
        auto r = store_->AppendStream(s, Evs(1));
        ESTORIA_EXPECT_OK(r);
        if (r) {
          int64_t p = r->back().global_position, cur = highest.load();
          while (p > cur && !highest.compare_exchange_weak(cur, p)) {
          }
        }
      }
      finished.fetch_add(1);
    });
  }
  int64_t seen = 0;
  const auto deadline = Clock::now() + kLongWait;
  bool caught_up = false;
  while (!caught_up && Clock::now() < deadline) {
    auto known = watcher_->WaitForAppend(seen, milliseconds(1000));
    ESTORIA_EXPECT_OK(known);
    if (!known) break;
    seen = std::max(seen, *known);
    caught_up = finished.load() == kWriters && seen >= highest.load();
  }
  for (auto& t : writers) t.join();
  EXPECT_TRUE(caught_up) << "the watcher saw " << seen << ", the last append was at " << highest.load();
}

}  // namespace
}  // namespace estoria::testing
