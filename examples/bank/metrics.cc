#include "metrics.h"

#include <sstream>

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

// Label values here are route templates and method names: no escaping needed
// beyond quotes and backslashes, which they never contain; escape anyway.
std::string Escape(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

void Metrics::RecordRequest(std::string_view route, std::string_view method, int status, double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{std::string(route), std::string(method), status}];
  Histogram& h = latency_[{std::string(route), status}];
  size_t i = 0;
  while (i < kBuckets.size() && seconds > kBuckets[i]) ++i;
  if (i < kBuckets.size()) ++h.buckets[i];
  ++h.count;
  h.sum += seconds;
}

void Metrics::RecordCommand(const CommandResult& result) {
  std::lock_guard lock(mu_);
  ++commands_[std::string(OutcomeName(result.outcome))];
  if (result.outcome == CommandOutcome::kApplied) ++appends_;
  conflicts_ += static_cast<uint64_t>(result.conflicts);
}

std::string Metrics::Render(const ProjectionStats& stats) const {
  std::ostringstream out;
  std::lock_guard lock(mu_);
  out << "# HELP estoria_bank_http_requests_total HTTP requests by route, method and status.\n"
      << "# TYPE estoria_bank_http_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    const auto& [route, method, status] = key;
    out << "estoria_bank_http_requests_total{route=\"" << Escape(route) << "\",method=\"" << Escape(method)
        << "\",status=\"" << status << "\"} " << count << "\n";
  }
  out << "# HELP estoria_bank_http_requests_in_flight HTTP requests being served.\n"
      << "# TYPE estoria_bank_http_requests_in_flight gauge\n"
      << "estoria_bank_http_requests_in_flight " << in_flight_.load(std::memory_order_relaxed) << "\n";
  out << "# HELP estoria_bank_http_request_duration_seconds HTTP request latency by route and status.\n"
      << "# TYPE estoria_bank_http_request_duration_seconds histogram\n";
  for (const auto& [key, h] : latency_) {
    std::string labels = "route=\"" + Escape(key.first) + "\",status=\"" + std::to_string(key.second) + "\"";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += h.buckets[i];
      out << "estoria_bank_http_request_duration_seconds_bucket{" << labels << ",le=\"" << kBuckets[i] << "\"} "
          << cumulative << "\n";
    }
    out << "estoria_bank_http_request_duration_seconds_bucket{" << labels << ",le=\"+Inf\"} " << h.count << "\n";
    out << "estoria_bank_http_request_duration_seconds_sum{" << labels << "} " << h.sum << "\n";
    out << "estoria_bank_http_request_duration_seconds_count{" << labels << "} " << h.count << "\n";
  }
  out << "# HELP estoria_bank_commands_total ModifyBalance commands by outcome.\n"
      << "# TYPE estoria_bank_commands_total counter\n";
  for (const auto& [outcome, count] : commands_) {
    out << "estoria_bank_commands_total{outcome=\"" << outcome << "\"} " << count << "\n";
  }
  out << "# HELP estoria_bank_appends_total Events appended by commands.\n"
      << "# TYPE estoria_bank_appends_total counter\n"
      << "estoria_bank_appends_total " << appends_ << "\n"
      << "# HELP estoria_bank_conflicts_total Version conflicts met by commands (each one retried or reported).\n"
      << "# TYPE estoria_bank_conflicts_total counter\n"
      << "estoria_bank_conflicts_total " << conflicts_ << "\n"
      << "# HELP estoria_bank_projection_position Global position the read model has reached.\n"
      << "# TYPE estoria_bank_projection_position gauge\n"
      << "estoria_bank_projection_position " << stats.position << "\n"
      << "# HELP estoria_bank_store_head_position Highest committed global position of the event store.\n"
      << "# TYPE estoria_bank_store_head_position gauge\n"
      << "estoria_bank_store_head_position " << stats.head_position << "\n"
      << "# HELP estoria_bank_projection_lag_events Events the read model is behind the store.\n"
      << "# TYPE estoria_bank_projection_lag_events gauge\n"
      << "estoria_bank_projection_lag_events "
      << (stats.head_position > stats.position ? stats.head_position - stats.position : 0) << "\n"
      << "# HELP estoria_bank_projection_lag_seconds Age of the oldest event not yet in the read model.\n"
      << "# TYPE estoria_bank_projection_lag_seconds gauge\n"
      << "estoria_bank_projection_lag_seconds " << stats.lag_seconds << "\n"
      << "# HELP estoria_bank_projection_events_handled_total Events handled by the read model processor.\n"
      << "# TYPE estoria_bank_projection_events_handled_total counter\n"
      << "estoria_bank_projection_events_handled_total " << stats.events_handled << "\n"
      << "# HELP estoria_bank_projection_tailing 1 when the read model processor is caught up and tailing.\n"
      << "# TYPE estoria_bank_projection_tailing gauge\n"
      << "estoria_bank_projection_tailing " << (stats.phase == "tailing" ? 1 : 0) << "\n";
  return out.str();
}

}  // namespace bank
