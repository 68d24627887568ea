// Projections on SQLite: the shared processor suite, and SqliteReadModel:
// exactly-once rows + checkpoint, retry and park inside transactions, the lease,
// versions and cut-over, the dead-letter store.
#include <atomic>
#include <chrono>
#include <thread>

#include "estoria/event_sourced_store.h"
#include "estoria/projection/processor.h"
#include "estoria/projection/versioning.h"
#include "estoria/projection/wait.h"
#include "estoria/sqlite/sqlite_checkpoint_store.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "estoria/sqlite/sqlite_lease.h"
#include "estoria/sqlite/sqlite_read_model.h"
#include "estoria/testing/matchers.h"
#include "processor_suite.h"
#include "projection_test_util.h"
#include "sqlite_totals.h"
#include "wallet_types.h"

namespace estoria::testing {
namespace {

using namespace std::chrono_literals;
using sqlite::SqliteDatabase;
using sqlite::SqliteReadModel;

TempDir& Dir() {
  static TempDir dir;  // removed at exit
  return dir;
}

Result<std::shared_ptr<EventStore>> OpenSqlite(const std::string& path) {
  sqlite::SqliteOptions o;
  o.path = path;
  o.durability = Durability::kRelaxed;
  ESTORIA_ASSIGN_OR_RETURN(auto store, sqlite::SqliteEventStore::Open(o));
  return std::shared_ptr<EventStore>(store);
}

std::string last_path;
INSTANTIATE_TEST_SUITE_P(Sqlite, ProcessorSuite,
                         ::testing::Values(ProcessorBackend{"sqlite",
                                                            []() {
                                                              last_path = Dir().NewFile("store");
                                                              return OpenSqlite(last_path);
                                                            },
                                                            []() { return OpenSqlite(last_path); }}),
                         [](const auto& info) { return info.param.name; });

class SqliteReadModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_path_ = Dir().NewFile("store");
    model_path_ = Dir().NewFile("model");
    auto store = OpenSqlite(store_path_);
    ASSERT_TRUE(store.ok()) << store.error();
    store_ = *store;
  }
  Result<std::shared_ptr<SqliteReadModel>> OpenModel(sqlite::SqliteReadModelHandler handler, std::string path = "",
                                                     std::string owner = "") {
    sqlite::SqliteReadModelOptions o;
    o.path = path.empty() ? model_path_ : path;
    o.durability = Durability::kRelaxed;
    o.setup = [](SqliteDatabase& db) { return CreateTables(db); };
    o.owner = owner;
    o.lease_ttl = 600ms;
    return SqliteReadModel::Open(o, std::move(handler));
  }
  void ExpectModelEqualsFold(SqliteReadModel& model, int64_t head) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(TotalsByStream fold, FoldLog(*store_->global_reader()));
    ESTORIA_ASSERT_OK(model.Read([&](SqliteDatabase& db) -> Status {
      auto totals = ReadTotals(db);
      EXPECT_TRUE(totals.ok()) << totals.error();
      if (totals.ok()) {
        EXPECT_EQ(*totals, fold);
      }
      auto [rows, distinct] = AppliedCounts(db);
      EXPECT_EQ(rows, distinct);
      return Status::Ok();
    }));
    ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t checkpoint, model.LoadPosition("totals"));
    EXPECT_EQ(checkpoint, head);
  }
  std::string store_path_, model_path_;
  std::shared_ptr<EventStore> store_;
};

TEST_F(SqliteReadModelTest, ReplayCatchUpAndTailExactlyOnce) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t history, AppendEvents(*store_, 500, 7));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto model,
                               OpenModel([](SqliteDatabase& db, const Event& e) { return ApplyTotals(db, e); }));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto p, Processor::Create(store_, model, {.name = "totals", .batch_size = 64}));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK(p->WaitForPosition(history, 60s));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t last, AppendEvents(*store_, 30, 3));
  ESTORIA_ASSERT_OK(p->WaitForPosition(last, 30s));
  // Checkpoint committed with the rows: visible at once, no Stop needed.
  ExpectModelEqualsFold(*model, last);
  ESTORIA_ASSERT_OK(p->Stop());
  EXPECT_EQ(p->state().events_handled, last);
}

TEST_F(SqliteReadModelTest, ReadModelInTheEventStoreFile) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t history, AppendEvents(*store_, 100));
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto model, OpenModel([](SqliteDatabase& db, const Event& e) { return ApplyTotals(db, e); }, store_path_));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto p, Processor::Create(store_, model, {.name = "totals", .batch_size = 16}));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK(p->WaitForPosition(history, 60s));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t last, AppendEvents(*store_, 40));  // appends interleave with batches
  ESTORIA_ASSERT_OK(p->WaitForPosition(last, 60s));
  ExpectModelEqualsFold(*model, last);
  ESTORIA_ASSERT_OK(p->Stop());
}

TEST_F(SqliteReadModelTest, FailedHandlerCallLeavesNoRowsAndIsRetried) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t last, AppendEvents(*store_, 40));
  std::atomic<int> failures{0};
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto model, OpenModel([&](SqliteDatabase& db, const Event& e) -> Status {
                                 ESTORIA_RETURN_IF_ERROR(ApplyTotals(db, e));  // rows written, then the call fails
                                 if (e.global_position == 17 && failures++ == 0) return Status::Unavailable("flaky");
                                 return Status::Ok();
                               }));
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto p, Processor::Create(store_, model,
                                {.name = "totals", .batch_size = 10, .failure_policy = FailurePolicy::Retry(3, 5ms)}));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK(p->WaitForPosition(last, 60s));
  EXPECT_EQ(failures.load(), 2);  // calls at position 17: one failure, one success
  EXPECT_EQ(p->state().retries, 1);
  ExpectModelEqualsFold(*model, last);
  ESTORIA_ASSERT_OK(p->Stop());
}

TEST_F(SqliteReadModelTest, StopPolicyCommitsTheEventsBeforeTheFailure) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t last, AppendEvents(*store_, 20));
  (void)last;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto model, OpenModel([&](SqliteDatabase& db, const Event& e) -> Status {
                                 ESTORIA_RETURN_IF_ERROR(ApplyTotals(db, e));
                                 if (e.global_position == 13) return Status::InvalidArgument("poison");
                                 return Status::Ok();
                               }));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto p, Processor::Create(store_, model, {.name = "totals", .batch_size = 50}));
  ESTORIA_ASSERT_OK(p->Start());
  EXPECT_THAT(p->WaitForExit(60s), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(p->state().position, 12);
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t checkpoint, model->LoadPosition("totals"));
  EXPECT_EQ(checkpoint, 12);
  ESTORIA_ASSERT_OK(model->Read([](SqliteDatabase& db) {
    EXPECT_EQ(db.QueryInt64("SELECT COUNT(*) FROM applied").value(), 12);
    EXPECT_EQ(db.QueryInt64("SELECT MAX(position) FROM applied").value(), 12);
    return Status::Ok();
  }));
}

TEST_F(SqliteReadModelTest, ParkedEventIsInTheSameTransactionListedAndReplayed) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t last, AppendEvents(*store_, 25));
  std::atomic<bool> broken{true};
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto model, OpenModel([&](SqliteDatabase& db, const Event& e) -> Status {
                                 ESTORIA_RETURN_IF_ERROR(ApplyTotals(db, e));
                                 if (e.global_position == 9 && broken) return Status::Internal("cannot project 9");
                                 return Status::Ok();
                               }));
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto p, Processor::Create(store_, model, {.name = "totals", .failure_policy = FailurePolicy::Park(2, 1ms)}));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK(p->WaitForPosition(last, 60s));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto parked, p->ListParked());
  ASSERT_EQ(parked.size(), 1u);
  EXPECT_EQ(parked[0].event.global_position, 9);
  EXPECT_EQ(parked[0].attempts, 2);
  EXPECT_NE(parked[0].error.find("cannot project 9"), std::string::npos);
  ESTORIA_ASSERT_OK(model->Read([](SqliteDatabase& db) {
    EXPECT_EQ(db.QueryInt64("SELECT COUNT(*) FROM applied WHERE position = 9").value(), 0);
    return Status::Ok();
  }));
  broken = false;
  ESTORIA_ASSERT_OK(p->ReplayParked(9));
  ESTORIA_ASSERT_OK_AND_ASSIGN(parked, p->ListParked());
  EXPECT_TRUE(parked.empty());
  ExpectModelEqualsFold(*model, last);  // now complete, each event once
  ESTORIA_ASSERT_OK(p->Stop());
}

TEST_F(SqliteReadModelTest, LeaseAllowsOneActiveProcessorAndFailsOver) {
  auto handler = [](SqliteDatabase& db, const Event& e) { return ApplyTotals(db, e); };
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a_model, OpenModel(handler, "", "owner-a"));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto b_model, OpenModel(handler, "", "owner-b"));
  ProcessorOptions o{.name = "totals", .batch_size = 8, .poll_interval = 20ms, .lock_retry_interval = 20ms};
  o.lock = a_model;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, Processor::Create(store_, a_model, o));
  o.lock = b_model;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto b, Processor::Create(store_, b_model, o));
  ESTORIA_ASSERT_OK(a->Start());
  ESTORIA_ASSERT_OK(a->WaitUntilCaughtUp(30s));
  ESTORIA_ASSERT_OK(b->Start());
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t first, AppendEvents(*store_, 30));
  ESTORIA_ASSERT_OK(a->WaitForPosition(first, 30s));
  EXPECT_EQ(b->state().phase, ProcessorPhase::kStandby);
  EXPECT_EQ(b->state().events_handled, 0);
  ESTORIA_ASSERT_OK(a->Stop());  // releases the lease
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t second, AppendEvents(*store_, 10));
  ESTORIA_ASSERT_OK(b->WaitForPosition(second, 30s));
  EXPECT_EQ(b->state().events_handled, second - first);
  ExpectModelEqualsFold(*b_model, second);
  ESTORIA_ASSERT_OK(b->Stop());
}

TEST_F(SqliteReadModelTest, ALostLeaseFencesCommits) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto model, OpenModel([](SqliteDatabase& db, const Event& e) { return ApplyTotals(db, e); }, "", "owner-a"));
  ESTORIA_ASSERT_OK_AND_ASSIGN(bool got, model->TryAcquire("totals"));
  ASSERT_TRUE(got);
  // Another owner steals the lease (as after this process paused past the ttl).
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto db, SqliteDatabase::Open(model_path_));
  ESTORIA_ASSERT_OK(db->Exec("UPDATE estoria_projection_leases SET owner = 'intruder' WHERE name = 'totals'"));
  EXPECT_THAT(model->Begin("totals"), StatusIs(StatusCode::kFailedPrecondition));
  ESTORIA_ASSERT_OK_AND_ASSIGN(got, model->TryAcquire("totals"));  // not expired: still the intruder's
  EXPECT_FALSE(got);
  ESTORIA_ASSERT_OK(db->Exec("UPDATE estoria_projection_leases SET expires_at_us = 0 WHERE name = 'totals'"));
  ESTORIA_ASSERT_OK_AND_ASSIGN(got, model->TryAcquire("totals"));  // expired: taken over
  EXPECT_TRUE(got);
}

TEST_F(SqliteReadModelTest, RebuildBesideTheLiveVersionThenCutOver) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, AppendEvents(*store_, 60));
  auto versioned = [](int version) {
    std::string suffix = "_v" + std::to_string(version);
    return [suffix](SqliteDatabase& db, const Event& e) { return ApplyTotals(db, e, suffix); };
  };
  auto open_version = [&](int version) {
    sqlite::SqliteReadModelOptions o;
    o.path = model_path_;
    std::string suffix = "_v" + std::to_string(version);
    o.setup = [suffix](SqliteDatabase& db) { return CreateTables(db, suffix); };
    return SqliteReadModel::Open(o, versioned(version));
  };
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto v1_model, open_version(1));
  ESTORIA_ASSERT_OK_AND_ASSIGN(std::string v1_name, VersionedName("totals", 1));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto v1, Processor::Create(store_, v1_model, {.name = v1_name}));
  ESTORIA_ASSERT_OK(v1->Start());
  ESTORIA_ASSERT_OK(v1->WaitForPosition(head, 30s));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto registry, sqlite::SqliteVersionRegistry::Open({model_path_}));
  ESTORIA_ASSERT_OK(registry->SetActiveVersion("totals", 1));

  // Version 2 rebuilds from position 0 beside version 1 (own tables, own checkpoint).
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto v2_model, open_version(2));
  ESTORIA_ASSERT_OK_AND_ASSIGN(std::string v2_name, VersionedName("totals", 2));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto v2, Processor::Create(store_, v2_model, {.name = v2_name}));
  EXPECT_THAT(CutOver(*registry, *store_->global_reader(), "totals", 2, v2->state().position),
              StatusIs(StatusCode::kFailedPrecondition));
  ESTORIA_ASSERT_OK(v2->Start());
  ESTORIA_ASSERT_OK(v2->WaitUntilCaughtUp(30s));
  ESTORIA_ASSERT_OK(CutOver(*registry, *store_->global_reader(), "totals", 2, v2->state().position));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int active, registry->ActiveVersion("totals"));
  EXPECT_EQ(active, 2);
  ESTORIA_ASSERT_OK(v1->Stop());
  ESTORIA_ASSERT_OK(v1_model->Read([&](SqliteDatabase& db) {
    auto v1_totals = ReadTotals(db, "_v1");
    auto v2_totals = ReadTotals(db, "_v2");
    EXPECT_TRUE(v1_totals.ok() && v2_totals.ok());
    if (v1_totals.ok() && v2_totals.ok()) {
      EXPECT_EQ(*v1_totals, *v2_totals);
    }
    return sqlite::SqliteProjectionTables::DropTables(db, {"totals_v1", "applied_v1"});
  }));
  ESTORIA_ASSERT_OK(v1_model->Read([](SqliteDatabase& db) {
    EXPECT_THAT(db.QueryInt64("SELECT COUNT(*) FROM totals_v1"), StatusIs(StatusCode::kInvalidArgument));
    return Status::Ok();
  }));
  ESTORIA_ASSERT_OK(v2->Stop());
}

TEST_F(SqliteReadModelTest, ReadYourWritesThroughTheCheckpointRow) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto model,
                               OpenModel([](SqliteDatabase& db, const Event& e) { return ApplyTotals(db, e); }));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto p, Processor::Create(store_, model, {.name = "totals"}));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t last, AppendEvents(*store_, 5));
  // Another reader (e.g. another process) polls the checkpoint row.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto checkpoints, sqlite::SqliteCheckpointStore::Open({model_path_}));
  ESTORIA_ASSERT_OK(WaitForCheckpoint(*checkpoints, "totals", last, 30s));
  EXPECT_THAT(WaitForCheckpoint(*checkpoints, "totals", last + 100, 30ms), StatusIs(StatusCode::kUnavailable));
  ESTORIA_ASSERT_OK(p->Stop());
}

TEST(SqliteLeaseTest, OneHolderAtATimeAndTakeoverAfterExpiry) {
  std::string path = Dir().NewFile("lease");
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, sqlite::SqliteLease::Open({path, "a", 200ms}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto b, sqlite::SqliteLease::Open({path, "b", 200ms}));
  EXPECT_THAT(sqlite::SqliteLease::Open({path, "c", 1ms}), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(a->renew_interval(), 66ms);
  ESTORIA_ASSERT_OK_AND_ASSIGN(bool got, a->TryAcquire("p"));
  EXPECT_TRUE(got);
  ESTORIA_ASSERT_OK_AND_ASSIGN(got, a->TryAcquire("p"));  // re-entrant for the owner
  EXPECT_TRUE(got);
  ESTORIA_ASSERT_OK_AND_ASSIGN(got, b->TryAcquire("p"));
  EXPECT_FALSE(got);
  ESTORIA_ASSERT_OK_AND_ASSIGN(got, b->TryAcquire("other"));  // leases are per projection
  EXPECT_TRUE(got);
  ESTORIA_ASSERT_OK_AND_ASSIGN(got, b->Renew("p"));
  EXPECT_FALSE(got);
  // a stops renewing (as if dead): b takes over once the lease has expired.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  do {
    ESTORIA_ASSERT_OK_AND_ASSIGN(got, b->TryAcquire("p"));
    if (!got) std::this_thread::sleep_for(20ms);
  } while (!got && std::chrono::steady_clock::now() < deadline);
  EXPECT_TRUE(got);
  ESTORIA_ASSERT_OK_AND_ASSIGN(got, a->Renew("p"));  // a learns it lost the lease
  EXPECT_FALSE(got);
  b->Release("p");
  ESTORIA_ASSERT_OK_AND_ASSIGN(got, a->TryAcquire("p"));  // released: free at once
  EXPECT_TRUE(got);
}

TEST(SqliteDeadLetterStoreTest, RoundTripsEvents) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, sqlite::SqliteDeadLetterStore::Open({Dir().NewFile("dlq")}));
  DeadLetter l;
  l.projection = "p";
  l.event.id = TypeId("added", Uuid::NewV7());
  l.event.stream_id = TypeId("counter", Uuid::NewV7());
  l.event.stream_version = 3;
  l.event.global_position = 42;
  l.event.timestamp = Now();
  l.event.content_type = "application/octet-stream";
  l.event.data = std::string("\0\x01\xff", 3);
  l.event.metadata = {{"k", "v"}, {"trace", "abc"}};
  l.error = "Internal: boom";
  l.attempts = 3;
  l.parked_at = Now();
  ESTORIA_ASSERT_OK(store->Park(l));
  ESTORIA_ASSERT_OK_AND_ASSIGN(DeadLetter got, store->Get("p", 42));
  EXPECT_EQ(got, l);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto listed, store->List("p"));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0], l);
  ESTORIA_ASSERT_OK(store->Discard("p", 42));
  EXPECT_THAT(store->Discard("p", 42), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store->Get("p", 42), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store->Park(DeadLetter{}), StatusIs(StatusCode::kInvalidArgument));
}

// Issue 18 on a transactional read model: an event type with two schema
// versions is projected as the aggregate loads it; parked events stay as
// stored and are upcast again when replayed (SqliteReadModel::ReplayWith).
TEST_F(SqliteReadModelTest, UpcastEventsReachTheReadModelAndParkRaw) {
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

  std::atomic<bool> broken{true};
  sqlite::SqliteReadModelOptions o;
  o.path = model_path_;
  o.durability = Durability::kRelaxed;
  o.setup = [](SqliteDatabase& db) {
    return db.Exec("CREATE TABLE wallets (stream_id TEXT PRIMARY KEY, cents INTEGER, currency TEXT, deposits INTEGER)");
  };
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto model, SqliteReadModel::Open(o, [&](SqliteDatabase& db, const Event& e) -> Status {
                                 if (broken && e.data.find("\"cents\":400") != std::string::npos)
                                   return Status::Unavailable("view busy");
                                 Wallet wallet;
                                 ESTORIA_RETURN_IF_ERROR(ApplyCurrent(wallet, e));  // knows only the current shape
                                 ESTORIA_ASSIGN_OR_RETURN(
                                     auto up,
                                     db.Prepare("INSERT INTO wallets VALUES (?, ?, ?, 1) ON CONFLICT(stream_id) DO "
                                                "UPDATE SET cents = cents + excluded.cents, currency = "
                                                "excluded.currency, deposits = deposits + 1"));
                                 ESTORIA_RETURN_IF_ERROR(up.BindText(1, e.stream_id.ToString()));
                                 ESTORIA_RETURN_IF_ERROR(up.BindInt64(2, wallet.cents));
                                 ESTORIA_RETURN_IF_ERROR(up.BindText(3, wallet.currency));
                                 return up.Run();
                               }));
  auto read_wallet = [&]() {
    Wallet out;
    EXPECT_TRUE(model
                    ->Read([&](SqliteDatabase& db) -> Status {
                      ESTORIA_ASSIGN_OR_RETURN(
                          auto q, db.Prepare("SELECT cents, currency, deposits FROM wallets WHERE stream_id = ?"));
                      ESTORIA_RETURN_IF_ERROR(q.BindText(1, w.id().ToString()));
                      ESTORIA_ASSIGN_OR_RETURN(bool row, q.Step());
                      if (row) out = Wallet{q.ColumnInt64(0), q.ColumnText(1), q.ColumnInt64(2)};
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
  // The read model now equals the aggregate (same sum; the USD deposit was
  // last in the stream, the replayed EUR one last in the model).
  ESTORIA_ASSERT_OK_AND_ASSIGN(current, wallets.Load(w.id().uuid()));
  Wallet row = read_wallet();
  EXPECT_EQ(row.cents, current.state().cents);
  EXPECT_EQ(row.deposits, current.state().deposits);
  EXPECT_EQ(current.state(), (Wallet{950, "USD", 3}));
}

}  // namespace
}  // namespace estoria::testing
