// cached-load: --aggregates aggregates of H events each (H from --history) are
// written once (untimed, saves of up to 100 events), then loaded round-robin
// through three stores over the same event store, each for a fixed number of
// loads per round:
//   cold   EventSourcedStore: every load replays the H events
//   lru    CachedStore over LruAggregateCache (capacity >= aggregates)
//   redis  CachedStore over RedisAggregateCache (--redis), fresh namespace
// The caches are warmed (one untimed load of each aggregate) before the first
// round; every timed cached load is a hit (checked), and every load's state is
// checked. Rounds interleave the sides (cold, lru, redis) so that a noisy
// machine hits all of them alike; each row reports the median over rounds.
#include "cache_workload.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "estoria/cached_store.h"
#include "estoria/event_sourced_store.h"
#include "workloads.h"
#ifdef ESTORIA_BENCH_REDIS
#include "estoria/redis/redis_aggregate_cache.h"
#endif

namespace estoria::bench {
namespace {

struct CacheBenchAccount {
  int64_t balance = 0;
  int64_t changes = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CacheBenchAccount, balance, changes)

struct CacheBenchDeposited {
  static constexpr std::string_view kType = "deposited";
  int64_t amount = 0;
  void ApplyTo(CacheBenchAccount& a) const {
    a.balance += amount;
    ++a.changes;
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CacheBenchDeposited, amount)

using AccountStore = EventSourcedStore<CacheBenchAccount, CacheBenchDeposited>;

struct Side {
  Side(std::string n, std::shared_ptr<AggregateStore<CacheBenchAccount>> s,
       std::shared_ptr<CachedStore<CacheBenchAccount>> c)
      : name(std::move(n)), store(std::move(s)), cached(std::move(c)) {}
  std::string name;
  std::shared_ptr<AggregateStore<CacheBenchAccount>> store;
  std::shared_ptr<CachedStore<CacheBenchAccount>> cached;  // null for cold
  std::vector<double> loads_per_sec;                       // one per round
  LatencyRecorder latency;
  int64_t loads = 0;
  double seconds = 0;
};

}  // namespace

Result<std::vector<BenchResult>> RunCachedLoad(const BenchOptions& o) {
  using Clock = std::chrono::steady_clock;
  std::vector<int64_t> lengths;
  try {
    std::stringstream in(o.history);
    for (std::string item; std::getline(in, item, ',');) {
      if (!item.empty()) lengths.push_back(std::stoll(item));
    }
  } catch (const std::exception&) {
    return Status::InvalidArgument("--history must be comma-separated integers");
  }
  ESTORIA_ASSIGN_OR_RETURN(auto events, OpenBenchStore(o));
  auto base = AccountStore::Create(events, "cacheaccount");
  std::shared_ptr<AggregateCache> redis_cache;
  if (!o.redis.empty()) {
#ifdef ESTORIA_BENCH_REDIS
    ESTORIA_ASSIGN_OR_RETURN(auto opened, redis::RedisAggregateCache::OpenUri(o.redis));
    redis_cache = opened;
#else
    return Status::NotSupported("cached-load: --redis needs estoria::redis (ESTORIA_WITH_REDIS)");
#endif
  }
  const std::string ns = "bench-" + Uuid::NewV7().ToString();

  std::vector<BenchResult> results;
  for (int64_t history : lengths) {
    if (history < 1) return Status::InvalidArgument("--history lengths must be >= 1");
    std::vector<Uuid> ids;
    for (int n = 0; n < o.aggregates; ++n) {
      ESTORIA_ASSIGN_OR_RETURN(Aggregate<CacheBenchAccount> a, base->New());
      for (int64_t done = 0; done < history;) {
        for (int i = 0; i < 100 && done < history; ++i, ++done) a.Append(CacheBenchDeposited{1});
        ESTORIA_RETURN_IF_ERROR(base->Save(a));
      }
      ids.push_back(a.id().uuid());
    }
    std::vector<Side> sides;
    sides.emplace_back("cold", base, nullptr);
    auto lru = CachedStore<CacheBenchAccount>::Create(base, {.capacity = ids.size()});
    sides.emplace_back("lru", lru, lru);
    if (redis_cache) {
      auto redis = CachedStore<CacheBenchAccount>::Create(
          base, {.cache = redis_cache, .cache_namespace = ns + "-" + std::to_string(history)});
      sides.emplace_back("redis", redis, redis);
    }
    for (Side& s : sides) {
      for (const Uuid& id : ids) ESTORIA_RETURN_IF_ERROR(s.store->Load(id).status());  // warm
    }
    const int64_t loads = std::clamp<int64_t>(100000 / history, 200, 5000);
    for (int round = 0; round < o.rounds; ++round) {
      for (Side& s : sides) {
        const int64_t hits_before = s.cached ? s.cached->stats().hits : 0;
        auto start = Clock::now();
        for (int64_t i = 0; i < loads; ++i) {
          auto t0 = Clock::now();
          ESTORIA_ASSIGN_OR_RETURN(Aggregate<CacheBenchAccount> loaded,
                                   s.store->Load(ids[static_cast<size_t>(i) % ids.size()]));
          s.latency.Add(Clock::now() - t0);
          if (loaded.version() != history || loaded.state().balance != history) {
            return Status::Internal("cached-load: wrong state (" + s.name + ", history " + std::to_string(history) +
                                    ")");
          }
        }
        double secs = std::chrono::duration<double>(Clock::now() - start).count();
        if (s.cached && s.cached->stats().hits - hits_before != loads) {
          return Status::Internal("cached-load: " + s.name + " missed during a timed round");
        }
        s.loads_per_sec.push_back(loads / secs);
        s.loads += loads;
        s.seconds += secs;
      }
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[(v.size() - 1) / 2];
    };
    const double cold = median(sides[0].loads_per_sec);
    for (Side& s : sides) {
      BenchResult r;
      r.workload = "cached-load";
      r.backend = BackendOf(o.store);
      r.operations = s.loads;
      r.events = s.cached ? 0 : s.loads * history;
      r.seconds = s.seconds;
      r.ops_per_sec = median(s.loads_per_sec);
      r.events_per_sec = s.cached ? 0 : r.ops_per_sec * static_cast<double>(history);
      r.latency_of = "one aggregate Load";
      r.SetLatency(s.latency);
      r.extra["cache"] = s.name;
      r.extra["history"] = history;
      r.extra["aggregates"] = o.aggregates;
      r.extra["rounds"] = o.rounds;
      r.extra["loads_per_round"] = loads;
      r.extra["median_loads_per_sec"] = r.ops_per_sec;
      r.extra["loads_per_sec_by_round"] = s.loads_per_sec;
      r.extra["ratio_to_cold"] = cold > 0 ? r.ops_per_sec / cold : 0;
      results.push_back(std::move(r));
    }
    if (redis_cache) (void)redis_cache->Clear(ns + "-" + std::to_string(history));
  }
  return results;
}

}  // namespace estoria::bench
