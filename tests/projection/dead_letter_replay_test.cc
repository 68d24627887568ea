// Replay requests: a parked event is marked "replay requested" from outside the
// processor (another store object on the same file, standing in for the
// `estoria dead-letters NAME replay` CLI) and the running Processor replays it
// through its handler. Memory (HandlerSink) and SQLite (SqliteReadModel).
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "estoria/memory/memory_event_store.h"
#include "estoria/memory/memory_stores.h"
#include "estoria/projection/processor.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "estoria/sqlite/sqlite_projection_stores.h"
#include "estoria/sqlite/sqlite_read_model.h"
#include "estoria/testing/matchers.h"
#include "projection_test_util.h"
#include "sqlite_totals.h"

namespace estoria::testing {
namespace {

using namespace std::chrono_literals;
using sqlite::SqliteDatabase;

// Polls `done` (a condition, not a sleep-as-synchronisation) until true or timeout.
bool Eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 30s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

// A handler that fails on one position while `broken`, counting successful
// applications per position and failures.
class FlakyHandler {
 public:
  explicit FlakyHandler(int64_t bad) : bad_(bad) {}
  Status Handle(const Event& e) {
    std::lock_guard<std::mutex> lock(mu_);
    if (e.global_position == bad_ && broken_) return Status::Internal("failure #" + std::to_string(++failures_));
    ++applied_[e.global_position];
    return Status::Ok();
  }
  void Fix() {
    std::lock_guard<std::mutex> lock(mu_);
    broken_ = false;
  }
  int Applied(int64_t position) {
    std::lock_guard<std::mutex> lock(mu_);
    return applied_[position];
  }

 private:
  std::mutex mu_;
  const int64_t bad_;
  bool broken_ = true;
  int failures_ = 0;
  std::map<int64_t, int> applied_;
};

TEST(DeadLetterReplayTest, MemoryStoreRequestsFollowTheirParkedEvent) {
  auto store = estoria::memory::MemoryDeadLetterStore::Open().value();
  Event e;
  e.global_position = 4;
  ESTORIA_ASSERT_OK(store->Park({"a", e, "x", 1, Now()}));
  e.global_position = 7;
  ESTORIA_ASSERT_OK(store->Park({"a", e, "x", 1, Now()}));
  EXPECT_THAT(store->RequestReplay("a", 5), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store->RequestReplay("", std::nullopt), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(store->RequestReplay("b", std::nullopt).value(), 0);
  EXPECT_EQ(store->RequestReplay("a", 7).value(), 1);
  EXPECT_EQ(store->ListReplayRequests("a").value(), (std::vector<int64_t>{7}));
  EXPECT_EQ(store->RequestReplay("a", std::nullopt).value(), 2);
  EXPECT_EQ(store->ListReplayRequests("a").value(), (std::vector<int64_t>{4, 7}));
  ESTORIA_ASSERT_OK(store->Discard("a", 4));
  ESTORIA_ASSERT_OK(store->ClearReplayRequest("a", 7));
  EXPECT_TRUE(store->ListReplayRequests("a").value().empty());
}

TEST(DeadLetterReplayTest, RunningMemoryProcessorServesARequest) {
  auto store = estoria::memory::MemoryEventStore::Open().value();
  auto letters = estoria::memory::MemoryDeadLetterStore::Open().value();
  auto handler = std::make_shared<FlakyHandler>(3);
  auto sink = std::make_shared<HandlerSink>([handler](const Event& e) { return handler->Handle(e); },
                                            estoria::memory::MemoryCheckpointStore::Open().value(), letters);
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto p,
      Processor::Create(
          store, sink,
          {.name = "p", .poll_interval = 20ms, .failure_policy = FailurePolicy::Park(1, 1ms), .logger = NullLogger()}));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t last, AppendEvents(*store, 6));
  ESTORIA_ASSERT_OK(p->WaitForPosition(last, 30s));
  ASSERT_EQ(p->ListParked().value().size(), 1u);
  EXPECT_EQ(handler->Applied(3), 0);

  // Still broken: the replay fails, the event stays parked with the new error.
  EXPECT_EQ(letters->RequestReplay("p", 3).value(), 1);
  ASSERT_TRUE(Eventually([&] { return letters->ListReplayRequests("p").value().empty(); }));
  ESTORIA_ASSERT_OK_AND_ASSIGN(DeadLetter again, letters->Get("p", 3));
  EXPECT_EQ(again.attempts, 2);
  EXPECT_NE(again.error.find("failure #2"), std::string::npos) << again.error;

  handler->Fix();
  EXPECT_EQ(letters->RequestReplay("p", std::nullopt).value(), 1);
  ASSERT_TRUE(Eventually([&] { return p->ListParked().value().empty(); }));
  EXPECT_EQ(handler->Applied(3), 1);
  EXPECT_TRUE(letters->ListReplayRequests("p").value().empty());
  for (int64_t pos = 1; pos <= last; ++pos) EXPECT_EQ(handler->Applied(pos), 1) << pos;
  ESTORIA_ASSERT_OK(p->Stop());
}

class SqliteDeadLetterReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sqlite::SqliteOptions o;
    o.path = dir_.NewFile("store");
    o.durability = Durability::kRelaxed;
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, sqlite::SqliteEventStore::Open(o));
    store_ = store;
    model_path_ = dir_.NewFile("model");
  }
  Result<std::shared_ptr<sqlite::SqliteDeadLetterStore>> OutsideStore() {
    sqlite::SqliteStoreOptions o;
    o.path = model_path_;
    return sqlite::SqliteDeadLetterStore::Open(o);
  }
  TempDir dir_;
  std::string model_path_;
  std::shared_ptr<EventStore> store_;
};

TEST_F(SqliteDeadLetterReplayTest, RequestsAreKeptInTheFileAndFollowTheirParkedEvent) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, OutsideStore());
  Event e;
  e.id = TypeId("added", Uuid::NewV7());
  e.stream_id = TypeId("counter", Uuid::NewV7());
  e.global_position = 5;
  ESTORIA_ASSERT_OK(a->Park({"t", e, "x", 1, Now()}));
  e.global_position = 8;
  ESTORIA_ASSERT_OK(a->Park({"t", e, "x", 1, Now()}));
  EXPECT_THAT(a->RequestReplay("t", 6), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(a->RequestReplay("t", std::nullopt).value(), 2);
  EXPECT_EQ(a->RequestReplay("t", 8).value(), 1);        // again: harmless
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto b, OutsideStore());  // another connection sees them
  EXPECT_EQ(b->ListReplayRequests("t").value(), (std::vector<int64_t>{5, 8}));
  ESTORIA_ASSERT_OK(b->Discard("t", 5));
  ESTORIA_ASSERT_OK(b->Park({"t", e, "y", 2, Now()}));  // re-parking clears the request
  EXPECT_TRUE(a->ListReplayRequests("t").value().empty());
  EXPECT_EQ(a->Get("t", 8).value().error, "y");
}

TEST_F(SqliteDeadLetterReplayTest, AFileWithoutTheRequestsTableGetsIt) {
  {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto db, SqliteDatabase::Open(model_path_));
    // The layout before replay requests existed (parked rows already present).
    ESTORIA_ASSERT_OK(sqlite::SqliteProjectionTables::EnsureSchema(*db));
    ESTORIA_ASSERT_OK(db->Exec("DROP TABLE estoria_dead_letter_replays"));
  }
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, OutsideStore());
  Event e;
  e.id = TypeId("added", Uuid::NewV7());
  e.stream_id = TypeId("counter", Uuid::NewV7());
  e.global_position = 2;
  ESTORIA_ASSERT_OK(a->Park({"t", e, "x", 1, Now()}));
  EXPECT_EQ(a->RequestReplay("t", 2).value(), 1);
}

TEST_F(SqliteDeadLetterReplayTest, RunningProcessorReplaysARequestFromAnotherConnectionOnce) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t last, AppendEvents(*store_, 20));
  std::atomic<bool> broken{true};
  sqlite::SqliteReadModelOptions o;
  o.path = model_path_;
  o.durability = Durability::kRelaxed;
  o.setup = [](SqliteDatabase& db) { return CreateTables(db); };
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto model,
                               sqlite::SqliteReadModel::Open(o, [&](SqliteDatabase& db, const Event& e) -> Status {
                                 ESTORIA_RETURN_IF_ERROR(ApplyTotals(db, e));
                                 if (e.global_position == 9 && broken) return Status::Internal("cannot project 9");
                                 return Status::Ok();
                               }));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto p, Processor::Create(store_, model,
                                                         {.name = "totals",
                                                          .poll_interval = 20ms,
                                                          .failure_policy = FailurePolicy::Park(1, 1ms),
                                                          .logger = NullLogger()}));
  ESTORIA_ASSERT_OK(p->Start());
  ESTORIA_ASSERT_OK(p->WaitForPosition(last, 60s));
  ASSERT_EQ(p->ListParked().value().size(), 1u);

  broken = false;  // the handler is fixed; the operator requests the replay
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto outside, OutsideStore());
  EXPECT_EQ(outside->RequestReplay("totals", std::nullopt).value(), 1);
  ASSERT_TRUE(Eventually([&] { return outside->List("totals").value().empty(); }));
  EXPECT_TRUE(outside->ListReplayRequests("totals").value().empty());
  ESTORIA_ASSERT_OK(model->Read([&](SqliteDatabase& db) {
    EXPECT_EQ(db.QueryInt64("SELECT COUNT(*) FROM applied WHERE position = 9").value(), 1);
    auto [rows, distinct] = AppliedCounts(db);
    EXPECT_EQ(rows, last);
    EXPECT_EQ(distinct, last);
    auto totals = ReadTotals(db);
    EXPECT_EQ(totals.value(), FoldLog(*store_->global_reader()).value());
    return Status::Ok();
  }));
  ESTORIA_ASSERT_OK(p->Stop());
}

}  // namespace
}  // namespace estoria::testing
