// Failover on the 3-node cluster (replicas 3): the stream leader is killed
// (SIGKILL) or hung (SIGSTOP, then SIGCONT) while 8 writers append with
// expectations and a reader tails the log; the whole cluster is restarted; a
// projection processor with a SQLite read model tails the store across a
// failover. Every acknowledged append must be present exactly once,
// positions strictly increasing and stable-prefix, and the read model equal to
// the fold of the log. Needs scripts/with-nats (skips without it); kills nodes,
// so it runs alone (RUN_SERIAL).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "estoria/nats/nats_event_store.h"
#include "estoria/open.h"
#include "estoria/projection/processor.h"
#include "estoria/sqlite/sqlite_read_model.h"
#include "estoria/testing/matchers.h"
#include "estoria/testing/temp_dir.h"
#include "nats_cluster.h"
#include "projection_test_util.h"
#include "sqlite_totals.h"

namespace estoria::nats::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class NatsFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveCluster()) GTEST_SKIP() << "ESTORIA_NATS_CLUSTER_URL unset: run under scripts/with-nats";
    for (int i = 1; i <= 3; ++i) ASSERT_TRUE(WaitHealthy(i, 30s)) << "node " << i << " is not healthy";
    stream_ = "fo" + Uuid::NewV7().ToString().substr(24);
    auto store = NatsEventStore::OpenUri(Env("ESTORIA_NATS_CLUSTER_URL") + "?stream=" + stream_ +
                                         "&replicas=3&timeout_ms=30000");
    ASSERT_TRUE(store.ok()) << store.error();
    store_ = *store;
  }
  void TearDown() override {
    // Leave every node running for the next test.
    for (int i = 1; i <= 3; ++i) {
      SignalNode(i, SIGCONT);
      if (!WaitHealthy(i, 2s)) {
        EXPECT_TRUE(RestartNode(i)) << "node " << i << " did not come back";
      }
    }
  }

  int Leader() {
    for (int k = 0; k < 100; ++k) {
      int i = NodeIndex(StreamLeader(stream_));
      if (i != 0) return i;
      std::this_thread::sleep_for(100ms);
    }
    return 0;
  }

  struct Acked {
    TypeId stream;
    int64_t version = 0;
    Uuid id;
  };

  // 8 writers (4 streams each) and a tailing reader run until `disrupt`
  // returns; then 2 s more. Returns the time from the disruption to the first
  // append started after it that was acknowledged.
  void RunWithDisruption(const std::function<void()>& disrupt, const std::function<void()>& after = {}) {
    constexpr int kWriters = 8, kStreamsPerWriter = 4;
    std::atomic<bool> stop{false};
    std::atomic<int64_t> disrupted_at_ns{0}, resumed_at_ns{0};
    std::mutex mu;
    std::vector<Acked> acked;
    std::atomic<int> failures{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        std::vector<TypeId> streams;
        std::vector<int64_t> tips(kStreamsPerWriter, 0);
        for (int k = 0; k < kStreamsPerWriter; ++k) streams.push_back(TypeId::New("account").value());
        for (int n = 0; !stop.load(); ++n) {
          const int k = n % kStreamsPerWriter;
          WritableEvent e{.type = "deposited", .id = Uuid::NewV7(), .data = "{\"n\":" + std::to_string(n) + "}"};
          const auto started = Clock::now().time_since_epoch().count();
          const auto deadline = Clock::now() + 90s;
          while (true) {
            auto r = store_->AppendStream(streams[k], std::span<const WritableEvent>(&e, 1),
                                          AppendOptions::ExpectVersion(tips[k]));
            if (r.ok() || r.error().IsAlreadyExists()) {
              // AlreadyExists: an earlier attempt whose answer was lost was stored.
              std::lock_guard<std::mutex> lock(mu);
              acked.push_back(Acked{streams[k], tips[k] + 1, *e.id});
              ++tips[k];
              const int64_t d = disrupted_at_ns.load();
              if (d != 0 && started > d && resumed_at_ns.load() == 0)
                resumed_at_ns = Clock::now().time_since_epoch().count();
              break;
            }
            if (std::getenv("NATS_FO_DEBUG")) std::cerr << "writer " << w << ": " << r.error() << std::endl;
            if (!r.error().IsUnavailable() || Clock::now() > deadline) {
              ADD_FAILURE() << "writer " << w << ": " << r.error();
              failures++;
              return;
            }
          }
        }
      });
    }
    // The tailing reader: every event it sees, in order.
    std::vector<Event> seen;
    std::thread reader([&] {
      int64_t after = 0;
      while (!stop.load()) {
        auto it = store_->global_reader()->ReadAll({.after_position = after, .count = 500});
        if (!it.ok()) {
          std::this_thread::sleep_for(50ms);
          continue;
        }
        auto events = Collect(**it);
        if (!events.ok()) continue;
        for (auto& e : *events) {
          seen.push_back(e);
          after = e.global_position;
        }
        if (events->empty()) std::this_thread::sleep_for(5ms);
      }
    });
    std::this_thread::sleep_for(1500ms);
    disrupted_at_ns = Clock::now().time_since_epoch().count();
    disrupt();
    // Run until appends resumed, then 2 s more.
    for (int k = 0; k < 600 && resumed_at_ns.load() == 0 && failures.load() == 0; ++k)
      std::this_thread::sleep_for(100ms);
    if (after) after();
    std::this_thread::sleep_for(2s);
    stop = true;
    for (auto& t : writers) t.join();
    reader.join();
    ASSERT_EQ(failures.load(), 0);
    ASSERT_NE(resumed_at_ns.load(), 0) << "appends did not resume";
    const double resume_ms = static_cast<double>(resumed_at_ns.load() - disrupted_at_ns.load()) / 1e6;
    std::cout << "[ failover ] " << ::testing::UnitTest::GetInstance()->current_test_info()->name()
              << ": appends resumed " << resume_ms << " ms after the disruption; " << acked.size()
              << " appends acknowledged" << std::endl;
    ::testing::Test::RecordProperty("resume_ms", std::to_string(resume_ms));

    // Everything acknowledged is there exactly once, nothing else is.
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto it, store_->global_reader()->ReadAll());
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, Collect(*it));
    std::map<Uuid, const Event*> by_id;
    for (size_t i = 0; i < all.size(); ++i) {
      EXPECT_TRUE(by_id.emplace(all[i].id.uuid(), &all[i]).second) << "duplicate event " << all[i].id;
      if (i > 0) {
        EXPECT_GT(all[i].global_position, all[i - 1].global_position);
      }
    }
    EXPECT_EQ(all.size(), acked.size());
    for (const auto& a : acked) {
      auto f = by_id.find(a.id);
      ASSERT_NE(f, by_id.end()) << "acknowledged event " << a.id << " lost";
      EXPECT_EQ(f->second->stream_id, a.stream);
      EXPECT_EQ(f->second->stream_version, a.version);
    }
    // Positions gap-free (nothing was deleted).
    if (!all.empty()) {
      EXPECT_EQ(all.back().global_position - all.front().global_position + 1, static_cast<int64_t>(all.size()));
    }
    // Stable prefix: the tailing reader saw exactly the log's prefix.
    ASSERT_LE(seen.size(), all.size());
    for (size_t i = 0; i < seen.size(); ++i) {
      ASSERT_EQ(seen[i], all[i]) << "the tailing reader saw another log at index " << i;
    }
  }

  std::string stream_;
  std::shared_ptr<NatsEventStore> store_;
};

TEST_F(NatsFailoverTest, LeaderKilledMidRunLosesNoAcknowledgedAppend) {
  const int leader = Leader();
  ASSERT_NE(leader, 0);
  RunWithDisruption([&] { SignalNode(leader, SIGKILL); }, [&] { EXPECT_TRUE(RestartNode(leader)); });
  const int now = Leader();
  EXPECT_NE(now, 0);
}

TEST_F(NatsFailoverTest, HungLeaderIsReplacedAndRejoinsAfterSigcont) {
  const int leader = Leader();
  ASSERT_NE(leader, 0);
  RunWithDisruption([&] { SignalNode(leader, SIGSTOP); }, [&] { SignalNode(leader, SIGCONT); });
}

TEST_F(NatsFailoverTest, WholeClusterRestartKeepsEverything) {
  // Single and multi-event appends, a truncation and a deletion.
  std::vector<TypeId> streams;
  for (int s = 0; s < 20; ++s) streams.push_back(TypeId::New("order").value());
  for (int round = 0; round < 10; ++round) {
    for (auto& s : streams) {
      std::vector<WritableEvent> evs(1 + round % 3, WritableEvent{.type = "placed", .data = "{\"r\":1}"});
      ESTORIA_ASSERT_OK(store_->AppendStream(s, evs));
    }
  }
  ESTORIA_ASSERT_OK(store_->DeleteStream(streams[0]));
  ESTORIA_ASSERT_OK(store_->DeleteStream(streams[1], {.to_version = 4}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto it, store_->global_reader()->ReadAll());
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto before, Collect(*it));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head_before, store_->global_reader()->HeadPosition());
  store_.reset();

  for (int i = 1; i <= 3; ++i) SignalNode(i, SIGKILL);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(StartNode(i)) << "node " << i;
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(WaitHealthy(i, 60s)) << "node " << i << " is not healthy after the restart";
  ASSERT_NE(Leader(), 0) << "no stream leader after the restart";

  auto store =
      NatsEventStore::OpenUri(Env("ESTORIA_NATS_CLUSTER_URL") + "?stream=" + stream_ + "&replicas=3&timeout_ms=30000");
  ASSERT_TRUE(store.ok()) << store.error();
  store_ = *store;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto it2, store_->global_reader()->ReadAll());
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto after, Collect(*it2));
  EXPECT_EQ(after, before);
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head_after, store_->global_reader()->HeadPosition());
  EXPECT_EQ(head_after, head_before);
  // Appends continue the log and the streams.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto more, store_->AppendStream(streams[2], std::vector<WritableEvent>{{.type = "x"}},
                                                               AppendOptions::ExpectVersion(19)));
  EXPECT_EQ(more[0].global_position, head_before + 1);
  EXPECT_EQ(more[0].stream_version, 20);
}

TEST_F(NatsFailoverTest, ProjectionTailsAcrossALeaderFailover) {
  estoria::testing::TempDir dir;
  sqlite::SqliteReadModelOptions mo;
  mo.path = dir.NewFile("model");
  mo.durability = Durability::kRelaxed;
  mo.setup = [](sqlite::SqliteDatabase& db) { return estoria::testing::CreateTables(db); };
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto model,
                               sqlite::SqliteReadModel::Open(mo, [](sqlite::SqliteDatabase& db, const Event& e) {
                                 return estoria::testing::ApplyTotals(db, e);
                               }));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto p, Processor::Create(store_, model, {.name = "totals", .batch_size = 32}));
  ESTORIA_ASSERT_OK(p->Start());
  const int leader = Leader();
  ASSERT_NE(leader, 0);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int n = 0; !stop.load(); ++n) {
      auto r = estoria::testing::AppendEvents(*store_, 5, 4);
      if (!r.ok() && !r.error().IsUnavailable()) ADD_FAILURE() << r.error();
    }
  });
  std::this_thread::sleep_for(1s);
  SignalNode(leader, SIGKILL);
  std::this_thread::sleep_for(4s);
  ASSERT_TRUE(RestartNode(leader));
  std::this_thread::sleep_for(1s);
  stop = true;
  writer.join();
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, store_->global_reader()->HeadPosition());
  ESTORIA_ASSERT_OK(p->WaitForPosition(head, 60s));
  ESTORIA_ASSERT_OK(p->Stop());
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto fold, estoria::testing::FoldLog(*store_->global_reader()));
  ESTORIA_ASSERT_OK(model->Read([&](sqlite::SqliteDatabase& db) -> Status {
    auto totals = estoria::testing::ReadTotals(db);
    EXPECT_TRUE(totals.ok()) << totals.error();
    if (totals.ok()) {
      EXPECT_EQ(*totals, fold);
    }
    auto [rows, distinct] = estoria::testing::AppliedCounts(db);
    EXPECT_EQ(rows, distinct) << "an event was applied twice";
    EXPECT_EQ(rows, head);
    return Status::Ok();
  }));
}

}  // namespace
}  // namespace estoria::nats::testing
