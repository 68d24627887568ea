// The durable frontier of strict stores (append_writer.cc): a batch commits
// asynchronously under the append lock and is acknowledged only once a second,
// synchronously committed transaction has raised log_durable past it; readers
// never read past the durable frontier.
//   - A batch held between its commit and its durable transaction (sync point
//     PostgresAppendWriter::BeforeDurable) is invisible to ReadAll,
//     HeadPosition and ReadStream, and does not hold the append lock: another
//     store's append completes meanwhile, and its own flush makes both
//     batches durable and visible.
//   - Several store objects (separate writer connections, as separate
//     processes) append concurrently while a tailing reader follows: every
//     position the reader yields is the one after the last it saw, all events
//     are stored once, positions are gap-free and per-stream versions intact.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "estoria/postgres/postgres_event_store.h"
#include "estoria/testing/matchers.h"
#include "pg_test_util.h"
#include "sync_point.h"

namespace estoria::postgres {
namespace {

using testing::ScopedSchema;
using testing::TestOptions;

WritableEvent Ev() {
  WritableEvent e;
  e.type = "tested";
  e.data = "{}";
  return e;
}

ReadAllOptions After(int64_t position) {
  ReadAllOptions o;
  o.after_position = position;
  return o;
}

std::vector<Event> ReadAllAfter(PostgresEventStore& store, int64_t after) {
  auto it = store.ReadAll(After(after));
  EXPECT_TRUE(it.has_value()) << it.error();
  if (!it) return {};
  auto all = Collect(**it);
  EXPECT_TRUE(all.has_value()) << all.error();
  return all ? *all : std::vector<Event>();
}

#ifdef ESTORIA_ENABLE_SYNC_POINTS

constexpr char kBeforeDurable[] = "PostgresAppendWriter::BeforeDurable";

TEST(PostgresDurableFrontierTest, BatchBetweenCommitAndFlushIsInvisibleAndReleasesTheLock) {
  ScopedSchema schema("durable");
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool entered = false, open = false;
  };
  auto gate = std::make_shared<Gate>();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto held, PostgresEventStore::Open(TestOptions(schema.name())));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto other, PostgresEventStore::Open(TestOptions(schema.name())));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto reader, PostgresEventStore::Open(TestOptions(schema.name())));
  for (int i = 0; i < 3; ++i) {
    std::vector<WritableEvent> evs{Ev()};
    ESTORIA_ASSERT_OK(other->AppendStream(TypeId::New("warmup").value(), evs));
  }
  // Disarms itself: only `held`'s batch stops there.
  testing_internal::ScopedSyncPointCallback hold(kBeforeDurable, [gate](void*) {
    testing_internal::SyncPoint::Get()->ClearCallback(kBeforeDurable);
    std::unique_lock<std::mutex> lock(gate->mu);
    gate->entered = true;
    gate->cv.notify_all();
    gate->cv.wait(lock, [&] { return gate->open; });
  });
  TypeId held_stream = TypeId::New("held").value();
  Result<std::vector<Event>> held_result = Status::Internal("not run");
  std::thread writer([&] {
    std::vector<WritableEvent> evs{Ev(), Ev()};
    held_result = held->AppendStream(held_stream, evs);
  });
  {
    std::unique_lock<std::mutex> lock(gate->mu);
    gate->cv.wait(lock, [&] { return gate->entered; });
  }
  // Committed (another connection sees the rows and log_head) ...
  auto raw = testing::RawConnection();
  ASSERT_NE(raw, nullptr);
  const std::string q = QuoteIdentifier(schema.name());
  ESTORIA_ASSERT_OK_AND_ASSIGN(PgResult committed, raw->Exec("SELECT count(*) FROM " + q + ".events"));
  EXPECT_EQ(committed.Int64(0, 0), 5);
  // ... but not durable: the readers stop at the durable frontier.
  EXPECT_TRUE(ReadAllAfter(*reader, 0).size() == 3u);
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, reader->HeadPosition());
  EXPECT_EQ(head, 3);
  auto stream_it = reader->ReadStream(held_stream);
  ESTORIA_ASSERT_OK(stream_it);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto stream_events, Collect(**stream_it));
  EXPECT_TRUE(stream_events.empty());

  // The append lock is free: another store's append completes while the held
  // batch waits, and its flush covers the held batch's earlier commit.
  std::vector<WritableEvent> one{Ev()};
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto later, other->AppendStream(TypeId::New("later").value(), one));
  EXPECT_EQ(later.front().global_position, 6);
  auto all = ReadAllAfter(*reader, 0);
  ASSERT_EQ(all.size(), 6u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].global_position, static_cast<int64_t>(i) + 1);
  EXPECT_EQ(all[3].stream_id, held_stream);

  {
    std::lock_guard<std::mutex> lock(gate->mu);
    gate->open = true;
  }
  gate->cv.notify_all();
  writer.join();
  ESTORIA_ASSERT_OK(held_result);
  EXPECT_EQ(held_result->front().global_position, 4);
  ESTORIA_ASSERT_OK_AND_ASSIGN(head, reader->HeadPosition());
  EXPECT_EQ(head, 6);
}

#endif  // ESTORIA_ENABLE_SYNC_POINTS

TEST(PostgresDurableFrontierTest, ManyStoresAppendWhileATailingReaderFollows) {
  ScopedSchema schema("tailing");
  constexpr int kStores = 3, kThreads = 4, kPerThread = 40;
  std::vector<std::shared_ptr<PostgresEventStore>> stores;
  for (int i = 0; i < kStores; ++i) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto s, PostgresEventStore::Open(TestOptions(schema.name())));
    stores.push_back(s);
  }
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto reader_store, PostgresEventStore::Open(TestOptions(schema.name())));

  std::atomic<bool> stop{false};
  std::vector<Event> tailed;
  std::string reader_error;
  std::thread reader([&] {
    int64_t last = 0;
    for (;;) {
      bool last_round = stop.load();
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
        if ((*next)->global_position != last + 1) {
          reader_error = "position " + std::to_string((*next)->global_position) + " after " + std::to_string(last);
          return;
        }
        last = (*next)->global_position;
        tailed.push_back(**next);
      }
      if (last_round) return;
      (void)reader_store->WaitForAppend(last, std::chrono::milliseconds(20));
    }
  });

  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  std::mutex mu;
  std::map<std::string, std::vector<Event>> acknowledged;  // stream -> its events
  const std::vector<TypeId> shared_streams{TypeId::New("shared").value(), TypeId::New("shared").value()};
  for (int s = 0; s < kStores; ++s) {
    for (int t = 0; t < kThreads; ++t) {
      writers.emplace_back([&, s, t] {
        // Two streams per store shared by its threads, and one of every
        // thread's own: expectations race within and across stores.
        const TypeId& shared = shared_streams[static_cast<size_t>(t % 2)];
        TypeId own = TypeId::New("own").value();
        for (int i = 0; i < kPerThread; ++i) {
          const TypeId& stream = i % 2 ? shared : own;
          std::vector<WritableEvent> evs{Ev()};
          if (i % 5 == 0) evs.push_back(Ev());
          auto r = stores[static_cast<size_t>(s)]->AppendStream(stream, evs);
          if (!r) {
            ++failures;
            continue;
          }
          std::lock_guard<std::mutex> lock(mu);
          auto& v = acknowledged[stream.ToString()];
          v.insert(v.end(), r->begin(), r->end());
        }
      });
    }
  }
  for (auto& w : writers) w.join();
  stop = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(reader_error, "");

  // The tailing reader saw everything, gap-free, and exactly what is stored.
  auto all = ReadAllAfter(*reader_store, 0);
  size_t expected = 0;
  for (const auto& [key, evs] : acknowledged) expected += evs.size();
  ASSERT_EQ(all.size(), expected);
  ASSERT_EQ(tailed.size(), all.size());
  std::map<std::string, int64_t> versions;
  std::set<std::string> ids;
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(all[i].global_position, static_cast<int64_t>(i) + 1);
    EXPECT_EQ(tailed[i].id, all[i].id);
    EXPECT_TRUE(ids.insert(all[i].id.ToString()).second);
    // Versions of a stream follow positions and have no gaps.
    EXPECT_EQ(all[i].stream_version, ++versions[all[i].stream_id.ToString()]);
  }
  for (const auto& [key, evs] : acknowledged) {
    EXPECT_EQ(versions[key], static_cast<int64_t>(evs.size())) << key;
    for (const Event& e : evs) EXPECT_EQ(all[static_cast<size_t>(e.global_position - 1)].id, e.id);
  }
}

}  // namespace
}  // namespace estoria::postgres
