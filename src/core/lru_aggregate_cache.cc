// LruAggregateCache: a bounded in-process LRU of encoded aggregates.
#include <list>
#include <mutex>
#include <unordered_map>

#include "estoria/aggregate_cache.h"

namespace estoria {

namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

struct LruAggregateCache::Impl {
  struct Entry {
    std::string ns;  // also the prefix of the map key
    int64_t version = 0;
    std::string data;
    Clock::time_point expires = Clock::time_point::max();
    std::list<std::string>::iterator position;
  };
  struct Counters {
    size_t size = 0;
    int64_t evictions = 0;
  };

  explicit Impl(LruAggregateCacheOptions o) : options(o) {}

  static std::string MapKey(std::string_view ns, std::string_view key) {
    std::string k;
    k.reserve(ns.size() + 1 + key.size());
    k.append(ns);
    k.push_back('\0');
    k.append(key);
    return k;
  }

  // Drops the entry at `it` (counted as a cache eviction when `evicted`).
  void EraseLocked(std::unordered_map<std::string, Entry>::iterator it, bool evicted) {
    Counters& c = counters[it->second.ns];
    --c.size;
    if (evicted) ++c.evictions;
    lru.erase(it->second.position);
    entries.erase(it);
  }

  const LruAggregateCacheOptions options;
  std::mutex mu;
  std::list<std::string> lru;  // map keys, most recently used first
  std::unordered_map<std::string, Entry> entries;
  std::unordered_map<std::string, Counters> counters;  // by namespace
};

LruAggregateCache::LruAggregateCache(LruAggregateCacheOptions options) : impl_(std::make_unique<Impl>(options)) {}
LruAggregateCache::~LruAggregateCache() = default;

Result<CachedAggregate> LruAggregateCache::Get(std::string_view ns, std::string_view key) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->entries.find(Impl::MapKey(ns, key));
  if (it == impl_->entries.end()) return Status::NotFound("not cached");
  if (it->second.expires <= Clock::now()) {
    impl_->EraseLocked(it, true);
    return Status::NotFound("cached entry expired");
  }
  impl_->lru.splice(impl_->lru.begin(), impl_->lru, it->second.position);
  return CachedAggregate{it->second.version, it->second.data};
}

Result<bool> LruAggregateCache::Put(std::string_view ns, std::string_view key, int64_t version, std::string_view data,
                                    std::chrono::milliseconds ttl) {
  if (version < 1) return Status::InvalidArgument("cache put: version must be >= 1");
  if (ttl.count() < 0) return Status::InvalidArgument("cache put: negative ttl");
  auto now = Clock::now();
  auto expires = ttl.count() == 0 ? Clock::time_point::max() : now + ttl;
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::string map_key = Impl::MapKey(ns, key);
  auto it = impl_->entries.find(map_key);
  if (it != impl_->entries.end() && it->second.expires > now) {
    impl_->lru.splice(impl_->lru.begin(), impl_->lru, it->second.position);
    if (it->second.version > version) return false;
    it->second.version = version;
    it->second.data.assign(data);
    it->second.expires = expires;
    return true;
  }
  if (it != impl_->entries.end()) impl_->EraseLocked(it, true);  // expired
  if (impl_->options.capacity == 0) {
    ++impl_->counters[std::string(ns)].evictions;
    return true;  // stored and dropped at once
  }
  impl_->lru.push_front(map_key);
  Impl::Entry entry{std::string(ns), version, std::string(data), expires, impl_->lru.begin()};
  impl_->entries.emplace(std::move(map_key), std::move(entry));
  ++impl_->counters[std::string(ns)].size;
  while (impl_->entries.size() > impl_->options.capacity) {
    impl_->EraseLocked(impl_->entries.find(impl_->lru.back()), true);
  }
  return true;
}

Result<bool> LruAggregateCache::Delete(std::string_view ns, std::string_view key) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->entries.find(Impl::MapKey(ns, key));
  if (it == impl_->entries.end()) return false;
  bool live = it->second.expires > Clock::now();
  impl_->EraseLocked(it, !live);
  return live;
}

Result<int64_t> LruAggregateCache::Clear(std::string_view ns) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  int64_t removed = 0;
  auto now = Clock::now();
  for (auto it = impl_->entries.begin(); it != impl_->entries.end();) {
    auto next = std::next(it);
    if (it->second.ns == ns) {
      bool live = it->second.expires > now;
      if (live) ++removed;
      impl_->EraseLocked(it, !live);
    }
    it = next;
  }
  return removed;
}

AggregateCacheUsage LruAggregateCache::Usage(std::string_view ns) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->counters.find(std::string(ns));
  if (it == impl_->counters.end()) return {};
  return AggregateCacheUsage{it->second.size, it->second.evictions};
}

}  // namespace estoria
