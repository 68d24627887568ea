// Processor: construction, lifecycle, observable state and dead-letter access.
// The processing loop itself (Processor::Impl::Run) is in processor_run.cc.
#include "estoria/projection/processor.h"

#include <utility>

#include "processor_run.h"

namespace estoria {

std::string_view ProcessorPhaseName(ProcessorPhase phase) {
  switch (phase) {
    case ProcessorPhase::kIdle:
      return "idle";
    case ProcessorPhase::kStandby:
      return "standby";
    case ProcessorPhase::kReplaying:
      return "replaying";
    case ProcessorPhase::kTailing:
      return "tailing";
    case ProcessorPhase::kStopped:
      return "stopped";
    case ProcessorPhase::kFailed:
      return "failed";
  }
  return "unknown";
}

std::string FailurePolicyToString(const FailurePolicy& p) {
  std::string backoff = " (backoff " + std::to_string(p.initial_backoff.count()) + " ms x" +
                        std::to_string(p.multiplier).substr(0, std::to_string(p.multiplier).find('.') + 2) +
                        ", at most " + std::to_string(p.max_backoff.count()) + " ms)";
  switch (p.kind) {
    case FailurePolicy::Kind::kStop:
      return "stop on the first failure";
    case FailurePolicy::Kind::kRetry:
      return "retry, stop after " + std::to_string(p.max_attempts) + " attempts" + backoff;
    case FailurePolicy::Kind::kPark:
      return "park after " + std::to_string(p.max_attempts) + " attempts" + backoff;
  }
  return "unknown";
}

Result<std::unique_ptr<Processor>> Processor::Create(std::shared_ptr<EventStore> store,
                                                     std::shared_ptr<ProjectionSink> sink, ProcessorOptions options) {
  if (store == nullptr) return Status::InvalidArgument("processor: null event store");
  if (sink == nullptr) return Status::InvalidArgument("processor: null sink");
  if (options.name.empty()) return Status::InvalidArgument("processor: empty projection name");
  if (options.batch_size < 1) return Status::InvalidArgument("processor: batch_size must be >= 1");
  if (options.checkpoint_every_events < 1) {
    return Status::InvalidArgument("processor: checkpoint_every_events must be >= 1");
  }
  using std::chrono::milliseconds;
  if (options.checkpoint_interval < milliseconds(0) || options.poll_interval <= milliseconds(0) ||
      options.retry_interval < milliseconds(0) || options.lock_retry_interval <= milliseconds(0)) {
    return Status::InvalidArgument("processor: negative or zero interval");
  }
  const FailurePolicy& fp = options.failure_policy;
  if (fp.max_attempts < 1 || fp.multiplier < 1.0 || fp.initial_backoff < milliseconds(0) ||
      fp.max_backoff < milliseconds(0)) {
    return Status::InvalidArgument("processor: invalid failure policy");
  }
  if (options.upcasting) {
    ESTORIA_RETURN_IF_ERROR(options.upcasting->upcasters.status().WithContext("processor: upcasting"));
  }
  if (store->global_reader() == nullptr) {
    return Status::NotSupported("processor: the event store has no GlobalReader");
  }
  if (options.logger == nullptr) options.logger = StderrLogger();
  return std::unique_ptr<Processor>(
      new Processor(std::make_unique<Impl>(std::move(store), std::move(sink), std::move(options))));
}

Processor::Impl::Impl(std::shared_ptr<EventStore> store, std::shared_ptr<ProjectionSink> sink, ProcessorOptions options)
    : store_(std::move(store)),
      reader_(store_->global_reader()),
      watcher_(store_->append_watcher()),
      sink_(std::move(sink)),
      options_(std::move(options)) {}

Processor::Processor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Processor::~Processor() { (void)Stop(); }

const std::string& Processor::name() const { return impl_->options_.name; }

Status Processor::Start() {
  Impl& d = *impl_;
  std::lock_guard<std::mutex> lifecycle(d.lifecycle_mu_);
  std::lock_guard<std::mutex> lock(d.mu_);
  if (d.running_) return Status::FailedPrecondition("processor " + d.options_.name + " is already running");
  if (d.thread_.joinable()) d.thread_.join();  // a previous run that ended by itself
  d.stop_ = false;
  d.running_ = true;
  d.final_status_ = Status::Ok();
  ProcessorState fresh;
  fresh.phase = d.options_.lock ? ProcessorPhase::kStandby : ProcessorPhase::kReplaying;
  d.state_ = fresh;
  d.oldest_unhandled_ = Timestamp{};
  d.thread_ = std::thread([&d] { Impl::Run(d).Loop(); });
  return Status::Ok();
}

Status Processor::Stop() {
  Impl& d = *impl_;
  std::lock_guard<std::mutex> lifecycle(d.lifecycle_mu_);
  {
    std::lock_guard<std::mutex> lock(d.mu_);
    d.stop_ = true;
  }
  d.changed_.notify_all();
  if (d.thread_.joinable()) d.thread_.join();
  std::lock_guard<std::mutex> lock(d.mu_);
  return d.final_status_;
}

ProcessorState Processor::state() const {
  const Impl& d = *impl_;
  std::lock_guard<std::mutex> lock(d.mu_);
  ProcessorState s = d.state_;
  s.lag_events = s.head_position > s.position ? s.head_position - s.position : 0;
  if (!s.caught_up && d.oldest_unhandled_ != Timestamp{} && s.lag_events > 0) {
    s.lag_time = std::chrono::duration_cast<std::chrono::microseconds>(Now() - d.oldest_unhandled_);
    if (s.lag_time.count() < 0) s.lag_time = std::chrono::microseconds(0);
  } else {
    s.lag_time = std::chrono::microseconds(0);
  }
  return s;
}

Status Processor::WaitForPosition(int64_t position, std::chrono::milliseconds timeout) const {
  const Impl& d = *impl_;
  std::unique_lock<std::mutex> lock(d.mu_);
  bool done = d.changed_.wait_for(lock, timeout, [&] { return d.state_.position >= position || !d.running_; });
  if (d.state_.position >= position) return Status::Ok();
  if (done) {
    return Status::FailedPrecondition("processor " + d.options_.name + " is not running (" +
                                      std::string(ProcessorPhaseName(d.state_.phase)) + ") at position " +
                                      std::to_string(d.state_.position));
  }
  return Status::Unavailable("timeout waiting for projection " + d.options_.name + " to reach position " +
                             std::to_string(position) + " (at " + std::to_string(d.state_.position) + ")");
}

Status Processor::WaitUntilCaughtUp(std::chrono::milliseconds timeout) const {
  const Impl& d = *impl_;
  auto head = d.reader_->HeadPosition();
  if (!head) return head.error();
  std::unique_lock<std::mutex> lock(d.mu_);
  auto reached = [&] { return (d.state_.position >= *head && d.state_.caught_up) || d.state_.position > *head; };
  bool done = d.changed_.wait_for(lock, timeout, [&] { return reached() || !d.running_; });
  if (reached()) return Status::Ok();
  if (done) {
    return Status::FailedPrecondition("processor " + d.options_.name + " is not running (" +
                                      std::string(ProcessorPhaseName(d.state_.phase)) + ")");
  }
  return Status::Unavailable("timeout waiting for projection " + d.options_.name + " to catch up with position " +
                             std::to_string(*head) + " (at " + std::to_string(d.state_.position) + ")");
}

Status Processor::WaitForExit(std::chrono::milliseconds timeout) const {
  const Impl& d = *impl_;
  std::unique_lock<std::mutex> lock(d.mu_);
  if (!d.changed_.wait_for(lock, timeout, [&] { return !d.running_; })) {
    return Status::Unavailable("timeout waiting for processor " + d.options_.name + " to exit");
  }
  if (d.state_.phase == ProcessorPhase::kFailed) return d.state_.last_error;
  return Status::Ok();
}

Result<std::vector<DeadLetter>> Processor::ListParked() {
  return impl_->sink_->dead_letters().List(impl_->options_.name);
}

Status Processor::ReplayParked(int64_t global_position) { return impl_->ReplayParked(global_position); }

Status Processor::Impl::ReplayParked(int64_t global_position) {
  std::lock_guard<std::mutex> lock(sink_mu_);
  if (!options_.upcasting) return sink_->Replay(options_.name, global_position);
  return sink_->ReplayWith(options_.name, global_position, [this](Event& event) { return Upcast(event); });
}

Status Processor::Impl::Upcast(Event& event) const {
  if (!options_.upcasting) return Status::Ok();
  Status s = options_.upcasting->Upcast(event);
  if (s.ok()) return s;
  return s.WithContext("upcasting " + event.stream_id.ToString() + " version " + std::to_string(event.stream_version) +
                       " (position " + std::to_string(event.global_position) + ")");
}

void Processor::Impl::ServeReplayRequests() {
  DeadLetterStore& letters = sink_->dead_letters();
  auto requested = letters.ListReplayRequests(options_.name);
  if (!requested.ok()) {
    if (!requested.error().IsNotSupported()) {
      options_.logger->Log(LogLevel::kWarning, "projection " + options_.name +
                                                   ": listing replay requests: " + requested.error().ToString());
    }
    return;
  }
  for (int64_t position : *requested) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
    }
    const std::string where =
        "projection " + options_.name + ": requested replay of position " + std::to_string(position);
    Status s = ReplayParked(position);
    if (s.ok()) {
      options_.logger->Log(LogLevel::kInfo, where + ": replayed");
      continue;
    }
    options_.logger->Log(LogLevel::kWarning, where + " failed: " + s.ToString());
    if (!s.IsNotFound()) {
      // Keep it parked with the new error (re-parking also clears the request).
      auto letter = letters.Get(options_.name, position);
      if (letter.ok()) {
        letter->error = s.ToString();
        ++letter->attempts;
        Status parked = letters.Park(*letter);
        if (!parked.ok())
          options_.logger->Log(LogLevel::kWarning, where + ": updating the error: " + parked.ToString());
      }
    }
    Status cleared = letters.ClearReplayRequest(options_.name, position);
    if (!cleared.ok())
      options_.logger->Log(LogLevel::kWarning, where + ": clearing the request: " + cleared.ToString());
  }
}

Status Processor::DiscardParked(int64_t global_position) {
  return impl_->sink_->dead_letters().Discard(impl_->options_.name, global_position);
}

}  // namespace estoria
