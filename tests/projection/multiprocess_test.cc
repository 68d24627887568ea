// Processor processes killed with SIGKILL (estoria_projection_child, fork+exec):
//  - a SQLite read model and a PostgreSQL read model, killed at random points
//    several times while appends continue; after a final run each read model
//    equals the fold of the whole log (no event applied twice or missed);
//  - two processes running the same PostgreSQL projection: their handling
//    intervals never overlap, and killing the active one lets the other
//    continue from the checkpoint.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "child_process_util.h"
#include "estoria/postgres/postgres_checkpoint_store.h"
#include "estoria/postgres/postgres_event_store.h"
#include "estoria/projection/wait.h"
#include "estoria/sqlite/sqlite_checkpoint_store.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "estoria/testing/matchers.h"
#include "pg_projection_util.h"
#include "sqlite_totals.h"

#ifndef ESTORIA_PROJECTION_CHILD
#error "ESTORIA_PROJECTION_CHILD must name the child binary"
#endif

namespace estoria::testing {
namespace {

using namespace std::chrono_literals;

// Kills a child `rounds` times, each time once it has committed progress beyond
// the last checkpoint seen, after a further random delay.
void KillRepeatedly(const std::vector<std::string>& args, const std::function<Result<int64_t>()>& checkpoint,
                    int rounds) {
  std::mt19937 rng(static_cast<unsigned>(getpid()));
  int64_t seen = 0;
  for (int round = 0; round < rounds; ++round) {
    pid_t child = SpawnChild(args);
    ASSERT_GT(child, 0);
    // Progress first (the child may wait up to the lease ttl for its predecessor's
    // lease), then a random point to kill it.
    Status progressed = WaitForCheckpoint(checkpoint, seen + 1, 30s, 5ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 250));
    int status = KillChild(child);
    ESTORIA_ASSERT_OK(progressed) << "round " << round;
    EXPECT_EQ(status, -SIGKILL) << "the child exited by itself (see its stderr)";
    auto now = checkpoint();
    ASSERT_TRUE(now.ok()) << now.error();
    EXPECT_GT(*now, seen);
    seen = *now;
  }
}

TEST(ProjectionCrashTest, SqliteReadModelEqualsTheFoldAfterSigkills) {
  TempDir dir;
  std::string store_path = dir.NewFile("store");
  std::string model_path = dir.NewFile("model");
  sqlite::SqliteOptions so;
  so.path = store_path;
  so.durability = Durability::kRelaxed;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, sqlite::SqliteEventStore::Open(so));
  ESTORIA_ASSERT_OK(AppendEvents(*store, 200, 16).error());
  // The child creates the model file; open the checkpoint reader after it exists.
  std::shared_ptr<sqlite::SqliteCheckpointStore> checkpoints;
  auto checkpoint = [&]() -> Result<int64_t> {
    if (!checkpoints) {
      auto opened = sqlite::SqliteCheckpointStore::Open({model_path});
      if (!opened) return Status::Unavailable(opened.error().ToString());
      checkpoints = *opened;
    }
    return checkpoints->Load("totals");
  };
  std::vector<std::string> args = {"sqlite", store_path, model_path, "totals"};
  {
    SteadyAppender appender(store);
    KillRepeatedly(args, checkpoint, 6);
    appender.Stop();
    ESTORIA_EXPECT_OK(appender.error());
    EXPECT_GT(appender.appended(), 0);
  }
  // One more event, so that the last child must make progress of its own before
  // the SIGTERM: the killed child may already have caught up, and a SIGTERM sent
  // before the new child has blocked it would kill it instead of stopping it.
  ESTORIA_ASSERT_OK(AppendEvents(*store, 1, 1).error());
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, store->HeadPosition());
  pid_t last = SpawnChild(args);
  Status caught_up = WaitForCheckpoint(checkpoint, head, 60s, 5ms);
  EXPECT_EQ(KillChild(last, SIGTERM), 0);  // a clean stop this time
  ESTORIA_ASSERT_OK(caught_up);

  ESTORIA_ASSERT_OK_AND_ASSIGN(TotalsByStream fold, FoldLog(*store));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto db, sqlite::SqliteDatabase::Open(model_path));
  ESTORIA_ASSERT_OK_AND_ASSIGN(TotalsByStream model, ReadTotals(*db));
  EXPECT_EQ(model, fold);
  auto [rows, distinct] = AppliedCounts(*db);
  EXPECT_EQ(rows, head);  // every event once: none twice, none missed
  EXPECT_EQ(distinct, head);
  EXPECT_EQ(checkpoint().value(), head);
}

class PostgresProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (PgUri().empty()) GTEST_SKIP() << "ESTORIA_TEST_POSTGRES is unset";
    schema_ = NewPgSchema("mp");
    ESTORIA_ASSERT_OK_AND_ASSIGN(store_, postgres::PostgresEventStore::Open(PgOptions(schema_)));
    ESTORIA_ASSERT_OK_AND_ASSIGN(checkpoints_, postgres::PostgresCheckpointStore::Open(PgOptions(schema_)));
  }
  void TearDown() override {
    store_.reset();
    checkpoints_.reset();
    if (!schema_.empty()) {
      ESTORIA_EXPECT_OK(DropPgSchema(schema_));
    }
  }
  std::function<Result<int64_t>()> Checkpoint() {
    return [this]() { return checkpoints_->Load("totals"); };
  }
  void ExpectModelEqualsFold(int64_t head) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(TotalsByStream fold, FoldLog(*store_));
    postgres::PgConnectOptions co;
    co.conninfo = PgOptions(schema_).conninfo;
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto conn, postgres::PgConnection::Connect(co));
    ESTORIA_ASSERT_OK_AND_ASSIGN(TotalsByStream model, PgReadTotals(*conn, schema_));
    EXPECT_EQ(model, fold);
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto counts, PgAppliedCounts(*conn, schema_));
    EXPECT_EQ(counts.first, head);
    EXPECT_EQ(counts.second, head);
  }
  std::string schema_;
  std::shared_ptr<postgres::PostgresEventStore> store_;
  std::shared_ptr<postgres::PostgresCheckpointStore> checkpoints_;
};

TEST_F(PostgresProcessTest, ReadModelEqualsTheFoldAfterSigkills) {
  ESTORIA_ASSERT_OK(AppendEvents(*store_, 200, 16).error());
  std::vector<std::string> args = {"pg", schema_, "totals"};
  {
    SteadyAppender appender(store_);
    KillRepeatedly(args, Checkpoint(), 6);
    appender.Stop();
    ESTORIA_EXPECT_OK(appender.error());
  }
  ESTORIA_ASSERT_OK(AppendEvents(*store_, 1, 1).error());  // progress of the last child's own (see above)
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, store_->HeadPosition());
  pid_t last = SpawnChild(args);
  Status caught_up = WaitForCheckpoint(Checkpoint(), head, 60s, 5ms);
  EXPECT_EQ(KillChild(last, SIGTERM), 0);
  ESTORIA_ASSERT_OK(caught_up);
  ExpectModelEqualsFold(head);
}

TEST_F(PostgresProcessTest, TwoProcessesNeverHandleAtTheSameTime) {
  TempDir dir;
  std::string log_a = dir.NewFile("a-log"), log_b = dir.NewFile("b-log");
  ESTORIA_ASSERT_OK(AppendEvents(*store_, 100, 16).error());
  SteadyAppender appender(store_);
  pid_t a = SpawnChild({"pg", schema_, "totals", log_a});
  pid_t b = SpawnChild({"pg", schema_, "totals", log_b});
  ESTORIA_ASSERT_OK(WaitForCheckpoint(Checkpoint(), 150, 30s, 5ms));
  std::this_thread::sleep_for(500ms);  // both running; appends continue
  // The active one is the one whose log grew.
  auto size = [](const std::string& p) {
    std::ifstream in(p, std::ios::ate);
    return in ? static_cast<int64_t>(in.tellg()) : int64_t{0};
  };
  bool a_active = size(log_a) > 0;
  ASSERT_NE(a_active, size(log_b) > 0) << "exactly one process must have handled events";
  pid_t active = a_active ? a : b, standby = a_active ? b : a;
  std::string active_log = a_active ? log_a : log_b, standby_log = a_active ? log_b : log_a;
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t before_kill, checkpoints_->Load("totals"));
  EXPECT_EQ(KillChild(active), -SIGKILL);
  int64_t death_ns = MonotonicNs();
  ESTORIA_ASSERT_OK(WaitForCheckpoint(Checkpoint(), before_kill + 50, 30s, 5ms));  // the standby took over
  appender.Stop();
  ESTORIA_ASSERT_OK(appender.error());
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, store_->HeadPosition());
  Status caught_up = WaitForCheckpoint(Checkpoint(), head, 60s, 5ms);
  EXPECT_EQ(KillChild(standby, SIGTERM), 0);
  ESTORIA_ASSERT_OK(caught_up);

  std::vector<HandlerInterval> first = ReadHandlerIntervals(active_log, death_ns);
  std::vector<HandlerInterval> second = ReadHandlerIntervals(standby_log, MonotonicNs());
  ASSERT_FALSE(first.empty());
  ASSERT_FALSE(second.empty());
  int64_t first_end = 0;
  for (const auto& iv : first) first_end = std::max(first_end, iv.end);
  int64_t second_begin = second.front().begin;
  for (const auto& iv : second) second_begin = std::min(second_begin, iv.begin);
  EXPECT_GT(second_begin, first_end) << "the standby handled an event while the active process was alive";
  // The standby continued from the checkpoint: it never handled an event at or
  // below the position committed before the kill.
  for (const auto& iv : second) EXPECT_GT(iv.position, before_kill);
  ExpectModelEqualsFold(head);
}

}  // namespace
}  // namespace estoria::testing
