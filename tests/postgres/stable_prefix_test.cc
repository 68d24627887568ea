// Stable prefix under a held-open append transaction: while one store's
// append transaction has assigned positions but not committed (held at the
// writer's PostgresAppendWriter::BeforeCommit sync point), appends from two
// other store objects (other writers, other connections, as other processes
// would be) must wait, and a ReadAll reader polling all along never yields a
// position and later sees a lower one.
#include <algorithm>
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

#ifdef ESTORIA_ENABLE_SYNC_POINTS

using testing::ScopedSchema;
using testing::TestOptions;

constexpr char kBeforeCommit[] = "PostgresAppendWriter::BeforeCommit";

ReadAllOptions After(int64_t position) {
  ReadAllOptions o;
  o.after_position = position;
  return o;
}

WritableEvent Ev() {
  WritableEvent e;
  e.type = "tested";
  e.data = "{}";
  return e;
}

// Sessions of `app` (application_name) waiting for an advisory lock.
int64_t AdvisoryLockWaiters(PgConnection& conn, const std::string& app) {
  auto res = conn.ExecParams(
      "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
      " WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name = $1",
      PgParams().Text(app));
  EXPECT_TRUE(res.has_value()) << res.error();
  return res ? res->Int64(0, 0) : -1;
}

TEST(PostgresStablePrefixTest, ReaderNeverSeesALowerPositionAppearLater) {
  ScopedSchema schema("prefix");
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool entered = false, open = false;
  };
  auto gate = std::make_shared<Gate>();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto held, PostgresEventStore::Open(TestOptions(schema.name())));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto other_a, PostgresEventStore::Open(TestOptions(schema.name())));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto other_b, PostgresEventStore::Open(TestOptions(schema.name())));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto reader_store, PostgresEventStore::Open(TestOptions(schema.name())));

  // Some history first.
  for (int i = 0; i < 5; ++i) {
    std::vector<WritableEvent> evs{Ev()};
    ESTORIA_ASSERT_OK(other_a->AppendStream(TypeId::New("warmup").value(), evs));
  }

  // The reader polls ReadAll from its last seen position all along.
  std::atomic<bool> stop{false};
  std::vector<int64_t> seen;
  std::string reader_error;
  std::thread reader([&] {
    int64_t last = 0;
    while (!stop.load()) {
      auto it = reader_store->ReadAll(After(last));
      if (!it) {
        reader_error = it.error().ToString();
        return;
      }
      for (;;) {
        auto next = (*it)->Next();
        if (!next) {
          reader_error = next.error().ToString();
          return;
        }
        if (!next->has_value()) break;
        int64_t p = (*next)->global_position;
        if (p <= last) {
          reader_error = "position " + std::to_string(p) + " appeared after " + std::to_string(last);
          return;
        }
        last = p;
        seen.push_back(p);
      }
      if (reader_store->WaitForAppend(last, std::chrono::milliseconds(50)).has_value()) continue;
    }
  });

  // The sync point is process-wide: armed only while `held` is the one store
  // appending, it holds that transaction open and disarms itself, so that the
  // other writers run as they would without it.
  testing_internal::ScopedSyncPointCallback hold(kBeforeCommit, [gate](void*) {
    testing_internal::SyncPoint::Get()->ClearCallback(kBeforeCommit);
    std::unique_lock<std::mutex> lock(gate->mu);
    gate->entered = true;
    gate->cv.notify_all();
    gate->cv.wait(lock, [&] { return gate->open; });
  });
  Result<std::vector<Event>> held_result = Status::Internal("not run");
  std::thread held_writer([&] {
    std::vector<WritableEvent> evs{Ev(), Ev(), Ev()};
    held_result = held->AppendStream(TypeId::New("held").value(), evs);
  });
  {
    std::unique_lock<std::mutex> lock(gate->mu);
    gate->cv.wait(lock, [&] { return gate->entered; });
  }
  // Positions 6..8 are assigned but uncommitted. Other writers must queue
  // behind the append lock, not commit around it.
  constexpr int kOthers = 8;
  std::atomic<int> other_ok{0};
  std::vector<std::thread> others;
  for (int i = 0; i < kOthers; ++i) {
    others.emplace_back([&, i] {
      auto& store = i % 2 ? other_a : other_b;
      std::vector<WritableEvent> evs{Ev()};
      if (store->AppendStream(TypeId::New("other").value(), evs)) ++other_ok;
    });
  }
  auto raw = testing::RawConnection();
  ASSERT_NE(raw, nullptr);
  // Both other writers end up waiting for the lock held by the open transaction.
  while (AdvisoryLockWaiters(*raw, schema.name()) < 2) std::this_thread::yield();
  EXPECT_EQ(other_ok.load(), 0);
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head_while_held, reader_store->HeadPosition());
  EXPECT_EQ(head_while_held, 5);

  {
    std::lock_guard<std::mutex> lock(gate->mu);
    gate->open = true;
  }
  gate->cv.notify_all();
  held_writer.join();
  for (auto& t : others) t.join();
  ESTORIA_ASSERT_OK(held_result);
  EXPECT_EQ(held_result->front().global_position, 6);
  EXPECT_EQ(other_ok.load(), kOthers);

  constexpr int64_t kTotal = 5 + 3 + kOthers;
  stop = true;
  reader.join();
  ASSERT_EQ(reader_error, "");
  // Drain what the reader had not reached yet, as a resuming reader would.
  int64_t last = seen.empty() ? 0 : seen.back();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto it, reader_store->ReadAll(After(last)));
  for (;;) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto next, it->Next());
    if (!next) break;
    ASSERT_GT(next->global_position, last);
    last = next->global_position;
    seen.push_back(last);
  }
  // Gap-free and complete: exactly 1..kTotal, in order.
  ASSERT_EQ(seen.size(), static_cast<size_t>(kTotal));
  for (int64_t i = 0; i < kTotal; ++i) EXPECT_EQ(seen[static_cast<size_t>(i)], i + 1);
}

#else  // !ESTORIA_ENABLE_SYNC_POINTS

TEST(PostgresStablePrefixTest, ReaderNeverSeesALowerPositionAppearLater) {
  GTEST_SKIP() << "built without sync points";
}

#endif  // ESTORIA_ENABLE_SYNC_POINTS

}  // namespace
}  // namespace estoria::postgres
