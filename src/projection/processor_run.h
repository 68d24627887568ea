// ProcessorRun: the processing loop of one Processor::Start (internal).
// Runs on the processor's thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "estoria/projection/processor.h"

namespace estoria {

class ProcessorRun {
 public:
  explicit ProcessorRun(Processor& p) : p_(p) {}
  void Loop();

 private:
  using Clock = std::chrono::steady_clock;
  enum class Outcome { kStop, kFailed, kLockLost, kTransient };
  enum class EventOutcome { kHandled, kParked, kFailed, kStop, kTransient };

  // One leadership term: load the position, then read/handle/wait until an
  // outcome ends it.
  Outcome Process();
  // Handles one batch read from the log; updates position_.
  // nullopt: continue with the next read.
  std::optional<Outcome> HandleBatch(const std::vector<Event>& events, bool short_batch);
  EventOutcome HandleEvent(const Event& event);
  Outcome TransientOrLockLost(const Status& s) const;
  // Non-transactional sinks: saves checkpoint_ again when the stored
  // checkpoint is lower (written late by a former holder of a non-fencing lock).
  void RestoreCheckpoint();
  // Waits in the tail until an append may be visible, poll_interval passes, a
  // periodic duty is due, or Stop.
  void WaitTail();

  Status BeginUnit();
  Status CommitUnit(int64_t position);
  void AbortUnit();
  // Saves the checkpoint outside a batch when it is due (or forced).
  Status FlushCheckpoint(bool force);
  bool CheckpointDue() const;
  bool RenewDue() const;

  bool Stopping() const;
  // Sleeps up to d; false when Stop was requested.
  bool SleepFor(std::chrono::milliseconds d);
  void RecordError(const Status& s, const char* what);
  void Publish();  // copies position_/checkpoint_/head_ into the shared state

  Processor& p_;
  bool held_ = false;       // holds options.lock
  bool unit_open_ = false;  // a sink unit (transaction) is open
  int64_t position_ = 0;    // handled (visible for plain sinks; applied in the unit for transactional)
  int64_t visible_ = 0;     // position whose effects are visible
  int64_t checkpoint_ = 0;  // saved in the sink
  int64_t head_ = 0;
  int64_t since_save_ = 0;  // events since the last checkpoint save
  Clock::time_point last_save_{};
  Clock::time_point last_renew_{};
  Clock::time_point last_requests_{};  // last check of dead-letter replay requests
  int64_t handled_in_unit_ = 0;
  int64_t wake_known_ = 0;  // highest position the watcher reported
  Status final_status_;     // the last checkpoint save's status (returned by Stop)
};

}  // namespace estoria
