// metrics.h: Metrics, the service's HTTP and command metrics (counters, gauges
// and latency histograms) in a prometheus-cpp registry, which may also hold the
// library's metrics (estoria::metrics::InstrumentedEventStore); Render
// serializes the whole registry in the Prometheus text exposition format
// (version 0.0.4) with prometheus-cpp's TextSerializer.
//
// Thread safety: every method may be called from many threads at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "bank.h"

namespace prometheus {
class Registry;
}

namespace bank {

class Metrics {
 public:
  // Records into `registry` (a new one when null).
  explicit Metrics(std::shared_ptr<prometheus::Registry> registry = nullptr);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // A request entered / left the server (the in-flight gauge).
  void RequestStarted();
  void RequestFinished();

  // One HTTP request (counted and timed by route and status): `route` is the route template (e.g. "/accounts/{id}") or
  // "unmatched".
  void RecordRequest(std::string_view route, std::string_view method, int status, double seconds);
  // One ModifyBalance command that reached the domain.
  void RecordCommand(const CommandResult& result);

  // The whole registry's exposition, with the projection gauges taken from `stats`.
  std::string Render(const ProjectionStats& stats) const;

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

 private:
  struct Families;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Families> families_;
};

}  // namespace bank
