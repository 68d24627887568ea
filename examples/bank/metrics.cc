#include "metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <mutex>

namespace bank {
namespace {

std::string_view OutcomeName(CommandOutcome outcome) {
  switch (outcome) {
    case CommandOutcome::kApplied:
      return "applied";
    case CommandOutcome::kVersionMismatch:
      return "version_mismatch";
    case CommandOutcome::kInsufficientFunds:
      return "insufficient_funds";
    case CommandOutcome::kTooManyConflicts:
      return "too_many_conflicts";
  }
  return "unknown";
}

// Upper bounds (seconds) of the HTTP latency histogram's buckets.
const prometheus::Histogram::BucketBoundaries& HttpBuckets() {
  static const prometheus::Histogram::BucketBoundaries buckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                  0.05,   0.1,   0.25,   0.5,   1,    2.5};
  return buckets;
}

}  // namespace

struct Metrics::Families {
  explicit Families(prometheus::Registry& r)
      : requests(prometheus::BuildCounter()
                     .Name("estoria_bank_http_requests_total")
                     .Help("HTTP requests by route, method and status.")
                     .Register(r)),
        latency(prometheus::BuildHistogram()
                    .Name("estoria_bank_http_request_duration_seconds")
                    .Help("HTTP request latency by route and status.")
                    .Register(r)),
        in_flight(prometheus::BuildGauge()
                      .Name("estoria_bank_http_requests_in_flight")
                      .Help("HTTP requests being served.")
                      .Register(r)
                      .Add({})),
        commands(prometheus::BuildCounter()
                     .Name("estoria_bank_commands_total")
                     .Help("ModifyBalance commands by outcome.")
                     .Register(r)),
        appends(prometheus::BuildCounter()
                    .Name("estoria_bank_appends_total")
                    .Help("Events appended by commands.")
                    .Register(r)
                    .Add({})),
        conflicts(prometheus::BuildCounter()
                      .Name("estoria_bank_conflicts_total")
                      .Help("Version conflicts met by commands (each one retried or reported).")
                      .Register(r)
                      .Add({})),
        position(prometheus::BuildGauge()
                     .Name("estoria_bank_projection_position")
                     .Help("Global position the read model has reached.")
                     .Register(r)
                     .Add({})),
        head(prometheus::BuildGauge()
                 .Name("estoria_bank_store_head_position")
                 .Help("Highest committed global position of the event store.")
                 .Register(r)
                 .Add({})),
        lag_events(prometheus::BuildGauge()
                       .Name("estoria_bank_projection_lag_events")
                       .Help("Events the read model is behind the store.")
                       .Register(r)
                       .Add({})),
        lag_seconds(prometheus::BuildGauge()
                        .Name("estoria_bank_projection_lag_seconds")
                        .Help("Age of the oldest event not yet in the read model.")
                        .Register(r)
                        .Add({})),
        handled(prometheus::BuildCounter()
                    .Name("estoria_bank_projection_events_handled_total")
                    .Help("Events handled by the read model processor.")
                    .Register(r)
                    .Add({})),
        tailing(prometheus::BuildGauge()
                    .Name("estoria_bank_projection_tailing")
                    .Help("1 when the read model processor is caught up and tailing.")
                    .Register(r)
                    .Add({})) {}

  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& latency;
  prometheus::Gauge& in_flight;
  prometheus::Family<prometheus::Counter>& commands;
  prometheus::Counter& appends;
  prometheus::Counter& conflicts;
  prometheus::Gauge& position;
  prometheus::Gauge& head;
  prometheus::Gauge& lag_events;
  prometheus::Gauge& lag_seconds;
  prometheus::Counter& handled;  // advanced to the processor's count at each scrape
  prometheus::Gauge& tailing;
  std::mutex handled_mu;
  int64_t handled_seen = 0;
};

Metrics::Metrics(std::shared_ptr<prometheus::Registry> registry)
    : registry_(registry != nullptr ? std::move(registry) : std::make_shared<prometheus::Registry>()),
      families_(std::make_unique<Families>(*registry_)) {}

Metrics::~Metrics() = default;

void Metrics::RequestStarted() { families_->in_flight.Increment(); }
void Metrics::RequestFinished() { families_->in_flight.Decrement(); }

void Metrics::RecordRequest(std::string_view route, std::string_view method, int status, double seconds) {
  std::string code = std::to_string(status);
  families_->requests.Add({{"route", std::string(route)}, {"method", std::string(method)}, {"status", code}})
      .Increment();
  families_->latency.Add({{"route", std::string(route)}, {"status", code}}, HttpBuckets()).Observe(seconds);
}

void Metrics::RecordCommand(const CommandResult& result) {
  families_->commands.Add({{"outcome", std::string(OutcomeName(result.outcome))}}).Increment();
  if (result.outcome == CommandOutcome::kApplied) families_->appends.Increment();
  if (result.conflicts > 0) families_->conflicts.Increment(static_cast<double>(result.conflicts));
}

std::string Metrics::Render(const ProjectionStats& stats) const {
  families_->position.Set(static_cast<double>(stats.position));
  families_->head.Set(static_cast<double>(stats.head_position));
  families_->lag_events.Set(
      static_cast<double>(stats.head_position > stats.position ? stats.head_position - stats.position : 0));
  families_->lag_seconds.Set(stats.lag_seconds);
  families_->tailing.Set(stats.phase == "tailing" ? 1 : 0);
  {
    std::lock_guard lock(families_->handled_mu);
    if (stats.events_handled > families_->handled_seen) {
      families_->handled.Increment(static_cast<double>(stats.events_handled - families_->handled_seen));
      families_->handled_seen = stats.events_handled;
    }
  }
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace bank
