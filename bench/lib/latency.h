// estoria bench: LatencyRecorder collects latency samples and computes
// percentiles.
//
// Thread safety: one recorder per thread; Merge() them afterwards.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace estoria::bench {

class LatencyRecorder {
 public:
  void Add(std::chrono::nanoseconds d) { samples_.push_back(d.count()); }
  void AddMicros(double us) { samples_.push_back(static_cast<int64_t>(us * 1000.0)); }
  void Merge(const LatencyRecorder& other);
  size_t size() const { return samples_.size(); }
  // The q-quantile (0..1) in microseconds; 0 when empty. Sorts the samples.
  double PercentileMicros(double q);

 private:
  std::vector<int64_t> samples_;  // nanoseconds
  bool sorted_ = false;
};

}  // namespace estoria::bench
