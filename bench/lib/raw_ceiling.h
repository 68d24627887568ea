// estoria bench: the database's own limit, measured with the same parameters as
// the `append` workload so that every figure can be given as a ratio:
//   raw-sqlite   W threads, one connection each, on one WAL file, each running a
//                plain prepared INSERT + COMMIT loop (BEGIN IMMEDIATE; `batch`
//                INSERTs; COMMIT) with synchronous FULL (strict) or NORMAL (relaxed)
//   raw-pgbench  pgbench with a custom script: one transaction of `batch`
//                single-row INSERTs, W clients (W threads), synchronous_commit
//                on (strict) or off (relaxed), against the server of the store URI
//   raw-ceiling  whichever of the two matches --store
//
// Thread safety: each call is independent.
#pragma once

#include "bench_options.h"

namespace estoria::bench {

Result<BenchResult> RunRawSqlite(const BenchOptions& o);
Result<BenchResult> RunRawPgbench(const BenchOptions& o);
// NotSupported for stores without a raw ceiling (memory).
Result<BenchResult> RunRawCeiling(const BenchOptions& o);

}  // namespace estoria::bench
