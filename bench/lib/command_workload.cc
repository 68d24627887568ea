#include "command_workload.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "estoria/command_executor.h"
#include "estoria/event_sourced_store.h"
#include "workloads.h"

namespace estoria::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Wallet {
  int64_t balance = 0;
};

struct Deposited {
  static constexpr std::string_view kType = "deposited";
  int64_t amount = 0;
  void ApplyTo(Wallet& w) const { w.balance += amount; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Deposited, amount)

using WalletStore = EventSourcedStore<Wallet, Deposited>;
constexpr int kMaxAttempts = 100;

// The decision of both paths: +1, refused if the balance would go negative.
Status Decide(Aggregate<Wallet>& wallet) {
  if (wallet.state().balance + 1 < 0) return Status::FailedPrecondition("insufficient funds");
  wallet.Append(Deposited{1});
  return Status::Ok();
}

// The bank's former backoff: random 0 .. min(100 us * 2^attempt, 10 ms).
void OldBackoff(std::minstd_rand& rng, int attempt) {
  int64_t ceiling_us = std::min<int64_t>(int64_t{100} << std::min(attempt, 7), 10'000);
  std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int64_t>(0, ceiling_us)(rng)));
}

// Load, decide, save; on a conflict back off and start over.
Status OldPathCommand(WalletStore& store, const Uuid& id, std::minstd_rand& rng, int64_t* conflicts) {
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    if (attempt > 0) OldBackoff(rng, attempt);
    auto loaded = store.Load(id);
    if (!loaded && !loaded.error().IsNotFound()) return loaded.error();
    Aggregate<Wallet> wallet = loaded ? std::move(loaded).value() : store.New(id).value();
    ESTORIA_RETURN_IF_ERROR(Decide(wallet));
    Status saved = store.Save(wallet);
    if (!saved.IsConflict()) return saved;
    ++*conflicts;
  }
  return Status::Conflict("too many conflicts");
}

struct SideResult {
  BenchResult result;
  double commands_per_sec = 0;
};

// Runs one side for o.seconds on fresh aggregates (seeded with one event).
Result<SideResult> RunSide(const BenchOptions& o, const std::shared_ptr<EventStore>& events, bool use_executor,
                           int round) {
  auto store = WalletStore::Create(events, "wallet");
  std::vector<Uuid> ids(static_cast<size_t>(std::max(1, o.aggregates)));
  for (Uuid& id : ids) {
    id = Uuid::NewV7();
    auto wallet = store->New(id).value();
    wallet.Append(Deposited{1});
    ESTORIA_RETURN_IF_ERROR(store->Save(wallet));
  }
  CommandExecutorOptions executor_options;
  executor_options.max_attempts = kMaxAttempts;
  CommandExecutor<Wallet> executor(store, executor_options);
  const int writers = std::max(1, o.writers);
  std::vector<LatencyRecorder> latency(writers);
  std::atomic<int64_t> done{0}, failed{0}, conflicts{0};
  std::atomic<bool> go{false}, stop{false};
  std::mutex error_mu;
  Status first_error;
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      std::minstd_rand rng(static_cast<unsigned>(w * 7919 + round));
      std::uniform_int_distribution<size_t> pick(0, ids.size() - 1);
      while (!go.load()) std::this_thread::yield();
      while (!stop.load(std::memory_order_relaxed)) {
        const Uuid& id = ids[pick(rng)];
        auto t0 = Clock::now();
        Status st;
        int64_t met = 0;
        if (use_executor) {
          auto outcome = executor.Execute(id, Decide);
          if (outcome) {
            met = outcome->conflicts;
          } else {
            st = outcome.error();
          }
        } else {
          st = OldPathCommand(*store, id, rng, &met);
        }
        conflicts.fetch_add(met, std::memory_order_relaxed);
        if (st.ok()) {
          latency[w].Add(Clock::now() - t0);
          done.fetch_add(1, std::memory_order_relaxed);
        } else if (st.IsConflict()) {
          failed.fetch_add(1, std::memory_order_relaxed);
        } else {
          std::lock_guard lock(error_mu);
          if (first_error.ok()) first_error = st;
          stop = true;
        }
      }
    });
  }
  auto start = Clock::now();
  go = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  stop = true;
  for (auto& t : threads) t.join();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ESTORIA_RETURN_IF_ERROR(first_error);
  // Nothing lost: every aggregate holds its seed event plus one per success.
  int64_t balance = 0;
  for (const Uuid& id : ids) {
    ESTORIA_ASSIGN_OR_RETURN(auto wallet, store->Load(id));
    balance += wallet.state().balance - 1;
  }
  if (balance != done.load()) {
    return Status::Internal("commands: " + std::to_string(done.load()) + " acknowledged but the balances sum to " +
                            std::to_string(balance));
  }
  LatencyRecorder all;
  for (auto& l : latency) all.Merge(l);
  SideResult side;
  BenchResult& r = side.result;
  r.workload = "commands";
  r.backend = BackendOf(o.store);
  r.events = done.load();
  r.operations = done.load();
  r.seconds = seconds;
  r.events_per_sec = static_cast<double>(done.load()) / seconds;
  r.ops_per_sec = r.events_per_sec;
  r.latency_of = use_executor ? "one Execute call" : "one command (load, decide, save, retries)";
  r.conflicts = conflicts.load();
  r.SetLatency(all);
  r.extra["path"] = use_executor ? "executor" : "old";
  r.extra["aggregates"] = o.aggregates;
  r.extra["round"] = round;
  r.extra["commands_per_sec"] = r.events_per_sec;
  r.extra["failed_after_attempts"] = failed.load();
  if (use_executor) {
    CommandExecutorStats stats = executor.stats();
    r.extra["appends"] = stats.appends;
    r.extra["commands_per_append"] =
        stats.appends > 0 ? static_cast<double>(done.load()) / static_cast<double>(stats.appends) : 0.0;
  }
  side.commands_per_sec = r.events_per_sec;
  return side;
}

}  // namespace

Result<std::vector<BenchResult>> RunCommands(const BenchOptions& o) {
  if (o.aggregates < 1 || o.rounds < 1 || o.seconds <= 0) {
    return Status::InvalidArgument("commands: --aggregates, --rounds and --seconds must be positive");
  }
  ESTORIA_ASSIGN_OR_RETURN(auto events, OpenBenchStore(o));
  std::vector<BenchResult> results;
  std::vector<double> ratios;
  for (int round = 1; round <= o.rounds; ++round) {
    ESTORIA_ASSIGN_OR_RETURN(SideResult old_path, RunSide(o, events, false, round));
    ESTORIA_ASSIGN_OR_RETURN(SideResult executor, RunSide(o, events, true, round));
    double ratio = old_path.commands_per_sec > 0 ? executor.commands_per_sec / old_path.commands_per_sec : 0;
    ratios.push_back(ratio);
    executor.result.extra["ratio_to_old"] = ratio;
    results.push_back(std::move(old_path.result));
    results.push_back(std::move(executor.result));
  }
  std::vector<double> sorted = ratios;
  std::sort(sorted.begin(), sorted.end());
  results.back().extra["ratios_to_old"] = ratios;
  results.back().extra["median_ratio_to_old"] = sorted[(sorted.size() - 1) / 2];
  return results;
}

}  // namespace estoria::bench
