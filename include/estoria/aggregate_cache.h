// estoria/aggregate_cache.h: AggregateCache, where CachedStore<S> keeps encoded
// aggregates (in this process, or shared by many processes, e.g. Redis in
// estoria/redis/redis_aggregate_cache.h), and LruAggregateCache, the bounded
// in-process implementation.
//
// An entry is (version, bytes) under (namespace, key): CachedStore uses the
// aggregate type (or CachedStoreOptions::cache_namespace) as the namespace and
// the aggregate's UUID as the key, and the bytes are the state encoded with
// the aggregate store's codec (CodecFor<S>). Namespaces keep the aggregates of
// different types or stores apart in one cache.
//
// Contract of every implementation:
// - Put is a version compare-and-set: it never replaces an entry holding a
//   newer version by an older one (an equal version replaces, and refreshes
//   the TTL); the check and the write are one atomic step, also across
//   processes for a shared cache.
// - An entry past its TTL is never returned.
// - A cache is an optimisation: an entry may vanish at any time (capacity,
//   TTL, another process's Delete); callers treat Unavailable as a miss.
//
// Thread safety: every AggregateCache implementation is safe for concurrent use
// from many threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "estoria/status.h"

namespace estoria {

// One cached aggregate: its version and encoded state.
struct CachedAggregate {
  int64_t version = 0;
  std::string data;
};

// What a cache reports about one namespace.
struct AggregateCacheUsage {
  size_t size = 0;        // entries held now (0 when the cache cannot count them)
  int64_t evictions = 0;  // entries dropped by the cache itself (capacity, TTL)
};

class AggregateCache {
 public:
  virtual ~AggregateCache() = default;

  // The entry of `key` in namespace `ns`. Errors: NotFound (no entry, or it
  // expired), Unavailable (the cache cannot be reached), Corruption (an entry
  // the cache cannot read).
  virtual Result<CachedAggregate> Get(std::string_view ns, std::string_view key) = 0;

  // Stores (version, data) unless the entry already holds a newer version;
  // true when stored, false when a newer version was kept. ttl: the entry
  // expires that long after this Put (0 = never). Errors: InvalidArgument
  // (version < 1, negative ttl), Unavailable, Corruption (the cache holds
  // something that is not an entry under the key).
  virtual Result<bool> Put(std::string_view ns, std::string_view key, int64_t version, std::string_view data,
                           std::chrono::milliseconds ttl) = 0;

  // Removes the entry; true when there was one. Errors: Unavailable.
  virtual Result<bool> Delete(std::string_view ns, std::string_view key) = 0;

  // Removes every entry of namespace `ns`; returns how many. Errors: Unavailable.
  virtual Result<int64_t> Clear(std::string_view ns) = 0;

  // Entries held and dropped in namespace `ns` (best effort; never fails).
  virtual AggregateCacheUsage Usage(std::string_view ns) = 0;
};

struct LruAggregateCacheOptions {
  // Maximum number of entries over all namespaces; the least recently used
  // entry is dropped beyond it. 0 keeps nothing (every Put is dropped at
  // once). Default 1024.
  size_t capacity = 1024;
};

// The in-process cache: a bounded LRU map guarded by one mutex. Entries are
// copies of the bytes; Get marks the entry most recently used. Expired entries
// are dropped when met (Get) or when capacity is needed.
// Errors: only InvalidArgument from Put; never Unavailable.
class LruAggregateCache final : public AggregateCache {
 public:
  explicit LruAggregateCache(LruAggregateCacheOptions options = {});
  ~LruAggregateCache() override;
  static std::shared_ptr<LruAggregateCache> Create(LruAggregateCacheOptions options = {}) {
    return std::make_shared<LruAggregateCache>(options);
  }

  Result<CachedAggregate> Get(std::string_view ns, std::string_view key) override;
  Result<bool> Put(std::string_view ns, std::string_view key, int64_t version, std::string_view data,
                   std::chrono::milliseconds ttl) override;
  Result<bool> Delete(std::string_view ns, std::string_view key) override;
  Result<int64_t> Clear(std::string_view ns) override;
  AggregateCacheUsage Usage(std::string_view ns) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace estoria
