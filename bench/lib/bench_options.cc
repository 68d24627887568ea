#include "bench_options.h"

#include <cstdio>

namespace estoria::bench {

void BenchResult::SetLatency(LatencyRecorder& r) {
  p50_us = r.PercentileMicros(0.50);
  p99_us = r.PercentileMicros(0.99);
  p999_us = r.PercentileMicros(0.999);
}

BenchResult BenchResult::Timed(std::string workload, std::string backend, int64_t operations, int64_t events,
                               double seconds, std::string latency_of, std::vector<LatencyRecorder>& per_thread) {
  LatencyRecorder all;
  for (auto& l : per_thread) all.Merge(l);
  BenchResult r;
  r.workload = std::move(workload);
  r.backend = std::move(backend);
  r.operations = operations;
  r.events = events;
  r.seconds = seconds;
  r.events_per_sec = static_cast<double>(events) / seconds;
  r.ops_per_sec = static_cast<double>(operations) / seconds;
  r.latency_of = std::move(latency_of);
  r.SetLatency(all);
  return r;
}

std::string BackendOf(const std::string& uri) {
  if (uri.starts_with("memory")) return "memory";
  if (uri.starts_with("sqlite:")) return "sqlite";
  if (uri.starts_with("postgres")) return "postgres";
  return uri.substr(0, uri.find(':'));
}

nlohmann::json ToJson(const BenchResult& r, const BenchOptions& o) {
  nlohmann::json j;
  j["workload"] = r.workload;
  j["backend"] = r.backend;
  j["events_per_sec"] = r.events_per_sec;
  j["ops_per_sec"] = r.ops_per_sec;
  j["p50_us"] = r.p50_us;
  j["p99_us"] = r.p99_us;
  j["p999_us"] = r.p999_us;
  j["latency_of"] = r.latency_of;
  j["events"] = r.events;
  j["operations"] = r.operations;
  j["seconds"] = r.seconds;
  j["conflicts"] = r.conflicts;
  j["writers"] = o.writers;
  j["streams"] = o.streams;
  j["batch"] = o.batch;
  j["payload"] = o.payload;
  j["durability"] = o.durability;
  if (r.workload == "tail-latency") j["rate"] = o.rate;
  if (r.workload == "read-stream" || r.workload == "read-all" || r.workload == "project" ||
      r.workload == "raw-read-ceiling") {
    j["setup_batch"] = o.setup_batch;
  }
  for (const auto& [k, v] : r.extra.items()) j[k] = v;
  return j;
}

void PrintHuman(std::ostream& out, const BenchResult& r, const BenchOptions& o) {
  char line[512];
  std::snprintf(line, sizeof line,
                "%-13s %-8s writers=%d streams=%d batch=%d payload=%d %-7s  %10.0f events/s  "
                "p50 %8.1f us  p99 %8.1f us  p999 %8.1f us  (%lld events, %.2f s, latency of %s)",
                r.workload.c_str(), r.backend.c_str(), o.writers, o.streams, o.batch, o.payload, o.durability.c_str(),
                r.events_per_sec, r.p50_us, r.p99_us, r.p999_us, static_cast<long long>(r.events), r.seconds,
                r.latency_of.c_str());
  out << line;
  if (!r.extra.empty()) out << "  " << r.extra.dump();
  out << '\n';
}

}  // namespace estoria::bench
