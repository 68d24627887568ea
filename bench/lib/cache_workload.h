// estoria bench: `cached-load`, aggregate loads without a cache (cold: a full
// replay each time), through CachedStore with the in-process LRU, and through
// CachedStore with a shared Redis cache (--redis URI, when estoria::redis is
// built), side by side: --rounds interleaved rounds (cold, lru, redis in each),
// one result per (history length, side) with the median loads/s over the
// rounds and its ratio to cold.
//
// Thread safety: each call is independent.
#pragma once

#include <vector>

#include "bench_options.h"

namespace estoria::bench {

// InvalidArgument for bad --history; Unavailable when --redis cannot be reached.
Result<std::vector<BenchResult>> RunCachedLoad(const BenchOptions& o);

}  // namespace estoria::bench
