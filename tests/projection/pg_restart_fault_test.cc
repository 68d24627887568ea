// The PostgreSQL server restarted (ESTORIA_TEST_PG_CTL stop, then start)
// during a projection run: a Processor over a PostgreSQL store writing a
// PostgreSQL read model (per-stream totals + an applied log, one transaction
// per batch with the checkpoint). The stop happens at a point the test
// controls, never by timing:
//  - while tailing: once the processor has applied every event (observed);
//  - mid-batch: while the handler is held inside event K of a batch (its
//    transaction open, earlier events of the batch written but uncommitted).
// The processor reports the outage (last_error), keeps running, resumes after
// the restart, and the read model ends equal to the fold of the log with
// every event applied exactly once. Runs alone (RUN_SERIAL): it stops the
// shared test server.
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "../postgres/pg_server_control.h"
#include "estoria/postgres/postgres_event_store.h"
#include "estoria/postgres/postgres_read_model.h"
#include "estoria/projection/processor.h"
#include "estoria/testing/matchers.h"
#include "pg_projection_util.h"

namespace estoria::testing {
namespace {

using namespace std::chrono_literals;

// A handler that can hold the processor inside one event.
class Gate {
 public:
  void Reached() {
    std::unique_lock<std::mutex> lock(mu_);
    reached_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  bool WaitReached(std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return reached_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool reached_ = false;
  bool open_ = false;
};

class ProjectionRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (PgUri().empty()) GTEST_SKIP() << "ESTORIA_TEST_POSTGRES is unset";
    const char* ctl = std::getenv("ESTORIA_TEST_PG_CTL");
    if (ctl == nullptr || *ctl == '\0') GTEST_SKIP() << "ESTORIA_TEST_PG_CTL is unset: cannot restart the server";
    server_ = std::make_unique<ServerControl>(ctl);
    schema_ = NewPgSchema("restart_run");
    postgres::PostgresOptions o = PgOptions(schema_);
    o.connect_timeout = 1000ms;
    o.query_timeout = 5000ms;
    o.logger = NullLogger();
    ESTORIA_ASSERT_OK_AND_ASSIGN(store_, postgres::PostgresEventStore::Open(o));
  }
  void TearDown() override {
    processor_.reset();
    if (!schema_.empty()) (void)DropPgSchema(schema_);
  }

  void StartProcessor(std::function<void(const Event&)> before_apply, FailurePolicy policy) {
    postgres::PostgresReadModelOptions mo;
    mo.conninfo = PgOptions(schema_).conninfo;
    mo.schema = schema_;
    mo.connect_timeout = 1000ms;
    mo.query_timeout = 5000ms;
    const std::string schema = schema_;
    mo.setup = [schema](postgres::PgConnection& c) { return PgCreateTables(c, schema); };
    auto model =
        postgres::PostgresReadModel::Open(mo, [schema, before_apply](postgres::PgConnection& c, const Event& e) {
          if (before_apply) before_apply(e);
          return PgApplyTotals(c, schema, e);
        });
    ASSERT_TRUE(model.has_value()) << model.error();
    ProcessorOptions po;
    po.name = "totals";
    po.batch_size = 16;
    po.poll_interval = 100ms;
    po.retry_interval = 100ms;
    po.failure_policy = policy;
    po.logger = NullLogger();
    auto p = Processor::Create(store_, *model, po);
    ASSERT_TRUE(p.has_value()) << p.error();
    processor_ = std::move(*p);
    ESTORIA_ASSERT_OK(processor_->Start());
  }

  // Waits until the processor reports an error (the outage) while the server
  // is down; the processor must still be running.
  void ExpectOutageReported() {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    ProcessorState st = processor_->state();
    while (st.last_error.ok() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
      st = processor_->state();
    }
    EXPECT_FALSE(st.last_error.ok()) << "the outage was not reported";
    EXPECT_NE(st.phase, ProcessorPhase::kFailed) << st.last_error;
    EXPECT_NE(st.phase, ProcessorPhase::kStopped);
  }

  // After the run: read model == fold, every event applied once, checkpoint
  // at the head.
  void ExpectModelEqualsFold(int64_t head) {
    ESTORIA_ASSERT_OK(processor_->WaitForPosition(head, 60s)) << processor_->state().last_error;
    ESTORIA_ASSERT_OK(processor_->Stop());
    postgres::PgConnectOptions co;
    co.conninfo = PgOptions(schema_).conninfo;
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto conn, postgres::PgConnection::Connect(co));
    ESTORIA_ASSERT_OK_AND_ASSIGN(TotalsByStream fold, FoldLog(*store_));
    ESTORIA_ASSERT_OK_AND_ASSIGN(TotalsByStream model, PgReadTotals(*conn, schema_));
    EXPECT_EQ(model, fold);
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto counts, PgAppliedCounts(*conn, schema_));
    EXPECT_EQ(counts.first, head) << "events applied more than once or missed";
    EXPECT_EQ(counts.second, head);
    EXPECT_EQ(processor_->state().checkpoint, head);
  }

  std::unique_ptr<ServerControl> server_;
  std::string schema_;
  std::shared_ptr<postgres::PostgresEventStore> store_;
  std::unique_ptr<Processor> processor_;
};

TEST_F(ProjectionRestartTest, TailingProcessorReportsTheOutageAndResumes) {
  ESTORIA_ASSERT_OK(AppendEvents(*store_, 100, 8).error());
  ASSERT_NO_FATAL_FAILURE(StartProcessor(nullptr, FailurePolicy::Stop()));
  ESTORIA_ASSERT_OK(processor_->WaitForPosition(100, 30s));
  ESTORIA_ASSERT_OK(processor_->WaitUntilCaughtUp(30s));

  ASSERT_TRUE(server_->Run("stop"));
  ExpectOutageReported();
  ASSERT_TRUE(server_->Run("start"));

  // Appends after the restart (the store reconnects) reach the processor.
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, AppendEvents(*store_, 100, 8));
  ASSERT_EQ(head, 200);
  ExpectModelEqualsFold(head);
}

TEST_F(ProjectionRestartTest, RestartInsideABatchRollsItBackAndAppliesItOnce) {
  ESTORIA_ASSERT_OK(AppendEvents(*store_, 100, 8).error());
  // Batches of 16: positions 33..48 form the third. Hold the handler inside
  // position 40 (33..39 written in the batch's open transaction).
  auto gate = std::make_shared<Gate>();
  auto first = std::make_shared<std::atomic<bool>>(true);
  // The handler's statements fail on the lost connection. That is the sink's
  // failure (PostgresReadModel::ApplyFailedInSink), not the handler's: even
  // under the default FailurePolicy::Stop the processor abandons the batch,
  // backs off and resumes from its checkpoint; nothing is parked.
  ASSERT_NO_FATAL_FAILURE(StartProcessor(
      [gate, first](const Event& e) {
        if (e.global_position == 40 && first->exchange(false)) gate->Reached();
      },
      FailurePolicy::Stop()));
  ASSERT_TRUE(gate->WaitReached(30s)) << "the processor never reached position 40";
  EXPECT_EQ(processor_->state().position, 32);  // two batches committed

  ASSERT_TRUE(server_->Run("stop"));  // kills the batch's transaction
  gate->Open();
  ExpectOutageReported();
  ASSERT_TRUE(server_->Run("start"));

  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, AppendEvents(*store_, 20, 8));
  ASSERT_EQ(head, 120);
  ExpectModelEqualsFold(head);
}

}  // namespace
}  // namespace estoria::testing
