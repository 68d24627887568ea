// Rebuild orchestration on a real SQLite store and read-model file: a rebuild
// SIGKILLed mid-way resumes from its checkpoint and cuts over, a rollback
// restores the previous version's reads, manual cut-over, abandon, history,
// and bad input that changes nothing.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stop_token>
#include <thread>

#include "estoria/projection/rebuild.h"
#include "estoria/projection/wait.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "estoria/sqlite/sqlite_projection_stores.h"
#include "estoria/sqlite/sqlite_read_model.h"
#include "estoria/testing/matchers.h"
#include "estoria/testing/temp_dir.h"
#include "projection_test_util.h"
#include "sqlite_totals.h"

namespace estoria::testing {
namespace {

using namespace std::chrono_literals;
using sqlite::SqliteDatabase;
using Kind = RebuildStep::Kind;

constexpr int kEvents = 400;

// The status has `code` and its message contains `text`.
MATCHER_P2(StatusWith, code, text, "") {
  Status s = ToStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code && s.message().find(text) != std::string::npos;
}

// Every version writes the same totals (tests change a version's rows to tell
// them apart). `fail_at`: the handler fails at that position (a bug); `kill_at`: the
// process SIGKILLs itself there.
sqlite::SqliteReadModelHandler Handler(int version, int64_t fail_at = 0, int64_t kill_at = 0) {
  std::string suffix = "_v" + std::to_string(version);
  return [=](SqliteDatabase& db, const Event& e) -> Status {
    if (kill_at != 0 && e.global_position == kill_at) raise(SIGKILL);
    if (fail_at != 0 && e.global_position == fail_at)
      return Status::Internal("handler bug at " + std::to_string(fail_at));
    return ApplyTotals(db, e, suffix);
  };
}

class SqliteRebuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_path_ = dir_.NewFile("store");
    model_path_ = dir_.NewFile("model");
    OpenAll();
  }
  void OpenAll() {
    sqlite::SqliteOptions o;
    o.path = store_path_;
    o.durability = Durability::kRelaxed;
    auto store = sqlite::SqliteEventStore::Open(o);
    ASSERT_TRUE(store.ok()) << store.error();
    store_ = *store;
    auto catalog = sqlite::SqliteRebuildCatalog::Open({model_path_});
    ASSERT_TRUE(catalog.ok()) << catalog.error();
    catalog_ = *catalog;
  }
  void CloseAll() {
    store_.reset();
    catalog_.reset();
  }
  RebuildSinkFactory Factory(int64_t fail_at = 0, int64_t kill_at = 0) {
    return [=, this](int version) -> Result<RebuildSink> {
      sqlite::SqliteReadModelOptions o;
      o.path = model_path_;
      o.durability = Durability::kRelaxed;
      std::string suffix = "_v" + std::to_string(version);
      o.setup = [suffix](SqliteDatabase& db) { return CreateTables(db, suffix); };
      o.lease_ttl = 300ms;
      ESTORIA_ASSIGN_OR_RETURN(auto model, sqlite::SqliteReadModel::Open(o, Handler(version, fail_at, kill_at)));
      return RebuildSink{model, model};
    };
  }
  RebuildOptions Options() {
    RebuildOptions o;
    o.name = "totals";
    o.tables = {"totals", "applied"};
    o.processor.batch_size = 16;
    o.processor.retry_interval = 20ms;
    o.progress_interval = 20ms;
    return o;
  }
  // The totals the readers see: the active version's table.
  Result<TotalsByStream> ActiveReads() {
    ESTORIA_ASSIGN_OR_RETURN(int active, catalog_->versions().ActiveVersion("totals"));
    ESTORIA_ASSIGN_OR_RETURN(auto db, SqliteDatabase::Open(model_path_));
    return ReadTotals(*db, "_v" + std::to_string(active));
  }
  Result<int64_t> Query(const std::string& sql) {
    ESTORIA_ASSIGN_OR_RETURN(auto db, SqliteDatabase::Open(model_path_));
    return db->QueryInt64(sql);
  }
  Status Exec(const std::string& sql) {
    ESTORIA_ASSIGN_OR_RETURN(auto db, SqliteDatabase::Open(model_path_));
    return db->Exec(sql);
  }
  std::vector<std::string> Kinds() {
    std::vector<std::string> out;
    auto h = catalog_->History("totals");
    EXPECT_TRUE(h.ok()) << h.error();
    if (!h.ok()) return out;
    for (const auto& s : *h) out.push_back(std::string(RebuildStepKindName(s.kind)) + std::to_string(s.version));
    return out;
  }

  TempDir dir_;
  std::string store_path_, model_path_;
  std::shared_ptr<EventStore> store_;
  std::shared_ptr<sqlite::SqliteRebuildCatalog> catalog_;
};

TEST_F(SqliteRebuildTest, KilledMidwayResumesCutsOverAndRollsBack) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, AppendEvents(*store_, kEvents));
  ESTORIA_ASSERT_OK_AND_ASSIGN(TotalsByStream fold, FoldLog(*store_->global_reader()));

  // Version 1: the first build, promoted when caught up.
  std::vector<RebuildProgress> progress;
  RebuildOptions o1 = Options();
  o1.on_progress = [&](const RebuildProgress& p) { progress.push_back(p); };
  ESTORIA_ASSERT_OK_AND_ASSIGN(RebuildResult v1, RebuildProjection(store_, *catalog_, Factory(), o1));
  EXPECT_EQ(v1.version, 1);
  EXPECT_FALSE(v1.resumed);
  EXPECT_TRUE(v1.promoted);
  EXPECT_EQ(v1.events_done, head);
  ASSERT_FALSE(progress.empty());
  EXPECT_TRUE(progress.back().caught_up);
  EXPECT_EQ(progress.back().position, head);
  EXPECT_EQ(progress.back().head, head);
  EXPECT_EQ(progress.back().eta, 0s);
  ESTORIA_ASSERT_OK_AND_ASSIGN(TotalsByStream reads, ActiveReads());
  EXPECT_EQ(reads, fold);

  // Version 2 in a child process, SIGKILLed by its handler half-way.
  const int64_t kill_at = head / 2;
  CloseAll();
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    OpenAll();
    auto r = RebuildProjection(store_, *catalog_, Factory(0, kill_at), Options());
    _exit(r.ok() ? 0 : 3);
  }
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL) << "child status " << wstatus;
  OpenAll();
  EXPECT_EQ(Kinds(), (std::vector<std::string>{"started1", "caught_up1", "promoted1", "started2"}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t checkpoint, catalog_->checkpoints().Load("totals_v2"));
  EXPECT_GT(checkpoint, 0);
  EXPECT_LT(checkpoint, kill_at);
  ESTORIA_ASSERT_OK_AND_ASSIGN(ProjectionVersions described, DescribeProjectionVersions(*catalog_, "totals"));
  EXPECT_EQ(described.active, 1);
  EXPECT_EQ(described.unfinished, 2);
  EXPECT_EQ(described.tables, (std::vector<std::string>{"totals", "applied"}));
  // The readers still see version 1.
  ESTORIA_ASSERT_OK_AND_ASSIGN(reads, ActiveReads());
  EXPECT_EQ(reads, fold);

  // Re-running resumes version 2 from its checkpoint (not from 0) and cuts over.
  RebuildOptions o2 = Options();
  int64_t first_start = -1;
  o2.on_progress = [&](const RebuildProgress& p) {
    if (first_start < 0) first_start = p.start_position;
  };
  ESTORIA_ASSERT_OK_AND_ASSIGN(RebuildResult v2, RebuildProjection(store_, *catalog_, Factory(), o2));
  EXPECT_EQ(v2.version, 2);
  EXPECT_TRUE(v2.resumed);
  EXPECT_TRUE(v2.promoted);
  EXPECT_EQ(first_start, checkpoint);
  EXPECT_EQ(v2.events_done, head - checkpoint);
  // Every event applied exactly once by version 2 across the crash.
  EXPECT_EQ(Query("SELECT COUNT(*) FROM applied_v2").value_or(-1), head);
  EXPECT_EQ(Query("SELECT COUNT(DISTINCT position) FROM applied_v2").value_or(-1), head);
  ESTORIA_ASSERT_OK_AND_ASSIGN(int active, catalog_->versions().ActiveVersion("totals"));
  EXPECT_EQ(active, 2);
  ESTORIA_ASSERT_OK_AND_ASSIGN(reads, ActiveReads());
  EXPECT_EQ(reads, fold);
  // The old version's tables are kept for a rollback.
  EXPECT_EQ(Query("SELECT COUNT(*) FROM applied_v1").value_or(-1), head);

  // Rollback: the readers see version 1's rows again.
  ESTORIA_ASSERT_OK(Exec("UPDATE totals_v2 SET total = -1"));  // tell the versions' rows apart
  ESTORIA_ASSERT_OK_AND_ASSIGN(reads, ActiveReads());
  EXPECT_NE(reads, fold);
  ESTORIA_ASSERT_OK_AND_ASSIGN(RebuildStep back, RollbackProjection(*catalog_, *store_->global_reader(), "totals"));
  EXPECT_EQ(back.version, 2);
  EXPECT_EQ(back.active_version, 1);
  ESTORIA_ASSERT_OK_AND_ASSIGN(active, catalog_->versions().ActiveVersion("totals"));
  EXPECT_EQ(active, 1);
  ESTORIA_ASSERT_OK_AND_ASSIGN(reads, ActiveReads());
  EXPECT_EQ(reads, fold);

  // Abandon (default: the rolled-back version) drops its tables and checkpoint.
  ESTORIA_ASSERT_OK_AND_ASSIGN(RebuildStep dropped,
                               AbandonProjectionVersion(*catalog_, *store_->global_reader(), "totals"));
  EXPECT_EQ(dropped.version, 2);
  EXPECT_EQ(dropped.detail, "dropped totals_v2,applied_v2");
  EXPECT_THAT(Query("SELECT COUNT(*) FROM totals_v2").status(), StatusIs(StatusCode::kInvalidArgument));
  ESTORIA_ASSERT_OK_AND_ASSIGN(std::vector<Checkpoint> checkpoints, catalog_->checkpoints().List());
  ASSERT_EQ(checkpoints.size(), 1u);
  EXPECT_EQ(checkpoints[0].name, "totals_v1");

  EXPECT_EQ(Kinds(), (std::vector<std::string>{"started1", "caught_up1", "promoted1", "started2", "resumed2",
                                               "caught_up2", "promoted2", "rolled_back2", "abandoned2"}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(std::vector<RebuildStep> history, catalog_->History("totals"));
  EXPECT_EQ(history[0].detail, "totals,applied");
  EXPECT_EQ(history[6].previous_version, 1);
  EXPECT_EQ(history[6].position, head);
  EXPECT_EQ(history[4].position, checkpoint);
  for (size_t i = 1; i < history.size(); ++i) {
    EXPECT_GT(history[i].seq, history[i - 1].seq);
    EXPECT_GE(history[i].at, history[i - 1].at);
  }
  // Rolling back again: version 1 replaced nothing.
  EXPECT_THAT(RollbackProjection(*catalog_, *store_->global_reader(), "totals").status(),
              StatusWith(StatusCode::kFailedPrecondition, ("no previous version")));
}

TEST_F(SqliteRebuildTest, ManualCutOverAndBadInputChangeNothing) {
  GlobalReader& reader = *store_->global_reader();
  // Unknown projection.
  EXPECT_THAT(RollbackProjection(*catalog_, reader, "nosuch").status(),
              StatusWith(StatusCode::kNotFound, ("projection nosuch")));
  EXPECT_THAT(CutOverProjection(*catalog_, reader, "nosuch").status(), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(AbandonProjectionVersion(*catalog_, reader, "nosuch").status(), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(RollbackProjection(*catalog_, reader, "Bad-Name").status(), StatusIs(StatusCode::kInvalidArgument));

  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, AppendEvents(*store_, 120));
  ESTORIA_ASSERT_OK_AND_ASSIGN(TotalsByStream fold, FoldLog(reader));
  ESTORIA_ASSERT_OK(RebuildProjection(store_, *catalog_, Factory(), Options()).status());

  // A rebuild whose handler fails half-way stops with an error naming it...
  auto failed = RebuildProjection(store_, *catalog_, Factory(head / 2), Options());
  EXPECT_THAT(failed.status(), StatusWith(StatusCode::kFailedPrecondition, ("version 2 of projection totals")));
  EXPECT_THAT(failed.status(), StatusWith(StatusCode::kFailedPrecondition, ("handler bug")));
  // ...and cannot be cut over: it has not caught up. Nothing changes.
  std::vector<std::string> before = Kinds();
  EXPECT_THAT(CutOverProjection(*catalog_, reader, "totals").status(),
              StatusWith(StatusCode::kFailedPrecondition, ("not caught up")));
  EXPECT_THAT(AbandonProjectionVersion(*catalog_, reader, "totals", 1).status(),
              StatusWith(StatusCode::kFailedPrecondition, ("is active")));
  EXPECT_THAT(AbandonProjectionVersion(*catalog_, reader, "totals", 7).status(),
              StatusWith(StatusCode::kNotFound, ("no version 7")));
  EXPECT_THAT(CutOverProjection(*catalog_, reader, "totals", 1).status(),
              StatusWith(StatusCode::kFailedPrecondition, ("already active")));
  EXPECT_EQ(Kinds(), before);
  ESTORIA_ASSERT_OK_AND_ASSIGN(int active, catalog_->versions().ActiveVersion("totals"));
  EXPECT_EQ(active, 1);
  ESTORIA_ASSERT_OK_AND_ASSIGN(TotalsByStream reads, ActiveReads());
  EXPECT_EQ(reads, fold);

  // --no-cutover: the fixed rebuild resumes, catches up and keeps tailing
  // until an operator cuts over (here from this thread, as the CLI would).
  RebuildOptions manual = Options();
  manual.cutover = false;
  Result<RebuildResult> result = Status::Internal("not run");
  std::thread rebuild([&] { result = RebuildProjection(store_, *catalog_, Factory(), manual); });
  for (int i = 0; i < 1000; ++i) {
    auto h = catalog_->History("totals");
    if (h.ok() && !h->empty() && h->back().kind == Kind::kCaughtUp) break;
    std::this_thread::sleep_for(10ms);
  }
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head2, AppendEvents(*store_, 10));  // the tailing version follows
  ESTORIA_ASSERT_OK(WaitForCheckpoint(catalog_->checkpoints(), "totals_v2", head2, 30s));
  ESTORIA_ASSERT_OK_AND_ASSIGN(RebuildStep promoted, CutOverProjection(*catalog_, reader, "totals"));
  rebuild.join();
  ESTORIA_ASSERT_OK(result.status());
  EXPECT_TRUE(result->promoted);
  EXPECT_TRUE(result->resumed);
  EXPECT_EQ(promoted.version, 2);
  EXPECT_EQ(promoted.previous_version, 1);
  ESTORIA_ASSERT_OK_AND_ASSIGN(fold, FoldLog(reader));
  ESTORIA_ASSERT_OK_AND_ASSIGN(reads, ActiveReads());
  EXPECT_EQ(reads, fold);
  EXPECT_EQ(Kinds(), (std::vector<std::string>{"started1", "caught_up1", "promoted1", "started2", "resumed2",
                                               "caught_up2", "promoted2"}));
  // Nothing left to cut over or abandon by default.
  EXPECT_THAT(CutOverProjection(*catalog_, reader, "totals").status(),
              StatusWith(StatusCode::kNotFound, ("no unfinished rebuild")));
  EXPECT_THAT(AbandonProjectionVersion(*catalog_, reader, "totals").status(),
              StatusWith(StatusCode::kNotFound, ("no unfinished or rolled-back version")));
}

}  // namespace
}  // namespace estoria::testing
