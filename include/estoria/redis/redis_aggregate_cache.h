// estoria/redis/redis_aggregate_cache.h: RedisAggregateCache, an AggregateCache
// (aggregate_cache.h) kept in Redis, so that several processes share warm
// aggregates (library estoria::redis, CMake option ESTORIA_WITH_REDIS; needs
// hiredis, Debian libhiredis-dev).
//
// - An entry is a Redis hash at "<prefix>:<namespace>:<key>" with fields v
//   (version) and d (the bytes). Put is one Lua script (EVALSHA, EVAL when the
//   server lost it) that compares the versions, writes, and sets the TTL with
//   PEXPIRE (or PERSIST for no TTL): atomic across all clients.
// - Clear and Usage scan the namespace's keys (SCAN MATCH): meant for
//   maintenance and tests, not hot paths. Usage().evictions is always 0
//   (Redis evicts and expires on its own).
// - Connection or protocol errors are Unavailable; the broken connection is
//   dropped and the next call connects again. Every call is bounded by
//   command_timeout.
//
// Thread safety: safe for concurrent use from many threads; idle connections
// are kept in a small pool (one per concurrent caller, at most max_idle kept).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "estoria/aggregate_cache.h"
#include "estoria/status.h"

namespace estoria::redis {

struct RedisCacheOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;  // SELECTed on each connection
  // Prefix of every key ("<prefix>:<namespace>:<key>"). Default "estoria".
  std::string key_prefix = "estoria";
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{2000};
  // Idle connections kept for reuse. Default 4.
  size_t max_idle = 4;
};

class RedisAggregateCache final : public AggregateCache {
 public:
  // Connects once to check the server (and loads the compare-and-set script).
  // Errors: InvalidArgument (bad options), Unavailable (no server).
  static Result<std::shared_ptr<RedisAggregateCache>> Open(RedisCacheOptions options);
  // "redis://host[:port][/db][?namespace=PREFIX&connect_timeout_ms=N&timeout_ms=N]"
  // (port 6379 and db 0 by default; namespace is key_prefix). Errors:
  // InvalidArgument (bad URI or option), Unavailable.
  static Result<std::shared_ptr<RedisAggregateCache>> OpenUri(std::string_view uri);
  ~RedisAggregateCache() override;

  // Errors as AggregateCache; Unavailable on any connection problem;
  // Corruption when the key holds something else than an entry.
  Result<CachedAggregate> Get(std::string_view ns, std::string_view key) override;
  Result<bool> Put(std::string_view ns, std::string_view key, int64_t version, std::string_view data,
                   std::chrono::milliseconds ttl) override;
  Result<bool> Delete(std::string_view ns, std::string_view key) override;
  Result<int64_t> Clear(std::string_view ns) override;
  AggregateCacheUsage Usage(std::string_view ns) override;

  const RedisCacheOptions& options() const;

  struct Impl;
  explicit RedisAggregateCache(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace estoria::redis
