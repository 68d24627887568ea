// load: for each history length H, one aggregate with H events is built (saves
// of up to 100 events, through a SnapshottingStore with the given policy), then
// loaded repeatedly without snapshots (full replay through EventSourcedStore) and
// with snapshots (SnapshottingStore: newest snapshot + the events after it).
// Snapshots live in the backend's own snapshot store (memory, SQLite file of the
// event store, or the PostgreSQL database of the store URI); other backends
// (nats) have none, and `load` is NotSupported for them.
#include "load_workload.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>

#include "estoria/event_sourced_store.h"
#include "estoria/memory/memory_stores.h"
#include "estoria/snapshotting_store.h"
#include "workloads.h"
#ifdef ESTORIA_BENCH_SQLITE
#include "estoria/sqlite/sqlite_event_store.h"
#include "estoria/sqlite/sqlite_snapshot_store.h"
#endif
#ifdef ESTORIA_BENCH_POSTGRES
#include "estoria/postgres/postgres_options.h"
#include "estoria/postgres/postgres_snapshot_store.h"
#endif

namespace estoria::bench {
namespace {

struct BenchAccount {
  int64_t balance = 0;
  int64_t changes = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(BenchAccount, balance, changes)

struct BenchDeposited {
  static constexpr std::string_view kType = "deposited";
  int64_t amount = 0;
  void ApplyTo(BenchAccount& a) const {
    a.balance += amount;
    ++a.changes;
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(BenchDeposited, amount)

using AccountStore = EventSourcedStore<BenchAccount, BenchDeposited>;

Result<std::shared_ptr<SnapshotStore>> OpenSnapshots(const BenchOptions& o) {
  const std::string backend = BackendOf(o.store);
#ifdef ESTORIA_BENCH_SQLITE
  if (backend == "sqlite") {
    ESTORIA_ASSIGN_OR_RETURN(sqlite::SqliteOptions so, sqlite::SqliteEventStore::ParseUri(o.store));
    if (so.path != ":memory:") {
      sqlite::SqliteStoreOptions options;
      options.path = so.path;
      options.durability = o.durability == "relaxed" ? Durability::kRelaxed : Durability::kStrict;
      ESTORIA_ASSIGN_OR_RETURN(auto store, sqlite::SqliteSnapshotStore::Open(options));
      return std::shared_ptr<SnapshotStore>(std::move(store));
    }
  }
#endif
#ifdef ESTORIA_BENCH_POSTGRES
  if (backend == "postgres") {
    ESTORIA_ASSIGN_OR_RETURN(postgres::PostgresOptions po, postgres::ParsePostgresUri(o.store));
    ESTORIA_ASSIGN_OR_RETURN(auto store, postgres::PostgresSnapshotStore::Open(po));
    return std::shared_ptr<SnapshotStore>(std::move(store));
  }
#endif
  return estoria::memory::MemorySnapshotStore::Open().value();
}

std::vector<int64_t> ParseHistory(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(std::stoll(item));
  }
  return out;
}

}  // namespace

Result<std::vector<BenchResult>> RunLoad(const BenchOptions& o) {
  using Clock = std::chrono::steady_clock;
  std::vector<int64_t> lengths;
  try {
    lengths = ParseHistory(o.history);
  } catch (const std::exception&) {
    return Status::InvalidArgument("--history must be comma-separated integers");
  }
  if (const std::string backend = BackendOf(o.store);
      backend != "memory" && backend != "sqlite" && backend != "postgres") {
    // A memory snapshot store beside a remote event store would flatter the
    // "with snapshots" rows: backends without a snapshot store of their own
    // (nats) have no load rows.
    return Status::NotSupported("load: no snapshot store for " + backend + " stores");
  }
  ESTORIA_ASSIGN_OR_RETURN(auto events, OpenBenchStore(o));
  ESTORIA_ASSIGN_OR_RETURN(auto snapshots, OpenSnapshots(o));
  auto base = AccountStore::Create(events, "benchaccount");
  SnapshottingStoreOptions<BenchAccount> so;
  so.snapshots = snapshots;
  so.policy = SnapshotPolicy<BenchAccount>::EveryNEvents(o.snapshot_every);
  auto snapshotting = SnapshottingStore<BenchAccount>::Create(base, so);

  std::vector<BenchResult> results;
  for (int64_t history : lengths) {
    if (history < 1) return Status::InvalidArgument("--history lengths must be >= 1");
    ESTORIA_ASSIGN_OR_RETURN(Aggregate<BenchAccount> a, snapshotting->New());
    for (int64_t done = 0; done < history;) {
      for (int i = 0; i < 100 && done < history; ++i, ++done) a.Append(BenchDeposited{1});
      ESTORIA_RETURN_IF_ERROR(snapshotting->Save(a));
    }
    const int64_t loads = std::clamp<int64_t>(200000 / history, 5, 2000);
    for (bool with_snapshots : {false, true}) {
      AggregateStore<BenchAccount>& store =
          with_snapshots ? static_cast<AggregateStore<BenchAccount>&>(*snapshotting) : *base;
      LatencyRecorder lat;
      auto start = Clock::now();
      for (int64_t i = 0; i < loads; ++i) {
        auto t0 = Clock::now();
        ESTORIA_ASSIGN_OR_RETURN(Aggregate<BenchAccount> loaded, store.Load(a.id().uuid()));
        lat.Add(Clock::now() - t0);
        if (loaded.version() != history || loaded.state().balance != history) {
          return Status::Internal("load: wrong state at history " + std::to_string(history));
        }
      }
      double secs = std::chrono::duration<double>(Clock::now() - start).count();
      BenchResult r;
      r.workload = "load";
      r.backend = BackendOf(o.store);
      r.events = history * loads;
      r.operations = loads;
      r.seconds = secs;
      r.events_per_sec = r.events / secs;
      r.ops_per_sec = loads / secs;
      r.latency_of = "one aggregate Load";
      r.SetLatency(lat);
      r.extra["history"] = history;
      r.extra["snapshots"] = with_snapshots;
      r.extra["snapshot_every"] = o.snapshot_every;
      r.extra["loads_per_sec"] = r.ops_per_sec;
      results.push_back(std::move(r));
    }
  }
  return results;
}

}  // namespace estoria::bench
