// Processor::Impl::Run: acquire the lock, load the position, read/handle/commit, tail.
#include "processor_run.h"

#include <unistd.h>

#include <algorithm>
#include <optional>
#include <string>

namespace estoria {

namespace {
constexpr std::chrono::milliseconds kWaitSlice{50};  // bounds how long Stop waits for a tail wait
}  // namespace

bool Processor::Impl::Run::Stopping() const {
  std::lock_guard<std::mutex> lock(p_.mu_);
  return p_.stop_;
}

bool Processor::Impl::Run::SleepFor(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(p_.mu_);
  p_.changed_.wait_for(lock, d, [&] { return p_.stop_; });
  return !p_.stop_;
}

void Processor::Impl::Run::RecordError(const Status& s, const char* what) {
  {
    std::lock_guard<std::mutex> lock(p_.mu_);
    p_.state_.last_error = s;
  }
  p_.options_.logger->Log(LogLevel::kWarning, "projection " + p_.options_.name + ": " + what + ": " + s.ToString());
}

void Processor::Impl::Run::RecordProcessor() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  std::string owner = std::string(host[0] ? host : "localhost") + ":" + std::to_string(getpid());
  Status s = p_.sink_->dead_letters().RecordProcessor(p_.options_.name, owner,
                                                      FailurePolicyToString(p_.options_.failure_policy));
  if (!s.ok()) {
    p_.options_.logger->Log(LogLevel::kWarning,
                            "projection " + p_.options_.name + ": recording the processor: " + s.ToString());
  }
}

void Processor::Impl::Run::Publish() {
  {
    std::lock_guard<std::mutex> lock(p_.mu_);
    p_.state_.position = visible_;
    p_.state_.checkpoint = checkpoint_;
    p_.state_.head_position = std::max(head_, visible_);
  }
  p_.changed_.notify_all();
}

bool Processor::Impl::Run::CheckpointDue() const {
  if (position_ == checkpoint_) return false;
  return since_save_ >= p_.options_.checkpoint_every_events ||
         Clock::now() - last_save_ >= p_.options_.checkpoint_interval;
}

bool Processor::Impl::Run::RenewDue() const {
  return held_ && Clock::now() - last_renew_ >= p_.options_.lock->renew_interval();
}

Status Processor::Impl::Run::BeginUnit() {
  Status s = p_.sink_->Begin(p_.options_.name);
  unit_open_ = s.ok() && p_.sink_->transactional();
  handled_in_unit_ = 0;
  return s;
}

void Processor::Impl::Run::AbortUnit() {
  if (unit_open_) p_.sink_->Abort();
  unit_open_ = false;
  if (p_.sink_->transactional()) position_ = visible_ = checkpoint_;
}

Status Processor::Impl::Run::CommitUnit(int64_t position) {
  if (p_.sink_->transactional()) {
    if (!unit_open_) return Status::Ok();
    Status s = p_.sink_->Commit(p_.options_.name, position);
    unit_open_ = false;
    if (!s.ok()) {
      p_.sink_->Abort();
      position_ = visible_ = checkpoint_;
      Publish();
      return s;
    }
  } else {
    unit_open_ = false;
    if (position == checkpoint_) return Status::Ok();
    ESTORIA_RETURN_IF_ERROR(p_.sink_->Commit(p_.options_.name, position));
  }
  visible_ = std::max(visible_, position);
  checkpoint_ = position;
  since_save_ = 0;
  last_save_ = Clock::now();
  Publish();
  return Status::Ok();
}

Status Processor::Impl::Run::FlushCheckpoint(bool force) {
  if (position_ == checkpoint_ || (!force && !CheckpointDue())) return Status::Ok();
  if (p_.sink_->transactional()) {
    std::lock_guard<std::mutex> lock(p_.sink_mu_);
    ESTORIA_RETURN_IF_ERROR(BeginUnit());
    return CommitUnit(position_);
  }
  return CommitUnit(position_);
}

void Processor::Impl::Run::RestoreCheckpoint() {
  // A lock that does not fence the sink (a plain handler's checkpoint store):
  // a former holder whose session died may still save an older position after
  // this holder saved a newer one. Each renew looks, and saves ours again.
  if (p_.sink_->transactional() || checkpoint_ == 0) return;
  auto stored = p_.sink_->LoadPosition(p_.options_.name);
  if (!stored.ok() || *stored >= checkpoint_) return;
  Status s = p_.sink_->Commit(p_.options_.name, checkpoint_);
  if (!s.ok()) RecordError(s, "restoring the checkpoint");
}

void Processor::Impl::Run::WaitTail() {
  auto deadline = Clock::now() + p_.options_.poll_interval;
  if (position_ != checkpoint_) deadline = std::min(deadline, last_save_ + p_.options_.checkpoint_interval);
  if (held_) deadline = std::min(deadline, last_renew_ + p_.options_.lock->renew_interval());
  while (!Stopping()) {
    auto now = Clock::now();
    if (now >= deadline) return;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) + std::chrono::milliseconds(1);
    if (p_.watcher_ == nullptr) {
      SleepFor(left);
      continue;
    }
    auto known = p_.watcher_->WaitForAppend(position_, std::min(left, kWaitSlice));
    if (!known.ok()) {
      RecordError(known.error(), "waiting for appends");
      SleepFor(std::min(left, kWaitSlice));
    } else if (*known > std::max(position_, wake_known_)) {
      wake_known_ = *known;
      return;
    }
  }
}

Processor::Impl::Run::EventOutcome Processor::Impl::Run::HandleEvent(const Event& event) {
  const FailurePolicy& fp = p_.options_.failure_policy;
  const bool transactional = p_.sink_->transactional();
  int attempts = 0;
  auto backoff = fp.initial_backoff;
  // The handler sees the upcast copy; a dead letter keeps `event` as stored.
  std::optional<Event> upcast;
  while (true) {
    Status s;
    bool applied = false;
    if (p_.options_.upcasting) {
      upcast = event;
      s = p_.Upcast(*upcast);  // again on each attempt: a step may fail transiently
    }
    if (s.ok()) {
      s = p_.sink_->Apply(upcast ? *upcast : event);
      applied = true;
    }
    ++attempts;
    if (s.ok()) return EventOutcome::kHandled;
    if (applied && p_.sink_->ApplyFailedInSink()) {  // not the handler's fault: no policy, retry the batch
      RecordError(s, ("the sink failed on position " + std::to_string(event.global_position)).c_str());
      return EventOutcome::kTransient;
    }
    RecordError(s, ("handler failed on position " + std::to_string(event.global_position)).c_str());
    if (fp.kind == FailurePolicy::Kind::kStop) return EventOutcome::kFailed;
    if (attempts >= fp.max_attempts) {
      if (fp.kind == FailurePolicy::Kind::kRetry) return EventOutcome::kFailed;
      DeadLetter letter{p_.options_.name, event, s.ToString(), attempts, Now()};
      Status parked = p_.sink_->Park(letter);
      if (!parked.ok()) {
        RecordError(parked, "parking an event");
        return EventOutcome::kTransient;
      }
      return EventOutcome::kParked;
    }
    {
      std::lock_guard<std::mutex> lock(p_.mu_);
      ++p_.state_.retries;
    }
    if (transactional) {  // release the transaction (and its locks) during the backoff
      Status c = CommitUnit(position_);
      if (!c.ok()) {
        RecordError(c, "commit before retry");
        return EventOutcome::kTransient;
      }
    }
    if (!SleepFor(backoff)) return EventOutcome::kStop;
    backoff = std::min(std::chrono::duration_cast<std::chrono::milliseconds>(backoff * fp.multiplier), fp.max_backoff);
    if (transactional) {
      Status b = BeginUnit();
      if (!b.ok()) {
        RecordError(b, "begin");
        return EventOutcome::kTransient;
      }
    }
  }
}

std::optional<Processor::Impl::Run::Outcome> Processor::Impl::Run::HandleBatch(const std::vector<Event>& events,
                                                                               bool short_batch) {
  std::lock_guard<std::mutex> sink_lock(p_.sink_mu_);
  const bool transactional = p_.sink_->transactional();
  Status begun = BeginUnit();
  if (!begun.ok()) {
    RecordError(begun, "begin");
    return TransientOrLockLost(begun);
  }
  bool complete = true;
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    if (Stopping()) {
      complete = false;
      break;
    }
    EventOutcome o = HandleEvent(e);
    if (o == EventOutcome::kTransient) {
      AbortUnit();
      Publish();
      return Outcome::kTransient;
    }
    if (o == EventOutcome::kFailed) {
      Status c = CommitUnit(position_);
      if (!c.ok()) RecordError(c, "commit");
      final_status_ = c;
      return Outcome::kFailed;
    }
    if (o == EventOutcome::kStop) {
      complete = false;
      break;
    }
    position_ = e.global_position;
    ++since_save_;
    ++handled_in_unit_;
    if (!transactional) visible_ = position_;
    {
      std::lock_guard<std::mutex> lock(p_.mu_);
      if (o == EventOutcome::kParked) {
        ++p_.state_.events_parked;
      } else {
        ++p_.state_.events_handled;
      }
      p_.state_.last_event_timestamp = e.timestamp;
      if (i + 1 < events.size()) p_.oldest_unhandled_ = events[i + 1].timestamp;
    }
    if (!transactional) Publish();
  }
  // Everything up to the head read before this batch has been seen.
  if (complete && short_batch && head_ > position_) position_ = head_;
  if (!transactional) visible_ = position_;
  if (transactional && unit_open_ && handled_in_unit_ == 0 && !CheckpointDue()) {
    p_.sink_->Abort();  // nothing applied: no transaction needed
    unit_open_ = false;
    visible_ = position_;
  }
  if (unit_open_ || (!transactional && CheckpointDue())) {
    Status c = CommitUnit(position_);
    if (!c.ok()) {
      RecordError(c, "commit");
      if (transactional) return TransientOrLockLost(c);
    }
  }
  unit_open_ = false;
  Publish();
  return std::nullopt;
}

Processor::Impl::Run::Outcome Processor::Impl::Run::TransientOrLockLost(const Status& s) const {
  // A sink that fences with the lock (lease row, advisory lock session) reports
  // its loss as FailedPrecondition: acquire it again before going on.
  return held_ && s.IsFailedPrecondition() ? Outcome::kLockLost : Outcome::kTransient;
}

Processor::Impl::Run::Outcome Processor::Impl::Run::Process() {
  auto loaded = p_.sink_->LoadPosition(p_.options_.name);
  if (!loaded.ok()) {
    RecordError(loaded.error(), "loading the checkpoint");
    return Outcome::kTransient;
  }
  position_ = visible_ = checkpoint_ = *loaded;
  since_save_ = 0;
  last_save_ = Clock::now();
  {
    std::lock_guard<std::mutex> lock(p_.mu_);
    p_.state_.active = true;
    p_.state_.caught_up = false;
    p_.state_.phase = ProcessorPhase::kReplaying;
  }
  Publish();
  GlobalReader& reader = *p_.reader_;
  while (true) {
    if (Stopping()) {
      final_status_ = FlushCheckpoint(true);
      if (!final_status_.ok()) RecordError(final_status_, "final checkpoint");
      return Outcome::kStop;
    }
    if (RenewDue()) {
      auto renewed = p_.options_.lock->Renew(p_.options_.name);
      if (!renewed.ok() || !*renewed) {
        RecordError(renewed.ok() ? Status::FailedPrecondition("lock lost") : renewed.error(), "renewing the lock");
        return Outcome::kLockLost;
      }
      last_renew_ = Clock::now();
      RestoreCheckpoint();
    }
    auto head = reader.HeadPosition();
    if (!head.ok()) {
      RecordError(head.error(), "reading the head position");
      return Outcome::kTransient;
    }
    head_ = *head;
    ReadAllOptions read{position_, p_.options_.batch_size, p_.options_.stream_types, p_.options_.event_types};
    auto it = reader.ReadAll(read);
    if (!it.ok()) {
      RecordError(it.error(), "reading the log");
      return Outcome::kTransient;
    }
    auto events = Collect(**it);
    if (!events.ok()) {
      RecordError(events.error(), "reading the log");
      return Outcome::kTransient;
    }
    if (events->empty()) {
      if (head_ > position_) position_ = visible_ = head_;
      {
        std::lock_guard<std::mutex> lock(p_.mu_);
        p_.state_.caught_up = true;
        p_.state_.phase = ProcessorPhase::kTailing;
        p_.oldest_unhandled_ = Timestamp{};
      }
      Publish();
      Status flushed = FlushCheckpoint(false);
      if (!flushed.ok()) {
        RecordError(flushed, "saving the checkpoint");
        if (p_.sink_->transactional()) return Outcome::kTransient;
      }
      if (Clock::now() - last_requests_ >= p_.options_.poll_interval) {
        p_.ServeReplayRequests();
        last_requests_ = Clock::now();
      }
      WaitTail();
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(p_.mu_);
      p_.state_.caught_up = false;
      head_ = std::max(head_, events->back().global_position);
      p_.state_.head_position = head_;
      p_.oldest_unhandled_ = events->front().timestamp;
    }
    bool short_batch = static_cast<int64_t>(events->size()) < p_.options_.batch_size;
    if (auto outcome = HandleBatch(*events, short_batch)) return *outcome;
  }
}

void Processor::Impl::Run::Loop() {
  const std::string& name = p_.options_.name;
  Outcome last = Outcome::kStop;
  while (!Stopping()) {
    if (p_.options_.lock && !held_) {
      {
        std::lock_guard<std::mutex> lock(p_.mu_);
        p_.state_.phase = ProcessorPhase::kStandby;
        p_.state_.active = false;
      }
      p_.changed_.notify_all();
      auto acquired = p_.options_.lock->TryAcquire(name);
      if (!acquired.ok()) RecordError(acquired.error(), "acquiring the lock");
      if (!acquired.ok() || !*acquired) {
        SleepFor(p_.options_.lock_retry_interval);
        continue;
      }
      held_ = true;
      last_renew_ = Clock::now();
    }
    if (!recorded_) {
      RecordProcessor();
      recorded_ = true;
    }
    last = Process();
    if (last == Outcome::kStop || last == Outcome::kFailed) break;
    if (last == Outcome::kLockLost) {
      p_.options_.lock->Release(name);
      held_ = false;
      recorded_ = false;  // another processor may take over: record again when active
      continue;
    }
    SleepFor(p_.options_.retry_interval);
  }
  if (held_) p_.options_.lock->Release(name);
  held_ = false;
  {
    std::lock_guard<std::mutex> lock(p_.mu_);
    p_.running_ = false;
    p_.state_.active = false;
    p_.state_.phase = last == Outcome::kFailed ? ProcessorPhase::kFailed : ProcessorPhase::kStopped;
    p_.final_status_ = final_status_;
  }
  p_.changed_.notify_all();
}

}  // namespace estoria
