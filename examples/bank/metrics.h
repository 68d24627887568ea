// metrics.h: Metrics, the service's counters and latency histograms, rendered in
// the Prometheus text exposition format (version 0.0.4).
//
// Thread safety: every method may be called from many threads at once.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

#include "bank.h"

namespace bank {

class Metrics {
 public:
  // Upper bounds (seconds) of the latency histogram buckets.
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1,    2.5};

  // A request entered / left the server (the in-flight gauge).
  void RequestStarted() { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  void RequestFinished() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }

  // One HTTP request (counted and timed by route and status): `route` is the route template (e.g. "/accounts/{id}") or
  // "unmatched".
  void RecordRequest(std::string_view route, std::string_view method, int status, double seconds);
  // One ModifyBalance command that reached the domain.
  void RecordCommand(const CommandResult& result);

  // The whole exposition, with the projection gauges taken from `stats`.
  std::string Render(const ProjectionStats& stats) const;

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};  // non-cumulative counts
    uint64_t count = 0;
    double sum = 0;
  };

  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;  // route, method, status
  std::map<std::pair<std::string, int>, Histogram> latency_;                // by route, status
  std::map<std::string, uint64_t> commands_;                                // by outcome
  uint64_t appends_ = 0;
  uint64_t conflicts_ = 0;
  std::atomic<int64_t> in_flight_{0};
};

}  // namespace bank
