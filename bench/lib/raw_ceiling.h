// estoria bench: the database's own limit, measured with the same parameters as
// the `append` workload so that every figure can be given as a ratio:
//   raw-sqlite   W threads, one connection each, on one WAL file, each running a
//                plain prepared INSERT + COMMIT loop (BEGIN IMMEDIATE; `batch`
//                INSERTs; COMMIT) with synchronous FULL (strict) or NORMAL (relaxed)
//   raw-pgbench  pgbench with a custom script: one transaction of `batch`
//                single-row INSERTs, W clients (W threads), synchronous_commit
//                on (strict) or off (relaxed), against the server of the store URI
//   raw-nats     W threads each looping synchronous JetStream publishes (one
//                message of `batch` events of `payload` bytes, waiting for its
//                acknowledgement) to a per-writer subject of a fresh file-storage
//                stream with the store URI's replicas; one connection shared by
//                the W threads (the store's resources), or one per writer with
//                --raw-connections per-writer (details in raw_nats.cc)
//   raw-ceiling  whichever of them matches --store
//
// Thread safety: each call is independent.
#pragma once

#include "bench_options.h"

namespace estoria::bench {

// The libpq part of a postgres:// store URI: query parameters that are not
// libpq's (the store's own, e.g. estoria_schema) are removed.
std::string LibpqUri(const std::string& uri);

Result<BenchResult> RunRawSqlite(const BenchOptions& o);
Result<BenchResult> RunRawPgbench(const BenchOptions& o);
// Only in builds with the NATS backend (ESTORIA_BENCH_NATS); NotSupported otherwise.
Result<BenchResult> RunRawNats(const BenchOptions& o);
// NotSupported for stores without a raw ceiling (memory).
Result<BenchResult> RunRawCeiling(const BenchOptions& o);

}  // namespace estoria::bench
