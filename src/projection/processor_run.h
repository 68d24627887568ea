// Processor::Impl: the state a Processor shares with its processing thread, and
// Processor::Impl::Run, the processing loop of one Processor::Start (internal).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "estoria/projection/processor.h"

namespace estoria {

struct Processor::Impl {
  class Run;

  // Arguments validated by Processor::Create (store has a GlobalReader, logger set).
  Impl(std::shared_ptr<EventStore> store, std::shared_ptr<ProjectionSink> sink, ProcessorOptions options);

  // Re-applies a parked event through the sink, serialised with batches.
  Status ReplayParked(int64_t global_position);
  // Serves pending replay requests (processor thread, outside a batch).
  void ServeReplayRequests();
  // Brings `event` to current schema versions (options_.upcasting; OK and
  // unchanged without it). Errors: EventUpcasting::Upcast's, with context.
  Status Upcast(Event& event) const;

  const std::shared_ptr<EventStore> store_;
  GlobalReader* const reader_;
  AppendWatcher* const watcher_;
  const std::shared_ptr<ProjectionSink> sink_;
  const ProcessorOptions options_;

  mutable std::mutex mu_;  // guards state_, oldest_unhandled_, stop_, running_, final_status_
  mutable std::condition_variable changed_;
  ProcessorState state_;
  Timestamp oldest_unhandled_{};  // commit time of the oldest known unhandled event
  bool stop_ = false;
  bool running_ = false;
  Status final_status_;
  std::mutex sink_mu_;       // held during a unit of work and during ReplayParked
  std::mutex lifecycle_mu_;  // serialises Start/Stop
  std::thread thread_;       // the current or last run; joined by Start/Stop
};

// Runs on the processor's thread only.
class Processor::Impl::Run {
 public:
  explicit Run(Impl& p) : p_(p) {}
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
  // Records this processor (owner, failure policy) in the sink's dead-letter
  // store for operators' tools; a failure is only logged.
  void RecordProcessor();

  Impl& p_;
  bool held_ = false;       // holds options.lock
  bool recorded_ = false;   // RecordProcessor done since becoming active
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
