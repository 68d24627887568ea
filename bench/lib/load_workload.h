// estoria bench: `load`, aggregate load time against history length (10, 100,
// 1,000, 10,000 events by default), without and with snapshots. One result per
// (history length, snapshots) pair.
//
// Thread safety: each call is independent.
#pragma once

#include <vector>

#include "bench_options.h"

namespace estoria::bench {

// NotSupported until the aggregate layer is built.
Result<std::vector<BenchResult>> RunLoad(const BenchOptions& o);

}  // namespace estoria::bench
