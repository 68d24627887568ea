// The server crashes (an immediate stop: no checkpoint, no WAL flush) while a
// strict batch has committed - asynchronously, under the append lock - but its
// durable transaction has not run yet (held at the test-only sync point
// PostgresAppendWriter::BeforeDurable). Checked:
//   - before the crash, a reader sees none of the batch (it stops at the
//     durable frontier), although the rows are committed;
//   - the append does not report OK unless its events survived;
//   - after recovery positions are gap-free and strictly increasing; a reader
//     resuming after the last position it saw before the crash misses nothing
//     and finds what it saw unchanged; the same store object appends again.
// The WAL writer is slowed (wal_writer_delay = 10s) so that the batch's
// asynchronous commit is usually lost, the case that matters: its positions
// are then reused by later appends, which no reader can notice. Either
// outcome is checked. Restarts the shared test server: runs alone.
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>

#include "estoria/postgres/postgres_event_store.h"
#include "estoria/testing/matchers.h"
#include "pg_server_control.h"
#include "pg_test_util.h"
#include "sync_point.h"

namespace estoria::postgres {
namespace {

#ifdef ESTORIA_ENABLE_SYNC_POINTS

using ::estoria::testing::ServerControl;
using testing::ScopedSchema;
using testing::TestOptions;

constexpr char kBeforeDurable[] = "PostgresAppendWriter::BeforeDurable";

WritableEvent Ev(const Uuid& id) {
  WritableEvent e;
  e.type = "tested";
  e.id = id;
  e.data = "{}";
  return e;
}

std::vector<Event> ReadAllAfter(PostgresEventStore& store, int64_t after) {
  ReadAllOptions o;
  o.after_position = after;
  auto it = store.ReadAll(o);
  EXPECT_TRUE(it.has_value()) << it.error();
  if (!it) return {};
  auto all = Collect(**it);
  EXPECT_TRUE(all.has_value()) << all.error();
  return all ? *all : std::vector<Event>();
}

bool SetWalWriterDelay(const std::string& value) {
  auto raw = testing::RawConnection();
  if (!raw) return false;
  std::string sql =
      value.empty() ? "ALTER SYSTEM RESET wal_writer_delay" : "ALTER SYSTEM SET wal_writer_delay = '" + value + "'";
  return raw->Exec(sql).has_value() && raw->Exec("SELECT pg_reload_conf()").has_value();
}

TEST(PostgresCrashBeforeFlushTest, CommittedButUnflushedBatchIsNeverSeenAndLossLeavesNoGap) {
  const char* ctl = std::getenv("ESTORIA_TEST_PG_CTL");
  if (ctl == nullptr || *ctl == '\0') GTEST_SKIP() << "ESTORIA_TEST_PG_CTL is unset: cannot restart the server";
  ScopedSchema schema("crashflush");
  PostgresOptions o = TestOptions(schema.name());
  o.connect_timeout = std::chrono::milliseconds(1000);
  o.query_timeout = std::chrono::milliseconds(5000);
  o.logger = NullLogger();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, PostgresEventStore::Open(o));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto reader, PostgresEventStore::Open(o));
  ASSERT_TRUE(SetWalWriterDelay("10s"));
  struct ResetDelay {
    ~ResetDelay() { SetWalWriterDelay(""); }
  } reset_delay;

  for (int i = 0; i < 5; ++i) {
    std::vector<WritableEvent> evs{Ev(Uuid::NewV7())};
    ESTORIA_ASSERT_OK(store->AppendStream(TypeId::New("before").value(), evs));
  }
  std::vector<Event> seen = ReadAllAfter(*reader, 0);
  ASSERT_EQ(seen.size(), 5u);
  const int64_t last_seen = seen.back().global_position;

  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool entered = false, open = false;
  };
  auto gate = std::make_shared<Gate>();
  testing_internal::ScopedSyncPointCallback hold(kBeforeDurable, [gate](void*) {
    testing_internal::SyncPoint::Get()->ClearCallback(kBeforeDurable);
    std::unique_lock<std::mutex> lock(gate->mu);
    gate->entered = true;
    gate->cv.notify_all();
    gate->cv.wait(lock, [&] { return gate->open; });
  });
  std::set<std::string> held_ids;
  std::vector<WritableEvent> held_events;
  for (int i = 0; i < 3; ++i) {
    Uuid id = Uuid::NewV7();
    held_ids.insert(id.ToString());
    held_events.push_back(Ev(id));
  }
  Result<std::vector<Event>> held_result = Status::Internal("not run");
  std::thread writer([&] { held_result = store->AppendStream(TypeId::New("held").value(), held_events); });
  {
    std::unique_lock<std::mutex> lock(gate->mu);
    gate->cv.wait(lock, [&] { return gate->entered; });
  }
  // Committed, not durable: the reader does not see it.
  {
    auto raw = testing::RawConnection();
    ASSERT_NE(raw, nullptr);
    ESTORIA_ASSERT_OK_AND_ASSIGN(
        PgResult head, raw->Exec("SELECT position FROM " + QuoteIdentifier(schema.name()) + ".log_head WHERE id = 1"));
    EXPECT_EQ(head.Int64(0, 0), 8);
  }
  EXPECT_TRUE(ReadAllAfter(*reader, last_seen).empty());

  ServerControl server(ctl);
  ASSERT_TRUE(server.Run("crash"));
  {
    std::lock_guard<std::mutex> lock(gate->mu);
    gate->open = true;
  }
  gate->cv.notify_all();
  writer.join();  // its durable transaction finds the server gone
  ASSERT_TRUE(server.Run("start"));

  // Later appends through the same store object work.
  std::vector<Event> after_crash;
  for (int i = 0; i < 4; ++i) {
    std::vector<WritableEvent> evs{Ev(Uuid::NewV7())};
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto r, store->AppendStream(TypeId::New("after").value(), evs));
    after_crash.push_back(r.front());
  }

  ESTORIA_ASSERT_OK_AND_ASSIGN(auto fresh, PostgresEventStore::Open(o));
  std::vector<Event> all = ReadAllAfter(*fresh, 0);
  size_t held_found = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(all[i].global_position, static_cast<int64_t>(i) + 1) << "positions must be gap-free";
    if (held_ids.count(all[i].id.uuid().ToString())) ++held_found;
  }
  // All or nothing of the batch; OK only if it survived.
  EXPECT_TRUE(held_found == 0 || held_found == 3) << held_found;
  if (held_result.has_value()) {
    EXPECT_EQ(held_found, 3u) << "acknowledged but lost";
  }
  EXPECT_EQ(all.size(), 5 + held_found + 4);
  for (const Event& e : after_crash) EXPECT_EQ(all[static_cast<size_t>(e.global_position - 1)].id, e.id);
  std::cout << "[ INFO     ] held batch " << (held_found ? "survived" : "was lost") << "; its append returned "
            << (held_result.has_value() ? std::string("OK") : held_result.error().ToString()) << "\n";

  // What the reader saw is unchanged, and resuming after it misses nothing.
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(all[i].id, seen[i].id);
  std::vector<Event> resumed = ReadAllAfter(*reader, last_seen);
  ASSERT_EQ(resumed.size(), all.size() - seen.size());
  for (size_t i = 0; i < resumed.size(); ++i) EXPECT_EQ(resumed[i].id, all[seen.size() + i].id);
}

#endif  // ESTORIA_ENABLE_SYNC_POINTS

}  // namespace
}  // namespace estoria::postgres
