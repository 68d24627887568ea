// estoria/cached_store.h: CachedStore<S>, a decorator keeping recently loaded
// and saved aggregates in a bounded LRU cache (capacity in entries).
//
// - Load of the latest state (no to_version/to_time) is served from the cache
//   when present (a copy); otherwise it loads through the wrapped store and
//   caches the result. Bounded loads bypass the cache entirely.
// - A successful Save caches the saved aggregate. A failed Save (Conflict or any
//   other error) evicts the entry, so the next Load reads the store again.
// - The cache never serves a version older than one this process saved through
//   it: an entry is only replaced by a newer version, and a load or save that
//   raced with another save of the same aggregate evicts instead of caching.
// Another process may append meanwhile: the cached copy is then behind, and the
// next Save conflicts (and evicts): reload and retry, as always.
//
// Thread safety: safe for concurrent use from many threads; one mutex guards the
// cache, and it is never held while calling the wrapped store.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "estoria/aggregate_store.h"

namespace estoria {

struct CachedStoreOptions {
  // Maximum number of cached aggregates; 0 disables caching. Default 1024.
  size_t capacity = 1024;
};

struct CacheStats {
  int64_t hits = 0;
  int64_t misses = 0;     // latest loads that went to the wrapped store
  int64_t bypassed = 0;   // bounded loads (to_version/to_time)
  int64_t evictions = 0;  // entries dropped for capacity or after a failed save
  size_t size = 0;        // entries now cached
};

template <typename S>
class CachedStore final : public AggregateStoreDecorator<S> {
 public:
  explicit CachedStore(std::shared_ptr<AggregateStore<S>> inner, CachedStoreOptions options = {})
      : AggregateStoreDecorator<S>(std::move(inner)), options_(options) {}
  static std::shared_ptr<CachedStore> Create(std::shared_ptr<AggregateStore<S>> inner,
                                             CachedStoreOptions options = {}) {
    return std::make_shared<CachedStore>(std::move(inner), options);
  }

  using AggregateStore<S>::New;

  // Errors: the wrapped store's (see AggregateStore::Load).
  Result<Aggregate<S>> Load(const Uuid& id, const LoadOptions& options = {}) override {
    uint64_t started = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!options.latest() || options_.capacity == 0) {
        ++stats_.bypassed;
      } else if (auto it = entries_.find(id); it != entries_.end()) {
        ++stats_.hits;
        lru_.splice(lru_.begin(), lru_, it->second.position);
        return it->second.aggregate;
      } else {
        ++stats_.misses;
        started = BeginLocked(id);
      }
    }
    auto loaded = this->inner()->Load(id, options);
    if (started == 0) return loaded;
    std::lock_guard<std::mutex> lock(mu_);
    bool raced = EndLocked(id, started);
    if (loaded && !raced) {
      PutLocked(*loaded);
    } else if (raced) {
      EvictLocked(id);  // a save finished meanwhile: let the next load read the store
    }
    return loaded;
  }

  // Errors: the wrapped store's (see AggregateStore::Save). Success caches the
  // saved aggregate; any error evicts it.
  Status Save(Aggregate<S>& aggregate) override {
    const Uuid id = aggregate.id().uuid();
    uint64_t started;
    {
      std::lock_guard<std::mutex> lock(mu_);
      started = BeginLocked(id);
    }
    Status st = this->inner()->Save(aggregate);
    std::lock_guard<std::mutex> lock(mu_);
    bool raced = EndLocked(id, started);
    NoteMutationLocked(id);
    if (st.ok() && !raced && options_.capacity > 0) {
      PutLocked(aggregate);
    } else {
      // Failed, or another save/evict of this aggregate finished while this one
      // ran (its version may be newer, or it may have skipped caching because
      // of us): drop the entry rather than risk keeping an older version.
      EvictLocked(id);
    }
    return st;
  }

  // Drops one aggregate from the cache (e.g. after an out-of-band change).
  void Evict(const Uuid& id) {
    std::lock_guard<std::mutex> lock(mu_);
    NoteMutationLocked(id);
    EvictLocked(id);
  }

  // Drops every entry.
  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, flight] : in_flight_) flight.last_mutation = ++sequence_;
    stats_.evictions += static_cast<int64_t>(entries_.size());
    entries_.clear();
    lru_.clear();
  }

  CacheStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    CacheStats s = stats_;
    s.size = entries_.size();
    return s;
  }

 private:
  struct Entry {
    Aggregate<S> aggregate;
    typename std::list<Uuid>::iterator position;
  };
  struct InFlight {
    int operations = 0;
    uint64_t last_mutation = 0;
  };

  // Caches a copy unless a newer version is already cached.
  void PutLocked(const Aggregate<S>& aggregate) {
    const Uuid& id = aggregate.id().uuid();
    if (auto it = entries_.find(id); it != entries_.end()) {
      if (it->second.aggregate.version() <= aggregate.version()) {
        it->second.aggregate = aggregate;
        it->second.aggregate.DiscardPendingEvents();
      }
      lru_.splice(lru_.begin(), lru_, it->second.position);
      return;
    }
    lru_.push_front(id);
    auto [it, inserted] = entries_.emplace(id, Entry{aggregate, lru_.begin()});
    it->second.aggregate.DiscardPendingEvents();
    while (entries_.size() > options_.capacity) {
      entries_.erase(lru_.back());
      lru_.pop_back();
      ++stats_.evictions;
    }
  }
  void EvictLocked(const Uuid& id) {
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    lru_.erase(it->second.position);
    entries_.erase(it);
    ++stats_.evictions;
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
  mutable std::mutex mu_;
  std::list<Uuid> lru_;  // most recently used first
  std::unordered_map<Uuid, Entry> entries_;
  std::unordered_map<Uuid, InFlight> in_flight_;
  uint64_t sequence_ = 0;
  CacheStats stats_;
};

}  // namespace estoria
