// estoria bench: raw READ ceilings for the read-all workload. Each is a bare
// loop over the same table, columns and rows the store's ReadAll returns (the
// events in (after, frontier], in position order, in keyset pages of the
// store's ReadAll page size), copying every column's bytes out but building no
// Event:
//   SQLite      one prepared sqlite3_step loop on a read-only connection to
//               the store's file: the store's ReadAll query (estoria_events
//               joined with estoria_streams for the stream name), all nine
//               columns copied out with sqlite3_column_blob/bytes
//   PostgreSQL  one libpq connection, the store's ReadAll query prepared and
//               run with PQexecPrepared, binary parameters and binary results
//               (resultFormat 1), every value's bytes copied out
// Workloads:
//   raw-read-ceiling    writes --events events through the store (untimed,
//                       as read-all does), then times the raw loop over them
//                       (after one untimed warm-up scan)
//   read-all --vs-raw   writes once, scans once untimed (so that neither side
//                       pays for the first read after the writes: PostgreSQL
//                       hint bits, cold pages), then --rounds interleaved
//                       rounds over the same rows: the raw loop, then the
//                       store's ReadAll; each read-all row carries
//                       raw_ceiling_events_per_sec and ratio_to_raw of its
//                       round, the last one the median
//
// Thread safety: each call is independent.
#pragma once

#include <memory>
#include <vector>

#include "bench_options.h"

namespace estoria::bench {

// The page size of the store's ReadAll (kAllPageSize in src/sqlite, kPageSize
// in src/postgres); the raw loops read in pages of this many rows.
inline constexpr int64_t kStoreReadAllPage = 512;

// A raw loop's connection (opened and its query prepared untimed, kept across
// rounds as the store keeps its pooled connections) and its timed scan.
class RawReadLoop {
 public:
  virtual ~RawReadLoop() = default;
  // One timed scan of the events in (after, frontier]: a raw-read-ceiling
  // result. Unavailable when the database fails.
  virtual Result<BenchResult> Scan(int64_t after, int64_t frontier) = 0;
};

// The raw loop of the store at o.store. InvalidArgument for a URI of another
// backend; Unavailable when the database cannot be opened; NotSupported for
// backends without a raw read ceiling (memory, nats) or a build without
// PostgreSQL.
// The raw-read-ceiling result of a timed scan of n events in `seconds`
// (latency per 1000 events in `lat`); raw_loop says what the loop did, bytes
// and ints are what it copied out (kept so the reads stay observable).
BenchResult RawReadResult(const char* backend, const char* raw_loop, int64_t n, double seconds, LatencyRecorder& lat,
                          int64_t bytes, uint64_t ints);

Result<std::unique_ptr<RawReadLoop>> OpenRawReadSqlite(const BenchOptions& o);
Result<std::unique_ptr<RawReadLoop>> OpenRawReadPostgres(const BenchOptions& o);
Result<std::unique_ptr<RawReadLoop>> OpenRawReadLoop(const BenchOptions& o);

Result<BenchResult> RunRawReadCeiling(const BenchOptions& o);
// read-all --vs-raw: 2 x o.rounds results, raw-read-ceiling then read-all per round.
Result<std::vector<BenchResult>> RunReadAllVsRaw(const BenchOptions& o);

}  // namespace estoria::bench
