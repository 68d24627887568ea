// estoria/cached_store.h: CachedStore<S>, a decorator keeping recently loaded
// and saved aggregates in an AggregateCache (aggregate_cache.h): by default an
// in-process LruAggregateCache (capacity in entries), or a cache shared by
// many processes (e.g. estoria::redis::RedisAggregateCache).
//
// - Entries: the aggregate's version and its state encoded with CodecFor<S>
//   (JSON by default: S needs to_json and from_json), tagged with
//   SchemaVersionOf<S>() and the codec's content type; an entry of another
//   schema version or content type is ignored (a miss), never an error.
// - Load of the latest state (no to_version/to_time) is served from the cache
//   when present and not older than LoadOptions::min_version; otherwise it
//   loads through the wrapped store and caches the result. Bounded loads
//   bypass the cache entirely.
// - A successful Save caches the saved aggregate. A failed Save (Conflict or any
//   other error) deletes the entry from the cache, so that the next Load in
//   any process sharing the cache reads the store again.
// - Puts are version compare-and-sets: an entry is only ever replaced by a
//   newer version; a load or save that raced with another save (or evict) of
//   the same aggregate in this process deletes instead of caching. Within one
//   process the cache thus never serves a version older than one saved
//   through this CachedStore.
// - Across processes: a save through any CachedStore sharing the cache
//   replaces the entry (or deletes it on failure). An append that bypasses the
//   cache (another store, a conflicting writer) leaves the cached copy
//   behind: pass min_version for what the caller has seen, and a Save of a
//   stale copy conflicts (and deletes the entry): reload and retry, as always.
//   An entry that lost a race with such a delete can come back older; ttl
//   bounds how long.
// - A cache error (Unavailable, Corruption) never fails a Load or Save: the
//   load goes to the wrapped store and the error is counted (CacheStats::errors).
//
// Thread safety: safe for concurrent use from many threads. Cache reads run
// without a lock; cache writes (put, delete) are made under one mutex, which
// is never held while calling the wrapped store.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "estoria/aggregate_cache.h"
#include "estoria/aggregate_store.h"
#include "estoria/codec.h"

namespace estoria {

struct CachedStoreOptions {
  // Capacity of the in-process LruAggregateCache made when `cache` is null
  // (maximum number of cached aggregates); 0 disables caching. Default 1024.
  size_t capacity = 1024;
  // The cache to use, possibly shared with other stores and processes (then
  // `capacity` is not used). Default null (a private LRU).
  std::shared_ptr<AggregateCache> cache = nullptr;
  // The namespace of this store's entries. Default "" (the aggregate type).
  std::string cache_namespace = {};
  // Entries expire this long after they were put; 0 = never. Default 0.
  std::chrono::milliseconds ttl{0};
};

struct CacheStats {
  int64_t hits = 0;
  int64_t misses = 0;     // latest loads that went to the wrapped store
  int64_t bypassed = 0;   // bounded loads (to_version/to_time), or caching disabled
  int64_t evictions = 0;  // entries deleted after a failed or raced save, by Evict/Clear,
                          // or dropped by the cache (capacity, TTL)
  size_t size = 0;        // entries now cached in this store's namespace
  int64_t errors = 0;     // cache operations that failed (Unavailable, undecodable entries)
};

namespace internal {
// The bytes of a cached aggregate entry (CachedStore): a small header (format,
// state schema version, last event time, content type) and the encoded state.
std::string EncodeCachedState(int schema_version, Timestamp last_event_time, std::string_view content_type,
                              std::string_view state);
struct CachedStateView {
  int schema_version = 0;
  Timestamp last_event_time{};
  std::string_view content_type;
  std::string_view state;
};
// Corruption when the bytes are not an entry written by EncodeCachedState.
Result<CachedStateView> DecodeCachedState(std::string_view data);
}  // namespace internal

template <typename S>
class CachedStore final : public AggregateStoreDecorator<S> {
 public:
  explicit CachedStore(std::shared_ptr<AggregateStore<S>> inner, CachedStoreOptions options = {})
      : AggregateStoreDecorator<S>(std::move(inner)), options_(std::move(options)) {
    cache_ = options_.cache;
    if (!cache_ && options_.capacity > 0) {
      cache_ = LruAggregateCache::Create({.capacity = options_.capacity});
    }
    namespace_ = options_.cache_namespace.empty() ? this->aggregate_type() : options_.cache_namespace;
  }
  static std::shared_ptr<CachedStore> Create(std::shared_ptr<AggregateStore<S>> inner,
                                             CachedStoreOptions options = {}) {
    return std::make_shared<CachedStore>(std::move(inner), std::move(options));
  }

  using AggregateStore<S>::New;

  // Errors: the wrapped store's (see AggregateStore::Load); InvalidArgument
  // for a negative min_version. Cache errors are counted, never returned.
  Result<Aggregate<S>> Load(const Uuid& id, const LoadOptions& options = {}) override {
    if (!options.latest() || !cache_) {
      bypassed_.fetch_add(1, std::memory_order_relaxed);
      return this->inner()->Load(id, options);
    }
    ESTORIA_RETURN_IF_ERROR(ValidateLoadOptions(options));
    const std::string key = id.ToString();
    auto hit = cache_->Get(namespace_, key);
    if (hit) {
      if (hit->version >= options.min_version) {
        auto aggregate = Decode(id, *hit);
        if (aggregate) {
          hits_.fetch_add(1, std::memory_order_relaxed);
          return std::move(aggregate).value();
        }
        errors_.fetch_add(1, std::memory_order_relaxed);  // replaced by the load below
      }
    } else if (!hit.error().IsNotFound()) {
      errors_.fetch_add(1, std::memory_order_relaxed);
    }
    misses_.fetch_add(1, std::memory_order_relaxed);
    uint64_t started;
    {
      std::lock_guard<std::mutex> lock(mu_);
      started = BeginLocked(id);
    }
    auto loaded = this->inner()->Load(id, options);
    std::optional<std::string> data;
    if (loaded) data = Encode(*loaded);  // outside the lock
    std::lock_guard<std::mutex> lock(mu_);
    bool raced = EndLocked(id, started);
    if (loaded && !raced) {
      PutLocked(key, loaded->version(), data);
    } else if (raced) {
      DeleteLocked(key);  // a save finished meanwhile: let the next load read the store
    }
    return loaded;
  }

  // Errors: the wrapped store's (see AggregateStore::Save). Success caches the
  // saved aggregate; any error deletes its entry from the cache.
  Status Save(Aggregate<S>& aggregate) override {
    if (!cache_) return this->inner()->Save(aggregate);
    const Uuid id = aggregate.id().uuid();
    uint64_t started;
    {
      std::lock_guard<std::mutex> lock(mu_);
      started = BeginLocked(id);
    }
    Status st = this->inner()->Save(aggregate);
    std::optional<std::string> data;
    if (st.ok()) data = Encode(aggregate);  // outside the lock
    std::lock_guard<std::mutex> lock(mu_);
    bool raced = EndLocked(id, started);
    NoteMutationLocked(id);
    if (st.ok() && !raced) {
      PutLocked(id.ToString(), aggregate.version(), data);
    } else {
      // Failed, or another save/evict of this aggregate finished while this one
      // ran (its version may be newer, or it may have skipped caching because
      // of us): drop the entry rather than risk keeping an older version.
      DeleteLocked(id.ToString());
    }
    return st;
  }

  // Deletes one aggregate's entry from the cache (e.g. after an out-of-band change).
  void Evict(const Uuid& id) {
    if (!cache_) return;
    std::lock_guard<std::mutex> lock(mu_);
    NoteMutationLocked(id);
    DeleteLocked(id.ToString());
  }

  // Deletes every entry of this store's namespace.
  void Clear() {
    if (!cache_) return;
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, flight] : in_flight_) flight.last_mutation = ++sequence_;
    auto removed = cache_->Clear(namespace_);
    if (removed) {
      evictions_.fetch_add(*removed, std::memory_order_relaxed);
    } else {
      errors_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  CacheStats stats() const {
    CacheStats s;
    s.hits = hits_.load();
    s.misses = misses_.load();
    s.bypassed = bypassed_.load();
    s.evictions = evictions_.load();
    s.errors = errors_.load();
    if (cache_) {
      AggregateCacheUsage usage = cache_->Usage(namespace_);
      s.size = usage.size;
      s.evictions += usage.evictions;
    }
    return s;
  }

  // The cache in use (null when caching is disabled) and this store's namespace.
  const std::shared_ptr<AggregateCache>& cache() const { return cache_; }
  const std::string& cache_namespace() const { return namespace_; }

 private:
  struct InFlight {
    int operations = 0;
    uint64_t last_mutation = 0;
  };

  Result<Aggregate<S>> Decode(const Uuid& id, const CachedAggregate& entry) const {
    auto view = internal::DecodeCachedState(entry.data);
    if (!view) return view.error();
    if (view->schema_version != SchemaVersionOf<S>()) {
      return Status::FailedPrecondition("cached state has another schema version");
    }
    auto state = CodecFor<S>::template Decode<S>(view->content_type, view->state);
    if (!state) return state.error();
    return internal::AggregateAccess::Restore(TypeId(this->aggregate_type(), id), entry.version,
                                              std::move(state).value(), view->last_event_time);
  }

  // The entry bytes of an aggregate; nullopt (counted) when its state does not encode.
  std::optional<std::string> Encode(const Aggregate<S>& aggregate) {
    auto state = CodecFor<S>::template Encode<S>(aggregate.state());
    if (!state) {
      errors_.fetch_add(1, std::memory_order_relaxed);
      return std::nullopt;
    }
    return internal::EncodeCachedState(SchemaVersionOf<S>(), aggregate.last_event_time(), CodecFor<S>::kContentType,
                                       *state);
  }

  // Caches (version, data) unless a newer version is already cached; no data
  // (an encode failure) deletes the entry, never leaving an older version behind.
  void PutLocked(const std::string& key, int64_t version, const std::optional<std::string>& data) {
    if (version < 1) return;
    if (!data) {
      DeleteLocked(key);
      return;
    }
    auto put = cache_->Put(namespace_, key, version, *data, options_.ttl);
    if (!put) {
      errors_.fetch_add(1, std::memory_order_relaxed);
      DeleteLocked(key);
    }
  }
  void DeleteLocked(const std::string& key) {
    auto deleted = cache_->Delete(namespace_, key);
    if (!deleted) {
      errors_.fetch_add(1, std::memory_order_relaxed);
    } else if (*deleted) {
      evictions_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  // Registers a load or save of `id` in flight; returns its start sequence.
  uint64_t BeginLocked(const Uuid& id) {
    ++in_flight_[id].operations;
    return ++sequence_;
  }
  // Unregisters it; true when a save or evict of `id` finished since it began.
  bool EndLocked(const Uuid& id, uint64_t started) {
    auto flight = in_flight_.find(id);
    bool raced = flight->second.last_mutation > started;
    if (--flight->second.operations == 0) in_flight_.erase(flight);
    return raced;
  }
  // Marks loads and saves of `id` in flight as raced: their result is not cached.
  void NoteMutationLocked(const Uuid& id) {
    if (auto it = in_flight_.find(id); it != in_flight_.end()) it->second.last_mutation = ++sequence_;
  }

  const CachedStoreOptions options_;
  std::shared_ptr<AggregateCache> cache_;  // null: caching disabled
  std::string namespace_;
  std::mutex mu_;  // guards in_flight_ and sequence_; held across cache writes
  std::unordered_map<Uuid, InFlight> in_flight_;
  uint64_t sequence_ = 0;
  std::atomic<int64_t> hits_{0};
  std::atomic<int64_t> misses_{0};
  std::atomic<int64_t> bypassed_{0};
  std::atomic<int64_t> evictions_{0};
  std::atomic<int64_t> errors_{0};
};

}  // namespace estoria
