// Restarting the PostgreSQL server mid-run (ESTORIA_TEST_PG_CTL stop/start):
// during the outage every call reports Unavailable within the configured
// timeouts (no hang, no crash); afterwards the same store object works again,
// its listener reconnects, and the log holds every acknowledged event,
// gap-free; the same after the server crashed (an immediate stop). Runs alone (RUN_SERIAL): it stops the shared test
// server.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>

#include "estoria/postgres/postgres_event_store.h"
#include "estoria/testing/matchers.h"
#include "pg_server_control.h"
#include "pg_test_util.h"

namespace estoria::postgres {
namespace {

using ::estoria::testing::ServerControl;
using ::estoria::testing::StatusIs;
using testing::ScopedSchema;
using testing::TestOptions;

WritableEvent Ev(const Uuid& id) {
  WritableEvent e;
  e.type = "tested";
  e.id = id;
  e.data = "{}";
  return e;
}

// stop_verb: "stop" (a fast shutdown) or "crash" (an immediate one: every
// server process killed, crash recovery from the WAL at the next start).
void OutageIsUnavailableThenTheSameStoreRecovers(const std::string& stop_verb) {
  const char* ctl = std::getenv("ESTORIA_TEST_PG_CTL");
  if (ctl == nullptr || *ctl == '\0') GTEST_SKIP() << "ESTORIA_TEST_PG_CTL is unset: cannot restart the server";
  ScopedSchema schema("restart");
  PostgresOptions o = TestOptions(schema.name());
  o.connect_timeout = std::chrono::milliseconds(1000);
  o.query_timeout = std::chrono::milliseconds(5000);
  o.logger = NullLogger();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, PostgresEventStore::Open(o));
  while (store->stats().listener_connects < 1) {  // start the listener and let it connect
    ESTORIA_ASSERT_OK(store->WaitForAppend(int64_t{1} << 40, std::chrono::milliseconds(50)));
  }

  // Appenders run all along, with caller-chosen ids so every outcome can be
  // checked afterwards.
  std::atomic<bool> stop{false};
  std::atomic<int64_t> ok_count{0}, unavailable_count{0};
  std::mutex mu;
  std::set<std::string> acknowledged, maybe;
  std::vector<std::string> unexpected;
  std::vector<std::thread> appenders;
  for (int t = 0; t < 4; ++t) {
    appenders.emplace_back([&] {
      TypeId stream = TypeId::New("restart").value();
      while (!stop.load()) {
        Uuid id = Uuid::NewV7();
        std::vector<WritableEvent> evs{Ev(id)};
        auto r = store->AppendStream(stream, evs);
        std::lock_guard<std::mutex> lock(mu);
        if (r) {
          acknowledged.insert(id.ToString());
          ++ok_count;
        } else if (r.error().IsUnavailable()) {
          maybe.insert(id.ToString());  // may or may not have committed
          ++unavailable_count;
        } else {
          unexpected.push_back(r.error().ToString());
        }
      }
    });
  }
  auto await = [](const std::atomic<int64_t>& counter, int64_t at_least) {
    while (counter.load() < at_least) std::this_thread::yield();
  };
  await(ok_count, 20);

  ServerControl server(ctl);
  ASSERT_TRUE(server.Run(stop_verb));
  // During the outage: Unavailable, bounded by the timeouts (the bound below
  // only catches hangs; it is far above connect_timeout + query_timeout).
  auto started = std::chrono::steady_clock::now();
  std::vector<WritableEvent> evs{Ev(Uuid::NewV7())};
  EXPECT_THAT(store->AppendStream(TypeId::New("outage").value(), evs), StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(store->ReadAll(), StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(store->HeadPosition(), StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(store->ReadStream(TypeId::New("outage").value()), StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(store->WaitForAppend(int64_t{1} << 40, std::chrono::milliseconds(1500)),
              StatusIs(StatusCode::kUnavailable));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));
  int64_t unavailable_before = unavailable_count.load();
  await(unavailable_count, unavailable_before + 4);  // the appenders see it too

  ASSERT_TRUE(server.Run("start"));
  int64_t ok_before = ok_count.load();
  await(ok_count, ok_before + 20);  // the same store object works again
  stop = true;
  for (auto& t : appenders) t.join();
  EXPECT_TRUE(unexpected.empty()) << unexpected.front();

  // The listener reconnects and hears other stores again.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto other, PostgresEventStore::Open(o));
  while (store->stats().listener_connects < 2) {
    (void)store->WaitForAppend(int64_t{1} << 40, std::chrono::milliseconds(100));
  }
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, store->HeadPosition());
  Result<int64_t> woken = Status::Internal("not run");
  std::thread waiter([&] { woken = store->WaitForAppend(head, std::chrono::seconds(30)); });
  std::vector<WritableEvent> last{Ev(Uuid::NewV7())};
  ESTORIA_ASSERT_OK(other->AppendStream(TypeId::New("after").value(), last));
  waiter.join();
  ESTORIA_ASSERT_OK(woken);
  EXPECT_EQ(*woken, head + 1);

  // Every acknowledged event is stored once; positions are gap-free; nothing
  // else was written except appends whose outcome was reported Unavailable.
  auto it = store->ReadAll();
  ESTORIA_ASSERT_OK(it);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, Collect(**it));
  std::set<std::string> stored;
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(all[i].global_position, static_cast<int64_t>(i) + 1);
    std::string id = all[i].id.uuid().ToString();
    ASSERT_TRUE(stored.insert(id).second) << "duplicate " << id;
    if (all[i].stream_id.type() == "restart") {
      EXPECT_TRUE(acknowledged.count(id) || maybe.count(id)) << "unknown event " << id;
    }
  }
  for (const auto& id : acknowledged) EXPECT_TRUE(stored.count(id)) << "lost acknowledged event " << id;
}

TEST(PostgresRestartTest, OutageIsUnavailableThenTheSameStoreRecovers) {
  OutageIsUnavailableThenTheSameStoreRecovers("stop");
}

// The server crashes under load: every acknowledged append was flushed to the
// WAL before it was acknowledged (strict), so crash recovery keeps it.
TEST(PostgresRestartTest, ServerCrashKeepsEveryAcknowledgedAppend) {
  OutageIsUnavailableThenTheSameStoreRecovers("crash");
}

}  // namespace
}  // namespace estoria::postgres
