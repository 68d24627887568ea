// Projections on PostgreSQL (skipped without ESTORIA_TEST_POSTGRES; each test in
// its own schema): the shared processor suite, and PostgresReadModel:
// exactly-once rows + checkpoint, retry and park in transactions, the advisory
// lock (one active processor, takeover, fencing after a lost session), versions.
#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "estoria/event_sourced_store.h"
#include "estoria/memory/memory_stores.h"
#include "estoria/postgres/postgres_advisory_lock.h"
#include "estoria/postgres/postgres_checkpoint_store.h"
#include "estoria/postgres/postgres_event_store.h"
#include "estoria/postgres/postgres_projection_stores.h"
#include "estoria/postgres/postgres_read_model.h"
#include "estoria/projection/processor.h"
#include "estoria/projection/rebuild.h"
#include "estoria/projection/versioning.h"
#include "estoria/projection/wait.h"
#include "estoria/testing/matchers.h"
#include "pg_projection_util.h"
#include "processor_suite.h"
#include "projection_test_util.h"
#include "wallet_types.h"

namespace estoria::testing {
namespace {

using namespace std::chrono_literals;
using postgres::PgConnection;
using postgres::PostgresReadModel;

std::string last_schema;
std::vector<std::string>& Schemas() {
  static auto* s = new std::vector<std::string>();
  return *s;
}

class DropSchemas : public ::testing::Environment {
 public:
  void TearDown() override {
    if (PgUri().empty()) return;
    for (const auto& s : Schemas()) (void)DropPgSchema(s);
  }
};
const auto* const kDropSchemas = ::testing::AddGlobalTestEnvironment(new DropSchemas);

Result<std::shared_ptr<EventStore>> OpenPg(const std::string& schema) {
  if (PgUri().empty()) return Status::NotSupported("ESTORIA_TEST_POSTGRES is unset");
  ESTORIA_ASSIGN_OR_RETURN(auto store, postgres::PostgresEventStore::Open(PgOptions(schema)));
  return std::shared_ptr<EventStore>(store);
}

INSTANTIATE_TEST_SUITE_P(Postgres, ProcessorSuite,
                         ::testing::Values(ProcessorBackend{"postgres",
                                                            []() {
                                                              last_schema = NewPgSchema("suite");
                                                              Schemas().push_back(last_schema);
                                                              return OpenPg(last_schema);
                                                            },
                                                            []() { return OpenPg(last_schema); }}),
                         [](const auto& info) { return info.param.name; });

class PostgresReadModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (PgUri().empty()) GTEST_SKIP() << "ESTORIA_TEST_POSTGRES is unset";
    schema_ = NewPgSchema("rm");
    Schemas().push_back(schema_);
    auto store = OpenPg(schema_);
    ASSERT_TRUE(store.ok()) << store.error();
    store_ = *store;
  }
  Result<std::shared_ptr<PostgresReadModel>> OpenModel(postgres::PostgresReadModelHandler handler,
                                                       const std::string& suffix = "") {
    postgres::PostgresReadModelOptions o;
    o.conninfo = PgOptions(schema_).conninfo;
    o.schema = schema_;
    std::string schema = schema_;
    o.setup = [schema, suffix](PgConnection& c) { return PgCreateTables(c, schema, suffix); };
    return PostgresReadModel::Open(o, std::move(handler));
  }
  postgres::PostgresReadModelHandler Totals() {
    std::string schema = schema_;
    return [schema](PgConnection& c, const Event& e) { return PgApplyTotals(c, schema, e); };
  }
  void ExpectModelEqualsFold(PostgresReadModel& model, const std::string& name, int64_t head) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(TotalsByStream fold, FoldLog(*store_->global_reader()));
    ESTORIA_ASSERT_OK(model.Read([&](PgConnection& c) -> Status {
      auto totals = PgReadTotals(c, schema_);
      EXPECT_TRUE(totals.ok()) << totals.error();
      if (totals.ok()) {
        EXPECT_EQ(*totals, fold);
      }
      auto counts = PgAppliedCounts(c, schema_);
      EXPECT_TRUE(counts.ok());
      if (counts.ok()) {
        EXPECT_EQ(counts->first, counts->second);
      }
      return Status::Ok();
    }));
    ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t checkpoint, model.LoadPosition(name));
    EXPECT_EQ(checkpoint, head);
  }
  std::string schema_;
  std::shared_ptr<EventStore> store_;
};

TEST_F(PostgresReadModelTest, ReplayCatchUpAndTailExactlyOnce) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t history, AppendEvents(*store_, 300, 7));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto model, OpenModel(Totals()));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto p, Processor::Create(store_, model, {.name = "totals", .batch_size = 64}));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK(p->WaitForPosition(history, 60s));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t last, AppendEvents(*store_, 30, 3));  // tail: woken by LISTEN/NOTIFY
  ESTORIA_ASSERT_OK(p->WaitForPosition(last, 30s));
  ExpectModelEqualsFold(*model, "totals", last);
  ESTORIA_ASSERT_OK(p->Stop());
}

TEST_F(PostgresReadModelTest, FailedHandlerCallLeavesNoRowsAndIsRetried) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t last, AppendEvents(*store_, 30));
  std::atomic<int> calls{0};
  auto totals = Totals();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto model, OpenModel([&](PgConnection& c, const Event& e) -> Status {
                                 ESTORIA_RETURN_IF_ERROR(totals(c, e));
                                 if (e.global_position == 11 && calls++ == 0) return Status::Unavailable("flaky");
                                 return Status::Ok();
                               }));
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto p, Processor::Create(store_, model,
                                {.name = "totals", .batch_size = 8, .failure_policy = FailurePolicy::Retry(3, 5ms)}));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK(p->WaitForPosition(last, 60s));
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(p->state().retries, 1);
  ExpectModelEqualsFold(*model, "totals", last);
  ESTORIA_ASSERT_OK(p->Stop());
}

TEST_F(PostgresReadModelTest, ParkedEventIsListedAndReplayed) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t last, AppendEvents(*store_, 20));
  std::atomic<bool> broken{true};
  auto totals = Totals();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto model, OpenModel([&](PgConnection& c, const Event& e) -> Status {
                                 ESTORIA_RETURN_IF_ERROR(totals(c, e));
                                 if (e.global_position == 6 && broken) throw std::runtime_error("cannot project 6");
                                 return Status::Ok();
                               }));
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto p, Processor::Create(store_, model, {.name = "totals", .failure_policy = FailurePolicy::Park(1)}));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK(p->WaitForPosition(last, 60s));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto parked, p->ListParked());
  ASSERT_EQ(parked.size(), 1u);
  EXPECT_EQ(parked[0].event.global_position, 6);
  EXPECT_NE(parked[0].error.find("cannot project 6"), std::string::npos);
  ReadAllOptions one;
  one.after_position = 5;
  one.count = 1;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto original, store_->global_reader()->ReadAll(one));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto originals, Collect(*original));
  EXPECT_EQ(parked[0].event, originals.at(0));  // stored verbatim
  broken = false;
  ESTORIA_ASSERT_OK(p->ReplayParked(6));
  ESTORIA_ASSERT_OK_AND_ASSIGN(parked, p->ListParked());
  EXPECT_TRUE(parked.empty());
  ExpectModelEqualsFold(*model, "totals", last);
  EXPECT_THAT(p->DiscardParked(6), StatusIs(StatusCode::kNotFound));
  ESTORIA_ASSERT_OK(p->Stop());
}

TEST_F(PostgresReadModelTest, RunningProcessorServesAReplayRequestFromAnotherConnection) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t last, AppendEvents(*store_, 12));
  std::atomic<bool> broken{true};
  auto totals = Totals();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto model, OpenModel([&](PgConnection& c, const Event& e) -> Status {
                                 ESTORIA_RETURN_IF_ERROR(totals(c, e));
                                 if (e.global_position == 4 && broken) return Status::Internal("cannot project 4");
                                 return Status::Ok();
                               }));
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto p,
      Processor::Create(
          store_, model,
          {.name = "totals", .poll_interval = 20ms, .failure_policy = FailurePolicy::Park(1), .logger = NullLogger()}));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK(p->WaitForPosition(last, 60s));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto outside, postgres::PostgresDeadLetterStore::Open(PgOptions(schema_)));  // the CLI
  ASSERT_EQ(outside->List("totals").value().size(), 1u);
  EXPECT_THAT(outside->RequestReplay("totals", 5), StatusIs(StatusCode::kNotFound));
  broken = false;
  EXPECT_EQ(outside->RequestReplay("totals", 4).value(), 1);
  auto deadline = std::chrono::steady_clock::now() + 30s;  // await the condition
  while (!outside->List("totals").value().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(outside->List("totals").value().empty());
  EXPECT_TRUE(outside->ListReplayRequests("totals").value().empty());
  ExpectModelEqualsFold(*model, "totals", last);  // position 4 applied exactly once
  ESTORIA_ASSERT_OK(p->Stop());
}

TEST_F(PostgresReadModelTest, AdvisoryLockAllowsOneActiveProcessorAndFailsOver) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a_model, OpenModel(Totals()));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto b_model, OpenModel(Totals()));
  ProcessorOptions o{.name = "totals", .batch_size = 8, .lock_retry_interval = 20ms};
  o.lock = a_model;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, Processor::Create(store_, a_model, o));
  o.lock = b_model;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto b, Processor::Create(store_, b_model, o));
  ESTORIA_ASSERT_OK(a->Start());
  ESTORIA_ASSERT_OK(a->WaitUntilCaughtUp(30s));
  EXPECT_TRUE(a->state().active);
  ESTORIA_ASSERT_OK(b->Start());
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t first, AppendEvents(*store_, 20));
  ESTORIA_ASSERT_OK(a->WaitForPosition(first, 30s));
  EXPECT_EQ(b->state().phase, ProcessorPhase::kStandby);
  ESTORIA_ASSERT_OK(a->Stop());
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t second, AppendEvents(*store_, 10));
  ESTORIA_ASSERT_OK(b->WaitForPosition(second, 30s));
  EXPECT_EQ(b->state().events_handled, second - first);
  ExpectModelEqualsFold(*b_model, "totals", second);
  ESTORIA_ASSERT_OK(b->Stop());
}

TEST_F(PostgresReadModelTest, LostSessionIsFencedAndRecovers) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto model, OpenModel(Totals()));
  ProcessorOptions o{.name = "totals", .retry_interval = 20ms, .lock_retry_interval = 20ms};
  o.lock = model;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto p, Processor::Create(store_, model, o));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t first, AppendEvents(*store_, 10));
  ESTORIA_ASSERT_OK(p->WaitForPosition(first, 30s));
  // Kill the read model's session (it holds the advisory lock).
  int pid = 0;
  ESTORIA_ASSERT_OK(model->Read([&](PgConnection& c) {
    pid = PQbackendPID(c.raw());
    return Status::Ok();
  }));
  postgres::PgConnectOptions co;
  co.conninfo = PgOptions(schema_).conninfo;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto admin, PgConnection::Connect(co));
  ESTORIA_ASSERT_OK(admin->ExecParams("SELECT pg_terminate_backend($1)", postgres::PgParams().Int32(pid)).error());
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t second, AppendEvents(*store_, 10));
  ESTORIA_ASSERT_OK(p->WaitForPosition(second, 30s));  // reconnects, re-acquires, resumes from the checkpoint
  EXPECT_TRUE(p->state().active);
  ExpectModelEqualsFold(*model, "totals", second);
  ESTORIA_ASSERT_OK(p->Stop());
}

// Rebuild orchestration on PostgreSQL: a rebuild stopped mid-way by a failing
// handler resumes from its checkpoint and cuts over; a rollback restores the
// previous version's reads; abandon drops the tables; history lists it all.
TEST_F(PostgresReadModelTest, RebuildResumesCutsOverRollsBackAndAbandons) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, AppendEvents(*store_, 120));
  ESTORIA_ASSERT_OK_AND_ASSIGN(TotalsByStream fold, FoldLog(*store_->global_reader()));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto catalog, postgres::PostgresRebuildCatalog::Open(PgOptions(schema_)));
  std::string schema = schema_;
  auto factory = [&](int64_t fail_at) -> RebuildSinkFactory {
    return [=, this](int v) -> Result<RebuildSink> {
      std::string suffix = "_v" + std::to_string(v);
      postgres::PostgresReadModelOptions o;
      o.conninfo = PgOptions(schema_).conninfo;
      o.schema = schema_;
      o.setup = [schema, suffix](PgConnection& c) { return PgCreateTables(c, schema, suffix); };
      ESTORIA_ASSIGN_OR_RETURN(auto model, PostgresReadModel::Open(o, [=](PgConnection& c, const Event& e) -> Status {
                                 if (e.global_position == fail_at) return Status::Internal("handler bug");
                                 return PgApplyTotals(c, schema, e, suffix);
                               }));
      return RebuildSink{model, model};
    };
  };
  RebuildOptions options;
  options.name = "totals";
  options.tables = {"totals", "applied"};
  options.processor.batch_size = 16;
  options.progress_interval = 20ms;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto admin, PgConnection::Connect({.conninfo = PgOptions(schema_).conninfo}));
  auto active_reads = [&]() -> Result<TotalsByStream> {
    ESTORIA_ASSIGN_OR_RETURN(int active, catalog->versions().ActiveVersion("totals"));
    return PgReadTotals(*admin, schema, "_v" + std::to_string(active));
  };

  ESTORIA_ASSERT_OK_AND_ASSIGN(RebuildResult v1, RebuildProjection(store_, *catalog, factory(0), options));
  EXPECT_TRUE(v1.promoted);
  EXPECT_THAT(RebuildProjection(store_, *catalog, factory(head / 2), options).status(),
              StatusIs(StatusCode::kFailedPrecondition));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t checkpoint, catalog->checkpoints().Load("totals_v2"));
  EXPECT_GT(checkpoint, 0);
  EXPECT_LT(checkpoint, head / 2);
  EXPECT_THAT(CutOverProjection(*catalog, *store_->global_reader(), "totals").status(),
              StatusIs(StatusCode::kFailedPrecondition));
  ESTORIA_ASSERT_OK_AND_ASSIGN(RebuildResult v2, RebuildProjection(store_, *catalog, factory(0), options));
  EXPECT_EQ(v2.version, 2);
  EXPECT_TRUE(v2.resumed);
  EXPECT_TRUE(v2.promoted);
  EXPECT_EQ(v2.events_done, head - checkpoint);
  ESTORIA_ASSERT_OK_AND_ASSIGN(TotalsByStream reads, active_reads());
  EXPECT_EQ(reads, fold);
  // Every event applied exactly once by version 2 across the failure.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto applied, admin->Exec("SELECT count(*), count(DISTINCT position) FROM " +
                                                         postgres::QuoteIdentifier(schema) + ".applied_v2"));
  EXPECT_EQ(applied.Int64(0, 0), head);
  EXPECT_EQ(applied.Int64(0, 1), head);

  ESTORIA_ASSERT_OK(admin->Exec("UPDATE " + postgres::QuoteIdentifier(schema) + ".totals_v2 SET total = -1").error());
  ESTORIA_ASSERT_OK_AND_ASSIGN(reads, active_reads());
  EXPECT_NE(reads, fold);
  ESTORIA_ASSERT_OK(RollbackProjection(*catalog, *store_->global_reader(), "totals").status());
  ESTORIA_ASSERT_OK_AND_ASSIGN(reads, active_reads());
  EXPECT_EQ(reads, fold);
  ESTORIA_ASSERT_OK(AbandonProjectionVersion(*catalog, *store_->global_reader(), "totals").status());
  EXPECT_FALSE(PgReadTotals(*admin, schema, "_v2").ok());  // dropped
  EXPECT_EQ(catalog->checkpoints().Load("totals_v2").value_or(-1), 0);

  ESTORIA_ASSERT_OK_AND_ASSIGN(std::vector<RebuildStep> history, catalog->History("totals"));
  std::vector<std::string> kinds;
  for (const auto& step : history)
    kinds.push_back(std::string(RebuildStepKindName(step.kind)) + std::to_string(step.version));
  EXPECT_EQ(kinds, (std::vector<std::string>{"started1", "caught_up1", "promoted1", "started2", "resumed2",
                                             "caught_up2", "promoted2", "rolled_back2", "abandoned2"}));
  EXPECT_THAT(RollbackProjection(*catalog, *store_->global_reader(), "totals").status(),
              StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(RollbackProjection(*catalog, *store_->global_reader(), "nosuch").status(),
              StatusIs(StatusCode::kNotFound));
}

TEST_F(PostgresReadModelTest, RebuildBesideTheLiveVersionThenCutOver) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, AppendEvents(*store_, 40));
  std::string schema = schema_;
  auto version = [&](int v) {
    std::string suffix = "_v" + std::to_string(v);
    postgres::PostgresReadModelOptions o;
    o.conninfo = PgOptions(schema_).conninfo;
    o.schema = schema_;
    o.setup = [schema, suffix](PgConnection& c) { return PgCreateTables(c, schema, suffix); };
    return PostgresReadModel::Open(
        o, [schema, suffix](PgConnection& c, const Event& e) { return PgApplyTotals(c, schema, e, suffix); });
  };
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto registry, postgres::PostgresVersionRegistry::Open(PgOptions(schema_)));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto v1_model, version(1));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto v1,
                               Processor::Create(store_, v1_model, {.name = VersionedName("totals", 1).value()}));
  ESTORIA_ASSERT_OK(v1->Start());
  ESTORIA_ASSERT_OK(v1->WaitForPosition(head, 30s));
  ESTORIA_ASSERT_OK(registry->SetActiveVersion("totals", 1));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto v2_model, version(2));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto v2,
                               Processor::Create(store_, v2_model, {.name = VersionedName("totals", 2).value()}));
  ESTORIA_ASSERT_OK(v2->Start());
  ESTORIA_ASSERT_OK(v2->WaitUntilCaughtUp(30s));
  ESTORIA_ASSERT_OK(CutOver(*registry, *store_->global_reader(), "totals", 2, v2->state().position));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int active, registry->ActiveVersion("totals"));
  EXPECT_EQ(active, 2);
  ESTORIA_ASSERT_OK(v1->Stop());
  ESTORIA_ASSERT_OK(v1_model->Read([&](PgConnection& c) {
    auto t1 = PgReadTotals(c, schema, "_v1");
    auto t2 = PgReadTotals(c, schema, "_v2");
    EXPECT_TRUE(t1.ok() && t2.ok());
    if (t1.ok() && t2.ok()) {
      EXPECT_EQ(*t1, *t2);
    }
    return postgres::PostgresProjectionTables::DropTables(c, schema, {"totals_v1", "applied_v1"});
  }));
  ESTORIA_ASSERT_OK(v1_model->Read([&](PgConnection& c) {
    EXPECT_FALSE(c.Exec("SELECT 1 FROM " + postgres::QuoteIdentifier(schema) + ".totals_v1").ok());
    return Status::Ok();
  }));
  ESTORIA_ASSERT_OK(v2->Stop());
}

TEST_F(PostgresReadModelTest, DedicatedAdvisoryLockForAPlainHandler) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto checkpoints, postgres::PostgresCheckpointStore::Open(PgOptions(schema_)));
  postgres::PostgresAdvisoryLockOptions lo;
  lo.conninfo = PgOptions(schema_).conninfo;
  lo.scope = schema_;
  lo.renew_interval = 50ms;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a_lock, postgres::PostgresAdvisoryLock::Open(lo));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto b_lock, postgres::PostgresAdvisoryLock::Open(lo));
  auto a_rec = std::make_shared<Recorder>();
  auto b_rec = std::make_shared<Recorder>();
  auto sink = [&](std::shared_ptr<Recorder> r) {
    return MemoryDeadLetterSink([r](const Event& e) { return r->Handle(e); }, checkpoints);
  };
  ProcessorOptions o{.name = "plain", .checkpoint_every_events = 1, .lock_retry_interval = 20ms};
  o.lock = a_lock;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, Processor::Create(store_, sink(a_rec), o));
  o.lock = b_lock;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto b, Processor::Create(store_, sink(b_rec), o));
  ESTORIA_ASSERT_OK(a->Start());
  ESTORIA_ASSERT_OK(a->WaitUntilCaughtUp(30s));
  ESTORIA_ASSERT_OK(b->Start());
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t first, AppendEvents(*store_, 10));
  ESTORIA_ASSERT_OK(a->WaitForPosition(first, 30s));
  EXPECT_EQ(b->state().phase, ProcessorPhase::kStandby);
  // The lock's session dies (as with its process): a notices at its next renew
  // and stops handling; whichever acquires the freed lock first (b, or a on a
  // new session) continues from the checkpoint.
  postgres::PgConnectOptions co;
  co.conninfo = PgOptions(schema_).conninfo;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto admin, PgConnection::Connect(co));
  ESTORIA_ASSERT_OK(
      admin->ExecParams("SELECT pg_terminate_backend($1)", postgres::PgParams().Int32(a_lock->backend_pid())).error());
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t second, AppendEvents(*store_, 10));
  ESTORIA_ASSERT_OK(WaitForCheckpoint(*checkpoints, "plain", second, 30s));
  std::set<int64_t> handled;
  for (int64_t pos : a_rec->positions()) handled.insert(pos);
  for (int64_t pos : b_rec->positions()) handled.insert(pos);
  EXPECT_EQ(handled.size(), static_cast<size_t>(second));  // nothing missed (at-least-once)
  // A non-fencing lock: the holder whose session died notices at its next
  // renew (every 50 ms) and steps down; until then both may briefly be active.
  auto both_active = [&] { return a->state().active && b->state().active; };
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (both_active() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(both_active()) << "the processor that lost its lock did not step down";
  ESTORIA_ASSERT_OK(a->Stop());
  ESTORIA_ASSERT_OK(b->Stop());
}

// Issue 18 on a transactional read model: an event type with two schema
// versions is projected as the aggregate loads it; parked events stay as
// stored and are upcast again when replayed (PostgresReadModel::ReplayWith).
TEST_F(PostgresReadModelTest, UpcastEventsReachTheReadModelAndParkRaw) {
  EventSourcedStore<Wallet, DepositedV1> old_wallets(store_, "wallet");
  EventSourcedStore<Wallet, Deposited> wallets(store_, "wallet", {.upcasters = WalletUpcasters()});
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto w, old_wallets.New());
  w.Append(DepositedV1{3}, DepositedV1{4});
  ESTORIA_ASSERT_OK(old_wallets.Save(w));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto current, wallets.Load(w.id().uuid()));
  current.Append(Deposited{250, "USD"});
  ESTORIA_ASSERT_OK(wallets.Save(current));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto bad, old_wallets.New());
  bad.Append(DepositedV1{-1});  // the upcaster refuses it
  ESTORIA_ASSERT_OK(old_wallets.Save(bad));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto it, store_->global_reader()->ReadAll());
  ESTORIA_ASSERT_OK_AND_ASSIGN(std::vector<Event> stored, Collect(*it));
  ASSERT_EQ(stored.size(), 4u);

  const std::string table = postgres::QuoteIdentifier(schema_) + ".wallets";
  std::atomic<bool> broken{true};
  postgres::PostgresReadModelOptions o;
  o.conninfo = PgOptions(schema_).conninfo;
  o.schema = schema_;
  o.setup = [table](PgConnection& c) {
    return c.Exec("CREATE TABLE " + table + " (stream_id text PRIMARY KEY, cents int8, currency text, deposits int8)")
        .error();
  };
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto model, PostgresReadModel::Open(o, [&](PgConnection& c, const Event& e) -> Status {
        if (broken && e.data.find("\"cents\":400") != std::string::npos) return Status::Unavailable("view busy");
        Wallet wallet;
        ESTORIA_RETURN_IF_ERROR(ApplyCurrent(wallet, e));  // knows only the current shape
        return c
            .ExecParams("INSERT INTO " + table +
                            " VALUES ($1, $2, $3, 1) ON CONFLICT (stream_id) DO UPDATE SET cents = wallets.cents + "
                            "EXCLUDED.cents, currency = EXCLUDED.currency, deposits = wallets.deposits + 1",
                        postgres::PgParams().Text(e.stream_id.ToString()).Int64(wallet.cents).Text(wallet.currency))
            .error();
      }));
  auto read_wallet = [&]() {
    Wallet out;
    EXPECT_TRUE(model
                    ->Read([&](PgConnection& c) -> Status {
                      ESTORIA_ASSIGN_OR_RETURN(auto r, c.ExecParams("SELECT cents, currency, deposits FROM " + table +
                                                                        " WHERE stream_id = $1",
                                                                    postgres::PgParams().Text(w.id().ToString())));
                      if (r.rows() == 1) out = Wallet{r.Int64(0, 0), r.String(0, 1), r.Int64(0, 2)};
                      return Status::Ok();
                    })
                    .ok());
    return out;
  };
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto p, Processor::Create(
                  store_, model,
                  {.name = "wallets", .failure_policy = FailurePolicy::Park(1), .upcasting = wallets.upcasting()}));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK(p->WaitUntilCaughtUp(30s));
  EXPECT_EQ(read_wallet(), (Wallet{550, "USD", 2}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto parked, p->ListParked());
  ASSERT_EQ(parked.size(), 2u);
  EXPECT_EQ(parked[0].event.data, stored[1].data);  // {"amount":4}, as stored
  EXPECT_EQ(parked[0].event.metadata, stored[1].metadata);
  EXPECT_EQ(parked[1].event.data, stored[3].data);
  EXPECT_NE(parked[1].error.find("negative deposit"), std::string::npos) << parked[1].error;

  broken = false;
  ESTORIA_ASSERT_OK(p->ReplayParked(stored[1].global_position));
  EXPECT_THAT(p->ReplayParked(stored[3].global_position), StatusIs(StatusCode::kInternal));
  ESTORIA_ASSERT_OK_AND_ASSIGN(parked, p->ListParked());
  ASSERT_EQ(parked.size(), 1u);
  EXPECT_EQ(parked[0].event.data, stored[3].data);
  ESTORIA_ASSERT_OK(p->Stop());
  ESTORIA_ASSERT_OK_AND_ASSIGN(current, wallets.Load(w.id().uuid()));
  Wallet row = read_wallet();
  EXPECT_EQ(row.cents, current.state().cents);
  EXPECT_EQ(row.deposits, current.state().deposits);
  EXPECT_EQ(current.state(), (Wallet{950, "USD", 3}));
}

}  // namespace
}  // namespace estoria::testing
