// estoria bench: the parameters and the result of one benchmark run, shared by
// `estoria bench` and `estoria-bench`.
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "estoria/event_store.h"
#include "latency.h"

namespace estoria::bench {

struct BenchOptions {
  std::string workload;                       // append, read-stream, read-all, project, tail-latency,
                                              // load, commands, raw-ceiling, raw-sqlite, raw-pgbench, raw-nats,
                                              // footprint, raw-read-ceiling, cached-load
  std::string store = "memory:";              // store URI
  int writers = 1;                            // concurrent writer (or reader) threads. Default 1.
  int streams = 100;                          // distinct streams. Default 100.
  int64_t events = 10000;                     // events written (or read). Default 10000.
  int batch = 1;                              // events per append (per transaction). Default 1.
  int in_flight = 1;                          // append: pipelined appends outstanding per writer
                                              // (> 1 needs a store with pipelined appends: nats://)
  int payload = 100;                          // payload bytes per event. Default 100.
  std::string durability = "strict";          // strict | relaxed. Default strict.
  int64_t rate = 1000;                        // tail-latency: appends per second. Default 1000.
  int setup_batch = 100;                      // read-stream, read-all, project: events per append of the
                                              // untimed set-up. Default 100.
  bool raw_indexes = false;                   // raw-sqlite: also the store's two unique indexes
  std::string raw_path;                       // raw-sqlite: database file (default: beside the store, or /tmp)
  std::string pgbench = "/usr/bin/pgbench";   // raw-pgbench: the pgbench binary
  std::string raw_connections = "shared";     // raw-nats: shared (one connection) | per-writer
  std::string history = "10,100,1000,10000";  // load: history lengths
  int snapshot_every = 100;                   // load: snapshot policy (every N events)
  int aggregates = 1;                         // commands: aggregates the commands go to. Default 1.
  bool vs_raw = false;                        // read-all: also the raw read ceiling, interleaved
  int rounds = 3;                             // commands, read-all --vs-raw: interleaved rounds. Default 3.
  double seconds = 3;                         // commands: seconds per side and round. Default 3.
  std::string redis;                          // cached-load: Redis URI of the shared cache side ("" = none)
  int64_t start_at_ms = 0;                    // append: start the timed part at this Unix time (ms), so
                                              // that several processes run together. Default 0: at once.
};

struct BenchResult {
  std::string workload;
  std::string backend;     // memory | sqlite | postgres | nats | ...
  int64_t events = 0;      // events written or read in the timed part
  int64_t operations = 0;  // appends, stream reads, pages, ...
  double seconds = 0;
  double events_per_sec = 0;
  double ops_per_sec = 0;
  std::string latency_of;  // what one latency sample measures
  double p50_us = 0, p99_us = 0, p999_us = 0;
  int64_t conflicts = 0;                            // expectation failures observed (should be 0)
  nlohmann::json extra = nlohmann::json::object();  // workload-specific fields

  // Fills the percentiles from a recorder.
  void SetLatency(LatencyRecorder& r);
  // A timed run: counts, rates over `seconds` and the percentiles of every
  // thread's recorder merged.
  static BenchResult Timed(std::string workload, std::string backend, int64_t operations, int64_t events,
                           double seconds, std::string latency_of, std::vector<LatencyRecorder>& per_thread);
};

// "memory", "sqlite", "postgres" or the URI scheme.
std::string BackendOf(const std::string& uri);

// One JSON object: the result plus every parameter.
nlohmann::json ToJson(const BenchResult& r, const BenchOptions& o);
// One human-readable line.
void PrintHuman(std::ostream& out, const BenchResult& r, const BenchOptions& o);

}  // namespace estoria::bench
