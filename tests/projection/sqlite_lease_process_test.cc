// Two processes (estoria_projection_child, fork+exec) run the same projection
// with a SQLite read model, whose lease row (lease ttl 1 s in the child) is its
// lock, while appends continue:
//  - one active processor at a time: every handler call is logged with its pid
//    and CLOCK_MONOTONIC interval, and no call of one process overlaps a call
//    of another; only the lease holder ever handles events (a standby never
//    does before the holder dies);
//  - takeover: the holder is killed with SIGKILL three times (a new standby is
//    started after each kill); each time the standby handles its first event
//    within the lease ttl plus a margin after the kill, continuing from the
//    checkpoint;
//  - at the end the read model equals the fold of the log, every event applied
//    exactly once, and PRAGMA integrity_check is ok.
#include <algorithm>
#include <map>

#include "child_process_util.h"
#include "estoria/projection/wait.h"
#include "estoria/sqlite/sqlite_checkpoint_store.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "estoria/testing/matchers.h"
#include "sqlite_totals.h"

namespace estoria::testing {
namespace {

using namespace std::chrono_literals;

constexpr auto kLeaseTtl = 1000ms;  // as set by projection_child.cc
// Allowance beyond the ttl for the standby's lock retry (50 ms), its first
// batch, and a loaded machine.
constexpr auto kTakeoverMargin = 2000ms;

struct Child {
  pid_t pid = 0;
  std::string log;
  int64_t death_ns = 0;  // 0 while alive
};

class SqliteLeaseProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    children_.reserve(16);  // Find() pointers stay valid
    store_path_ = dir_.NewFile("store");
    model_path_ = dir_.NewFile("model");
    sqlite::SqliteOptions so;
    so.path = store_path_;
    so.durability = Durability::kRelaxed;
    ESTORIA_ASSERT_OK_AND_ASSIGN(store_, sqlite::SqliteEventStore::Open(so));
  }
  void TearDown() override {
    for (Child& c : children_) {
      if (c.death_ns == 0 && c.pid > 0) KillChild(c.pid);
    }
  }

  Child& Spawn() {
    Child c;
    c.log = dir_.NewFile("intervals");
    c.pid = SpawnChild({"sqlite", store_path_, model_path_, "totals", c.log});
    children_.push_back(c);
    return children_.back();
  }
  Child* Find(pid_t pid) {
    for (Child& c : children_) {
      if (c.pid == pid) return &c;
    }
    return nullptr;
  }
  // The checkpoint, once the first child has created the model file.
  Result<int64_t> Checkpoint() {
    if (!checkpoints_) {
      auto opened = sqlite::SqliteCheckpointStore::Open({model_path_});
      if (!opened) return Status::Unavailable(opened.error().ToString());
      checkpoints_ = *opened;
    }
    return checkpoints_->Load("totals");
  }
  std::function<Result<int64_t>()> CheckpointFn() {
    return [this] { return Checkpoint(); };
  }
  // The pid in the owner id ("<host>:<pid>:<random>") of the lease row.
  Result<pid_t> LeaseHolder() {
    ESTORIA_ASSIGN_OR_RETURN(auto db, sqlite::SqliteDatabase::Open(model_path_));
    ESTORIA_ASSIGN_OR_RETURN(std::string owner,
                             db->QueryText("SELECT owner FROM estoria_projection_leases WHERE name = 'totals'"));
    size_t last = owner.rfind(':');
    size_t first = last == std::string::npos || last == 0 ? std::string::npos : owner.rfind(':', last - 1);
    if (first == std::string::npos) return Status::Internal("unexpected lease owner " + owner);
    return static_cast<pid_t>(std::stol(owner.substr(first + 1, last - first - 1)));
  }

  TempDir dir_;
  std::string store_path_, model_path_;
  std::shared_ptr<sqlite::SqliteEventStore> store_;
  std::shared_ptr<sqlite::SqliteCheckpointStore> checkpoints_;
  std::vector<Child> children_;
};

TEST_F(SqliteLeaseProcessTest, OneActiveProcessorAndTakeoverAfterSigkill) {
  ESTORIA_ASSERT_OK(AppendEvents(*store_, 100, 16).error());
  SteadyAppender appender(store_);
  Spawn();
  Spawn();
  ESTORIA_ASSERT_OK(WaitForCheckpoint(CheckpointFn(), 150, 30s, 5ms));

  constexpr int kRounds = 3;
  pid_t expected = 0;  // the holder after the last takeover
  std::vector<int64_t> takeover_ms;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    // The holder makes progress (the new standby has started meanwhile).
    ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t now, Checkpoint());
    ESTORIA_ASSERT_OK(WaitForCheckpoint(CheckpointFn(), now + 50, 30s, 5ms));
    ESTORIA_ASSERT_OK_AND_ASSIGN(pid_t holder, LeaseHolder());
    Child* active = Find(holder);
    ASSERT_NE(active, nullptr) << "the lease is held by pid " << holder << ", not by a child";
    ASSERT_EQ(active->death_ns, 0) << "the lease is held by a dead child";
    if (expected != 0) {
      ASSERT_EQ(holder, expected) << "the lease moved without a kill";
    }

    ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t before_kill, Checkpoint());
    EXPECT_EQ(KillChild(holder), -SIGKILL);
    active->death_ns = MonotonicNs();
    // The standby takes over and continues from the checkpoint.
    ESTORIA_ASSERT_OK(WaitForCheckpoint(CheckpointFn(), before_kill + 50, 30s, 5ms));
    ESTORIA_ASSERT_OK_AND_ASSIGN(pid_t next, LeaseHolder());
    ASSERT_NE(next, holder);
    Child* standby = Find(next);
    ASSERT_NE(standby, nullptr);
    std::vector<HandlerInterval> handled = ReadHandlerIntervals(standby->log, MonotonicNs());
    ASSERT_FALSE(handled.empty());
    int64_t first_begin = handled.front().begin;
    EXPECT_GT(first_begin, active->death_ns) << "the standby handled an event while the holder was alive";
    EXPECT_GT(handled.front().position, before_kill) << "the standby did not continue from the checkpoint";
    int64_t took_ms = (first_begin - active->death_ns) / 1000000;
    takeover_ms.push_back(took_ms);
    EXPECT_LE(took_ms, (kLeaseTtl + kTakeoverMargin).count()) << "takeover took too long";
    expected = next;
    Spawn();  // the next standby
  }
  appender.Stop();
  ESTORIA_ASSERT_OK(appender.error());
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, store_->HeadPosition());
  Status caught_up = WaitForCheckpoint(CheckpointFn(), head, 60s, 5ms);
  for (Child& c : children_) {
    if (c.death_ns != 0) continue;
    EXPECT_EQ(KillChild(c.pid, SIGTERM), 0) << "pid " << c.pid << " did not stop cleanly (see its stderr)";
    c.death_ns = MonotonicNs();
  }
  ESTORIA_ASSERT_OK(caught_up);
  std::cout << "[          ] " << head << " events; takeover after SIGKILL (ms):";
  for (int64_t ms : takeover_ms) std::cout << " " << ms;
  std::cout << "\n";

  // No handler call of one process overlaps a call of another, and only the
  // successive lease holders handled events.
  std::vector<HandlerInterval> all;
  std::map<int, int64_t> calls;
  for (const Child& c : children_) {
    for (const HandlerInterval& iv : ReadHandlerIntervals(c.log, c.death_ns)) {
      EXPECT_EQ(iv.pid, c.pid);
      all.push_back(iv);
      ++calls[iv.pid];
    }
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.begin < b.begin; });
  std::map<int, int64_t> last_end;  // per pid, the latest end so far
  int overlaps = 0;
  for (const HandlerInterval& iv : all) {
    for (const auto& [pid, end] : last_end) {
      if (pid != iv.pid && iv.begin < end && ++overlaps <= 5) {
        ADD_FAILURE() << "pid " << iv.pid << " handled position " << iv.position << " while pid " << pid
                      << " was still in a handler call";
      }
    }
    last_end[iv.pid] = std::max(last_end[iv.pid], iv.end);
  }
  EXPECT_EQ(overlaps, 0);
  // The three killed holders and the last one; the last standby never handled.
  EXPECT_EQ(calls.size(), static_cast<size_t>(kRounds + 1)) << "only lease holders handle events";

  ESTORIA_ASSERT_OK_AND_ASSIGN(TotalsByStream fold, FoldLog(*store_));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto db, sqlite::SqliteDatabase::Open(model_path_));
  ESTORIA_ASSERT_OK_AND_ASSIGN(TotalsByStream model, ReadTotals(*db));
  EXPECT_EQ(model, fold);
  auto [rows, distinct] = AppliedCounts(*db);
  EXPECT_EQ(rows, head);  // every event once: none twice, none missed
  EXPECT_EQ(distinct, head);
  ESTORIA_ASSERT_OK_AND_ASSIGN(std::string integrity, db->QueryText("PRAGMA integrity_check"));
  EXPECT_EQ(integrity, "ok");
}

}  // namespace
}  // namespace estoria::testing
