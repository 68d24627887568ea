// raw-read-ceiling and read-all --vs-raw: see raw_read_ceiling.h.
#include <algorithm>

#include "raw_read_ceiling.h"
#include "workloads.h"

namespace estoria::bench {
namespace {

// A store with the events written (untimed) and the range ReadAll will scan.
struct Populated {
  std::shared_ptr<EventStore> store;
  GlobalReader* reader = nullptr;
  int64_t after = 0;     // head before the writes
  int64_t frontier = 0;  // head after them
};

Result<Populated> PopulateForRead(const BenchOptions& o, const std::string& workload) {
  std::string backend = BackendOf(o.store);
  if ((backend != "sqlite" && backend != "postgres") || o.store == "sqlite::memory:") {
    return Status::NotSupported((workload.empty() ? "" : workload + ": ") + "no raw read ceiling for the store " +
                                o.store + " (sqlite:PATH and postgres:// stores only)");
  }
  Populated p;
  ESTORIA_ASSIGN_OR_RETURN(p.store, OpenBenchStore(o));
  p.reader = p.store->global_reader();
  if (!p.reader) return Status::NotSupported("the store " + o.store + " has no GlobalReader");
  std::vector<TypeId> streams = NewStreams(std::max(1, o.streams));
  ESTORIA_ASSIGN_OR_RETURN(p.after, Populate(*p.store, streams, o.events, o.payload, o.setup_batch));
  ESTORIA_ASSIGN_OR_RETURN(p.frontier, p.reader->HeadPosition());
  return p;
}

// One scan of the raw loop, which must have read what ReadAll reads: o.events rows.
Result<BenchResult> CheckedScan(const BenchOptions& o, RawReadLoop& loop, const Populated& p) {
  ESTORIA_ASSIGN_OR_RETURN(BenchResult raw, loop.Scan(p.after, p.frontier));
  if (raw.events < o.events) {
    return Status::Internal("raw read ceiling: read " + std::to_string(raw.events) + " of " + std::to_string(o.events) +
                            " events");
  }
  return raw;
}

}  // namespace

BenchResult RawReadResult(const char* backend, const char* raw_loop, int64_t n, double seconds, LatencyRecorder& lat,
                          int64_t bytes, uint64_t ints) {
  BenchResult r;
  r.workload = "raw-read-ceiling";
  r.backend = backend;
  r.events = n;
  r.operations = n / 1000;
  r.seconds = seconds;
  r.events_per_sec = seconds > 0 ? static_cast<double>(n) / seconds : 0;
  r.ops_per_sec = seconds > 0 ? static_cast<double>(n / 1000) / seconds : 0;
  r.latency_of = "1000 events";
  r.SetLatency(lat);
  r.extra["raw_loop"] = raw_loop;
  r.extra["page_size"] = kStoreReadAllPage;
  r.extra["bytes_copied"] = bytes;
  r.extra["integer_sum"] = ints;
  return r;
}

Result<std::unique_ptr<RawReadLoop>> OpenRawReadLoop(const BenchOptions& o) {
  const std::string backend = BackendOf(o.store);
  if (backend == "sqlite") return OpenRawReadSqlite(o);
  if (backend == "postgres") return OpenRawReadPostgres(o);
  return Status::NotSupported("raw read ceiling: none for a " + backend + " store");
}

Result<BenchResult> RunRawReadCeiling(const BenchOptions& o) {
  ESTORIA_ASSIGN_OR_RETURN(Populated p, PopulateForRead(o, ""));
  ESTORIA_ASSIGN_OR_RETURN(std::unique_ptr<RawReadLoop> loop, OpenRawReadLoop(o));
  ESTORIA_RETURN_IF_ERROR(CheckedScan(o, *loop, p).status());  // warm-up, untimed
  return CheckedScan(o, *loop, p);
}

Result<std::vector<BenchResult>> RunReadAllVsRaw(const BenchOptions& o) {
  ESTORIA_ASSIGN_OR_RETURN(Populated p, PopulateForRead(o, "--vs-raw"));
  ESTORIA_ASSIGN_OR_RETURN(std::unique_ptr<RawReadLoop> loop, OpenRawReadLoop(o));
  // One untimed scan first: the first read after the writes sets PostgreSQL's
  // hint bits and loads cold pages, which neither side should be timed for.
  ESTORIA_RETURN_IF_ERROR(CheckedScan(o, *loop, p).status());
  std::vector<BenchResult> out;
  std::vector<double> ratios;
  const int rounds = std::max(1, o.rounds);
  for (int round = 1; round <= rounds; ++round) {
    // Same rows, same round: the raw loop first, then the store's ReadAll.
    ESTORIA_ASSIGN_OR_RETURN(BenchResult raw, CheckedScan(o, *loop, p));
    ESTORIA_ASSIGN_OR_RETURN(BenchResult store, ScanReadAll(o, *p.reader, p.after, o.events));
    const double ratio = store.events_per_sec / raw.events_per_sec;
    ratios.push_back(ratio);
    raw.extra["round"] = round;
    store.extra["round"] = round;
    store.extra["raw_ceiling_events_per_sec"] = raw.events_per_sec;
    store.extra["ratio_to_raw"] = ratio;
    out.push_back(std::move(raw));
    out.push_back(std::move(store));
  }
  std::vector<double> sorted = ratios;
  std::sort(sorted.begin(), sorted.end());
  // The lower median for an even count, as summarize.py shows the median round.
  out.back().extra["median_ratio_to_raw"] = sorted[(sorted.size() - 1) / 2];
  out.back().extra["ratios_to_raw"] = ratios;
  return out;
}

#ifndef ESTORIA_BENCH_POSTGRES
Result<std::unique_ptr<RawReadLoop>> OpenRawReadPostgres(const BenchOptions&) {
  return Status::NotSupported("raw read ceiling (postgres): this build has no PostgreSQL backend");
}
#endif

}  // namespace estoria::bench
