// CommandExecutor on the memory store and on a real SQLite file: a hot
// aggregate under many threads, batches with refused and failing commands,
// two executors (two "processes") on one store, warm state and catch-up,
// deadlines and expected versions. Also run under TSan.
#include "estoria/command_executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <latch>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "counting_event_store.h"
#include "estoria/event_sourced_store.h"
#include "estoria/memory/memory_event_store.h"
#include "estoria/testing/matchers.h"
#include "reserved_metadata.h"
#include "test_types.h"
#ifdef ESTORIA_TEST_SQLITE
#include "estoria/sqlite/sqlite_event_store.h"
#endif

namespace estoria {
namespace {

using namespace estoria_test;  // NOLINT
using namespace std::chrono_literals;

using AccountStore = EventSourcedStore<Account, Opened, BalanceChanged, Closed>;
using Executor = CommandExecutor<Account>;

// +amount, refused (FailedPrecondition) when the balance would go negative.
Executor::Decide Deposit(int64_t amount) {
  return [amount](Aggregate<Account>& a) {
    if (a.state().balance + amount < 0) return Status::FailedPrecondition("insufficient funds");
    a.Append(BalanceChanged{amount});
    return Status::Ok();
  };
}

// Waits (up to 30 s) until `executor` has `n` commands queued behind a leader.
bool WaitQueued(const Executor& executor, size_t n) {
  for (int i = 0; i < 30000; ++i) {
    if (executor.stats().queued == n) return true;
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

// An EventStore that lets "another process" append one event to the stream
// right before each of the executor's appends, so that every append conflicts.
class IntrudingEventStore : public EventStore {
 public:
  explicit IntrudingEventStore(std::shared_ptr<EventStore> inner) : inner_(std::move(inner)) {}
  Result<std::vector<Event>> AppendStream(const TypeId& stream, std::span<const WritableEvent> events,
                                          const AppendOptions& options = {}) override {
    WritableEvent other{.type = "balancechanged", .data = R"({"amount":1})"};
    other.metadata["estoria.schema_version"] = "1";
    estoria::internal::AllowReservedMetadata allow;  // as EventSourcedStore's own appends
    auto intruded = inner_->AppendStream(stream, std::span<const WritableEvent>(&other, 1));
    if (!intruded) return intruded.error();
    intrusions_.fetch_add(1);
    return inner_->AppendStream(stream, events, options);
  }
  Result<std::unique_ptr<EventIterator>> ReadStream(const TypeId& stream,
                                                    const ReadStreamOptions& options = {}) override {
    return inner_->ReadStream(stream, options);
  }
  int64_t intrusions() const { return intrusions_.load(); }

 private:
  std::shared_ptr<EventStore> inner_;
  std::atomic<int64_t> intrusions_{0};
};

class CommandExecutorTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "memory") {
      memory_ = estoria::memory::MemoryEventStore::Open().value();
      return;
    }
#ifdef ESTORIA_TEST_SQLITE
    dir_ = std::filesystem::path(::testing::TempDir()) / ("estoria_executor_" + Uuid::NewV7().ToString());
    std::filesystem::create_directories(dir_);
#else
    GTEST_SKIP() << "built without SQLite";
#endif
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // A handle on this test's store. For SQLite each call opens the file again:
  // its own writer connection and group commit, as a second process would.
  std::shared_ptr<EventStore> OpenEvents() {
    if (memory_) return memory_;
#ifdef ESTORIA_TEST_SQLITE
    auto opened = sqlite::SqliteEventStore::OpenUri("sqlite:" + (dir_ / "events.db").string());
    ESTORIA_EXPECT_OK(opened);
    if (opened) return *opened;
#endif
    return nullptr;
  }

  static int64_t Balance(const std::shared_ptr<EventStore>& events, const Uuid& id) {
    auto loaded = AccountStore(events, "account").Load(id);
    ESTORIA_EXPECT_OK(loaded);
    return loaded ? loaded->state().balance : -1;
  }

  std::shared_ptr<estoria::memory::MemoryEventStore> memory_;
  std::filesystem::path dir_;
};

TEST_P(CommandExecutorTest, ManyThreadsOnOneAggregateLoseNothingAndNeverConflict) {
  auto events = OpenEvents();
  Executor executor(AccountStore::Create(events, "account"));
  const Uuid id = Uuid::NewV7();
  constexpr int kThreads = 16, kPerThread = 60;
  std::mutex mu;
  std::vector<int64_t> versions, positions;
  std::atomic<int> failures{0}, conflicts{0};
  std::vector<std::thread> threads;
  std::latch start(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        auto done = executor.Execute(id, Deposit(1));
        if (!done) {
          ++failures;
          ADD_FAILURE() << done.error();
          continue;
        }
        conflicts += done->conflicts;
        ASSERT_EQ(done->global_positions.size(), 1u);
        EXPECT_EQ(done->state.balance, done->version);  // only +1 commands
        std::lock_guard lock(mu);
        versions.push_back(done->version);
        positions.push_back(done->global_positions[0]);
      }
    });
  }
  for (auto& t : threads) t.join();
  const int64_t successes = static_cast<int64_t>(versions.size());
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(successes, kThreads * kPerThread);
  EXPECT_EQ(Balance(events, id), successes);
  // Each command got its own version and position.
  EXPECT_EQ(std::set<int64_t>(versions.begin(), versions.end()).size(), versions.size());
  EXPECT_EQ(*std::max_element(versions.begin(), versions.end()), successes);
  EXPECT_EQ(std::set<int64_t>(positions.begin(), positions.end()).size(), positions.size());
  // No conflict among commands of one process.
  EXPECT_EQ(conflicts.load(), 0);
  CommandExecutorStats stats = executor.stats();
  EXPECT_EQ(stats.conflicts, 0);
  EXPECT_EQ(stats.commands, successes);
  EXPECT_LE(stats.appends, successes);
  EXPECT_EQ(stats.loads, 1);  // loaded once, warm afterwards
  ::testing::Test::RecordProperty("appends", std::to_string(stats.appends));
}

TEST_P(CommandExecutorTest, RefusedAndFailingCommandsInsideABatchLeaveTheOthersApplied) {
  auto events = OpenEvents();
  Executor executor(AccountStore::Create(events, "account"));
  const Uuid id = Uuid::NewV7();
  ESTORIA_ASSERT_OK(executor.Execute(id, Deposit(100)));

  // The leader's decide holds the aggregate until the others are queued, so
  // that they are decided and appended as one batch.
  std::latch release(1);
  std::atomic<bool> leading{false};
  std::thread leader([&] {
    auto done = executor.Execute(id, [&](Aggregate<Account>& a) {
      leading = true;
      release.wait();
      a.Append(BalanceChanged{1});
      return Status::Ok();
    });
    ESTORIA_ASSERT_OK(done);
    EXPECT_EQ(done->version, 2);
  });
  while (!leading) std::this_thread::sleep_for(1ms);
  std::vector<Executor::Decide> queued = {
      Deposit(10),
      Deposit(-1000),  // refused: overdraft
      [](Aggregate<Account>&) -> Status { throw std::runtime_error("decide blew up"); },
      [](Aggregate<Account>& a) {  // an event that cannot be appended
        a.AppendWithMetadata(BalanceChanged{5}, {{"estoria.reserved", "x"}});
        return Status::Ok();
      },
      [](Aggregate<Account>& a) {  // an event whose apply throws
        a.Append(Fragile{true});
        return Status::Ok();
      },
      [](Aggregate<Account>&) { return Status::Ok(); },  // accepts, appends nothing
      Deposit(20),
      [](Aggregate<Account>& a) {  // an event over the store's EventLimits
        a.AppendWithMetadata(BalanceChanged{7}, {{"big", std::string(kDefaultMaxEventMetadataBytes, 'x')}});
        return Status::Ok();
      },
  };
  std::vector<std::optional<Result<CommandOutcome<Account>>>> results(queued.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < queued.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = executor.Execute(id, queued[i]); });
    ASSERT_TRUE(WaitQueued(executor, i + 1));  // queued in this order
  }
  const int64_t appends_before = executor.stats().appends;
  release.count_down();
  leader.join();
  for (auto& t : threads) t.join();

  // One append for the leader, one for the whole batch behind it.
  EXPECT_EQ(executor.stats().appends, appends_before + 2);
  ESTORIA_ASSERT_OK(*results[0]);
  EXPECT_EQ((*results[0])->version, 3);
  EXPECT_EQ((*results[0])->state.balance, 111);
  EXPECT_TRUE(results[1]->error().IsFailedPrecondition()) << results[1]->error();
  EXPECT_TRUE(results[2]->error().IsInternal()) << results[2]->error();
  EXPECT_TRUE(results[3]->error().IsInvalidArgument()) << results[3]->error();
  EXPECT_TRUE(results[4]->error().IsInternal()) << results[4]->error();
  ESTORIA_ASSERT_OK(*results[5]);
  EXPECT_EQ((*results[5])->version, 3);
  EXPECT_TRUE((*results[5])->global_positions.empty());
  ESTORIA_ASSERT_OK(*results[6]);
  EXPECT_EQ((*results[6])->version, 4);
  EXPECT_EQ((*results[6])->state.balance, 131);
  ASSERT_EQ((*results[6])->global_positions.size(), 1u);
  EXPECT_EQ((*results[6])->global_positions[0], (*results[0])->global_positions[0] + 1);  // one commit
  EXPECT_TRUE(results[7]->error().IsInvalidArgument()) << results[7]->error();
  EXPECT_NE(results[7]->error().message().find("max_event_metadata_bytes"), std::string::npos) << results[7]->error();

  auto loaded = AccountStore(events, "account").Load(id);
  ESTORIA_ASSERT_OK(loaded);
  EXPECT_EQ(loaded->version(), 4);
  EXPECT_EQ(loaded->state().balance, 131);
}

TEST_P(CommandExecutorTest, TwoExecutorsOnOneStoreBothProgressAndLoseNothing) {
  auto events_a = OpenEvents();
  auto events_b = OpenEvents();
  CommandExecutorOptions options;
  options.max_attempts = 10000;
  Executor a(AccountStore::Create(events_a, "account"), options);
  Executor b(AccountStore::Create(events_b, "account"), options);
  const Uuid id = Uuid::NewV7();
  constexpr int kThreadsEach = 4, kPerThread = 40;
  std::atomic<int64_t> ok_a{0}, ok_b{0}, failed{0};
  std::vector<std::thread> threads;
  std::latch start(2 * kThreadsEach);
  for (int t = 0; t < 2 * kThreadsEach; ++t) {
    Executor& executor = t % 2 == 0 ? a : b;
    std::atomic<int64_t>& ok = t % 2 == 0 ? ok_a : ok_b;
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        auto done = executor.Execute(id, Deposit(1));
        if (done) {
          ++ok;
        } else {
          ++failed;
          ADD_FAILURE() << done.error();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(ok_a.load(), kThreadsEach * kPerThread);
  EXPECT_EQ(ok_b.load(), kThreadsEach * kPerThread);
  EXPECT_EQ(Balance(events_a, id), ok_a + ok_b);
  ::testing::Test::RecordProperty("conflicts", std::to_string(a.stats().conflicts + b.stats().conflicts));
}

TEST_P(CommandExecutorTest, WarmStateCatchesUpWithOnlyTheNewEvents) {
  auto shared = OpenEvents();
  auto counting = std::make_shared<CountingEventStore>(shared);
  Executor executor(AccountStore::Create(counting, "account"));
  const Uuid id = Uuid::NewV7();
  for (int i = 0; i < 20; ++i) ESTORIA_ASSERT_OK(executor.Execute(id, Deposit(1)));
  EXPECT_EQ(executor.stats().loads, 1);
  counting->Reset();
  // Another writer appends two events behind the executor's back.
  AccountStore other(shared, "account");
  auto a = other.Load(id).value();
  a.Append(BalanceChanged{100}, BalanceChanged{100});
  ESTORIA_ASSERT_OK(other.Save(a));

  auto done = executor.Execute(id, Deposit(1));
  ESTORIA_ASSERT_OK(done);
  EXPECT_EQ(done->version, 23);
  EXPECT_EQ(done->state.balance, 221);
  EXPECT_EQ(done->conflicts, 1);          // the stale warm state conflicted once...
  EXPECT_EQ(counting->events_read(), 2);  // ...and caught up reading only the 2 new events
  EXPECT_EQ(executor.stats().loads, 1);

  // A refusal decided on warm state is checked against the store first.
  counting->Reset();
  a = other.Load(id).value();
  a.Append(BalanceChanged{100});
  ESTORIA_ASSERT_OK(other.Save(a));
  done = executor.Execute(id, Deposit(-300));
  ESTORIA_ASSERT_OK(done);
  EXPECT_EQ(done->version, 25);
  EXPECT_EQ(done->state.balance, 21);
  EXPECT_EQ(done->conflicts, 0);
  EXPECT_EQ(counting->events_read(), 1);
  EXPECT_EQ(executor.stats().loads, 1);
  EXPECT_EQ(Balance(shared, id), 21);
}

TEST_P(CommandExecutorTest, NoRefusalIsDecidedOnStaleWarmState) {
  auto shared = OpenEvents();
  Executor executor(AccountStore::Create(shared, "account"));
  const Uuid id = Uuid::NewV7();
  ESTORIA_ASSERT_OK(executor.Execute(id, Deposit(5)));
  AccountStore other(shared, "account");
  auto a = other.Load(id).value();
  a.Append(BalanceChanged{100});
  ESTORIA_ASSERT_OK(other.Save(a));
  // Against the warm state (balance 5) this would be refused; the store says 105.
  auto done = executor.Execute(id, Deposit(-50));
  ESTORIA_ASSERT_OK(done);
  EXPECT_EQ(done->state.balance, 55);
  // A real refusal is still one, and appends nothing.
  EXPECT_TRUE(executor.Execute(id, Deposit(-1000)).error().IsFailedPrecondition());
  EXPECT_EQ(Balance(shared, id), 55);
}

TEST_P(CommandExecutorTest, WarmStateIsBounded) {
  CommandExecutorOptions options;
  options.warm_capacity = 2;
  Executor executor(AccountStore::Create(OpenEvents(), "account"), options);
  std::vector<Uuid> ids = {Uuid::NewV7(), Uuid::NewV7(), Uuid::NewV7()};
  for (const Uuid& id : ids) ESTORIA_ASSERT_OK(executor.Execute(id, Deposit(1)));
  EXPECT_EQ(executor.stats().warm, 2u);
  EXPECT_EQ(executor.stats().loads, 3);
  ESTORIA_ASSERT_OK(executor.Execute(ids[2], Deposit(1)));  // most recent: still warm
  EXPECT_EQ(executor.stats().loads, 3);
  ESTORIA_ASSERT_OK(executor.Execute(ids[0], Deposit(1)));  // evicted: loaded again
  EXPECT_EQ(executor.stats().loads, 4);
}

TEST_P(CommandExecutorTest, ExpectedVersionIsDecidedAgainstExactlyThatVersion) {
  auto shared = OpenEvents();
  Executor executor(AccountStore::Create(shared, "account"));
  const Uuid id = Uuid::NewV7();
  ExecuteOptions at0{.expected_version = 0};
  ESTORIA_ASSERT_OK(executor.Execute(id, Deposit(10), at0));
  auto again = executor.Execute(id, Deposit(10), at0);
  ASSERT_TRUE(again.error().IsConflict()) << again.error();
  ASSERT_TRUE(again.error().conflict().has_value());
  EXPECT_EQ(again.error().conflict()->expected_version, 0);
  EXPECT_EQ(again.error().conflict()->actual_version, 1);

  // Another writer moves the aggregate to version 2; the executor's warm
  // state still says 1, but it must answer for the store's version.
  AccountStore other(shared, "account");
  auto a = other.Load(id).value();
  a.Append(BalanceChanged{1});
  ESTORIA_ASSERT_OK(other.Save(a));
  auto stale = executor.Execute(id, Deposit(1), ExecuteOptions{.expected_version = 1});
  ASSERT_TRUE(stale.error().IsConflict()) << stale.error();
  EXPECT_EQ(stale.error().conflict()->actual_version, 2);
  EXPECT_EQ(Balance(shared, id), 11);  // nothing appended

  auto exact = executor.Execute(id, Deposit(1), ExecuteOptions{.expected_version = 2});
  ESTORIA_ASSERT_OK(exact);
  EXPECT_EQ(exact->version, 3);
  EXPECT_EQ(Balance(shared, id), 12);
  EXPECT_TRUE(executor.Execute(id, Deposit(1), ExecuteOptions{.expected_version = -1}).error().IsInvalidArgument());
}

TEST_P(CommandExecutorTest, DeadlinePassedBeforeStartingAppendsNothing) {
  auto events = OpenEvents();
  Executor executor(AccountStore::Create(events, "account"));
  const Uuid id = Uuid::NewV7();
  bool decided = false;
  auto late = executor.Execute(
      id,
      [&](Aggregate<Account>& a) {
        decided = true;
        return Deposit(1)(a);
      },
      ExecuteOptions{.deadline = std::chrono::steady_clock::now() - 1ms});
  ASSERT_TRUE(late.error().IsUnavailable()) << late.error();
  EXPECT_NE(late.error().message().find("deadline exceeded"), std::string::npos);
  EXPECT_FALSE(decided);
  EXPECT_TRUE(AccountStore(events, "account").Load(id).error().IsNotFound());
}

TEST_P(CommandExecutorTest, DeadlinePassedWhileQueuedReturnsAtTheDeadline) {
  auto events = OpenEvents();
  Executor executor(AccountStore::Create(events, "account"));
  const Uuid id = Uuid::NewV7();
  std::latch release(1);
  std::atomic<bool> leading{false};
  std::thread leader([&] {
    ESTORIA_EXPECT_OK(executor.Execute(id, [&](Aggregate<Account>& a) {
      leading = true;
      release.wait();
      a.Append(BalanceChanged{1});
      return Status::Ok();
    }));
  });
  while (!leading) std::this_thread::sleep_for(1ms);
  // The leader holds the aggregate: a command with a 50 ms deadline waits behind it.
  std::optional<Result<CommandOutcome<Account>>> late;
  std::thread waiter([&] {
    late = executor.Execute(id, Deposit(1000), ExecuteOptions{.deadline = std::chrono::steady_clock::now() + 50ms});
  });
  waiter.join();  // returns at its deadline, while the leader still waits
  release.count_down();
  leader.join();
  ASSERT_TRUE(late->error().IsUnavailable()) << late->error();
  EXPECT_NE(late->error().message().find("deadline exceeded"), std::string::npos);
  EXPECT_EQ(Balance(events, id), 1);  // only the leader's event
}

TEST_P(CommandExecutorTest, ConflictsFromAnotherWriterAreRetriedWithinBounds) {
  auto shared = OpenEvents();
  auto intruding = std::make_shared<IntrudingEventStore>(shared);
  const Uuid id = Uuid::NewV7();
  {
    CommandExecutorOptions options;
    options.max_attempts = 3;
    options.initial_backoff = 100us;
    options.max_backoff = 1ms;
    Executor executor(AccountStore::Create(intruding, "account"), options);
    auto done = executor.Execute(id, Deposit(1000));
    ASSERT_TRUE(done.error().IsConflict()) << done.error();
    EXPECT_NE(done.error().message().find("gave up after 3 attempts"), std::string::npos) << done.error();
    EXPECT_EQ(intruding->intrusions(), 3);
    EXPECT_EQ(executor.stats().conflicts, 3);
    EXPECT_EQ(Balance(shared, id), 3);  // the intruder's events only
  }
  {
    CommandExecutorOptions options;
    options.max_attempts = 1000000;
    Executor executor(AccountStore::Create(intruding, "account"), options);
    auto started = std::chrono::steady_clock::now();
    auto done = executor.Execute(id, Deposit(1000), ExecuteOptions{.deadline = started + 100ms});
    ASSERT_TRUE(done.error().IsUnavailable()) << done.error();
    EXPECT_NE(done.error().message().find("deadline exceeded"), std::string::npos);
    EXPECT_GE(std::chrono::steady_clock::now() - started, 100ms);
    EXPECT_EQ(Balance(shared, id), intruding->intrusions());  // again only the intruder's
  }
}

TEST_P(CommandExecutorTest, InvalidCallsAndOptions) {
  auto events = OpenEvents();
  Executor executor(AccountStore::Create(events, "account"));
  EXPECT_TRUE(executor.Execute(Uuid(), Deposit(1)).error().IsInvalidArgument());
  EXPECT_TRUE(executor.Execute(Uuid::NewV7(), nullptr).error().IsInvalidArgument());
  CommandExecutorOptions bad;
  bad.max_attempts = 0;
  Executor invalid(AccountStore::Create(events, "account"), bad);
  EXPECT_TRUE(invalid.Execute(Uuid::NewV7(), Deposit(1)).error().IsInvalidArgument());
  Executor null_store(nullptr);
  EXPECT_TRUE(null_store.Execute(Uuid::NewV7(), Deposit(1)).error().IsInvalidArgument());
}

INSTANTIATE_TEST_SUITE_P(Backends, CommandExecutorTest, ::testing::Values("memory", "sqlite"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace estoria
