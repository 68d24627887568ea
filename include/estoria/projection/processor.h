// estoria/projection/processor.h: Processor, which runs a projection over the
// global log: it loads its checkpoint, replays history in batches (ReadAll with
// after_position + count), catches up, then tails new appends, waking on the
// store's AppendWatcher (in-process push; LISTEN/NOTIFY for PostgreSQL) and
// polling every poll_interval as a fallback for writers in other processes.
//
//   auto sink = std::make_shared<HandlerSink>(handler, memory::MemoryCheckpointStore::Open().value(),
//                                             memory::MemoryDeadLetterStore::Open().value());
//   auto p = Processor::Create(store, sink, {.name = "balances"}).value();
//   ESTORIA_RETURN_IF_ERROR(p->Start());
//   ...
//   p->Stop();
//
// Delivery: at-least-once in general (a crash replays events handled since the
// last saved checkpoint); exactly-once effects with a transactional sink (SQL
// read models), whose handler writes in the checkpoint's transaction.
// Checkpoints: a transactional sink commits (and checkpoints) at the end of every
// batch that handled events; a plain sink saves every checkpoint_every_events
// events or checkpoint_interval, whichever comes first, and on Stop.
// Positions skipped by filters advance the position too once the processor has
// read past them.
//
// Transient failures (reading the log, committing, losing the lock, a sink
// failing in Apply by itself: ProjectionSink::ApplyFailedInSink, e.g. disk
// full) never stop a processor: it records last_error, backs off
// (retry_interval), reloads its position from the sink and continues. Handler
// failures follow the FailurePolicy.
//
// Upcasting: with options.upcasting set, every event is brought to its type's
// current schema version (EventUpcasting::Upcast) before the sink's handler
// sees it, so handlers written for the current shapes read old events too.
// Events of a type absent from current_versions with no step, or already at
// their current version, pass unchanged. A failed upcast (Corruption, a step's
// own error, Internal when a step throws) is a handler failure for that event:
// the FailurePolicy applies (stop, retry, park). A dead letter always holds the
// event as stored (raw), never the upcast copy; ReplayParked and served replay
// requests upcast it again before the handler sees it.
//
// Observing: state() is cheap (a copy under a mutex) and may be polled, e.g. by
// metrics or a benchmark. Commit-to-handler latency is measured in the handler:
// Now() - event.timestamp (the timestamp is assigned by the store's writer just
// before its commit, so this slightly over-estimates), or against the time the
// appender's AppendStream returned, keyed by global position.
//
// Thread safety: every public method may be called from any thread. The handler
// runs on the processor's own thread, one event at a time, never concurrently
// with itself (ReplayParked waits for the current batch to finish).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "estoria/event_store.h"
#include "estoria/logger.h"
#include "estoria/projection/projection_sink.h"
#include "estoria/status.h"
#include "estoria/upcaster.h"

namespace estoria {

// What a processor does when its handler fails on an event.
struct FailurePolicy {
  enum class Kind {
    kStop,   // stop the processor with last_error set (the default)
    kRetry,  // retry with exponential backoff; stop after max_attempts
    kPark,   // retry up to max_attempts, then park the event and continue
  };
  // Default kStop.
  Kind kind = Kind::kStop;
  // Total handler calls for one event (first call included) before giving up
  // (kRetry: stop; kPark: park). Ignored by kStop. Default 5.
  int max_attempts = 5;
  // Backoff before the 2nd call; multiplied by `multiplier` for each further
  // call, capped at max_backoff. Defaults 50 ms, x2, 5 s.
  std::chrono::milliseconds initial_backoff{50};
  double multiplier = 2.0;
  std::chrono::milliseconds max_backoff{5000};

  static FailurePolicy Stop() { return {}; }
  static FailurePolicy Retry(int max_attempts = 5,
                             std::chrono::milliseconds initial_backoff = std::chrono::milliseconds(50)) {
    return {Kind::kRetry, max_attempts, initial_backoff};
  }
  static FailurePolicy Park(int max_attempts = 1,
                            std::chrono::milliseconds initial_backoff = std::chrono::milliseconds(50)) {
    return {Kind::kPark, max_attempts, initial_backoff};
  }
};

// The policy as one line of text, e.g. "park after 3 attempts (backoff 50 ms
// x2, at most 5000 ms)", as recorded with DeadLetterStore::RecordProcessor.
std::string FailurePolicyToString(const FailurePolicy& policy);

struct ProcessorOptions {
  // The projection name: checkpoint key, dead-letter key and lock name.
  // Required (empty is InvalidArgument).
  std::string name;
  // Events per ReadAll page (and per transaction of a transactional sink).
  // Default 256; must be >= 1.
  int64_t batch_size = 256;
  // Plain sinks: save the checkpoint after this many events... Default 100.
  int64_t checkpoint_every_events = 100;
  // ...or this long after the last save, whichever comes first. Default 1 s.
  std::chrono::milliseconds checkpoint_interval{1000};
  // Fallback polling of the log when no push arrives (writers in other
  // processes). Default 500 ms.
  std::chrono::milliseconds poll_interval{500};
  // Back-off after a transient error (read, commit, lock). Default 500 ms.
  std::chrono::milliseconds retry_interval{500};
  // ReadAll filters: only these stream types / event types. Default: all.
  std::vector<std::string> stream_types{};
  std::vector<std::string> event_types{};
  // Handler failure policy. Default FailurePolicy::Stop().
  FailurePolicy failure_policy{};
  // When set, the processor handles events only while it holds this lock
  // (one active processor per projection across processes); until then it is
  // kStandby and retries every lock_retry_interval. With a plain sink, whose
  // checkpoint store the lock does not fence, a former holder may save an older
  // checkpoint after this one's; the active processor then saves its own again
  // at its next renew. Default: none.
  std::shared_ptr<ProjectionLock> lock{};
  // Default 250 ms.
  std::chrono::milliseconds lock_retry_interval{250};
  // Where errors are reported. Default StderrLogger().
  std::shared_ptr<Logger> logger{};
  // When set, events are upcast before the handler sees them (see the top of
  // this file), e.g. with an EventSourcedStore's upcasting(); copied into the
  // processor. An invalid registration (upcasting->upcasters.status()) fails
  // Create with InvalidArgument. Default unset: events as stored.
  std::optional<EventUpcasting> upcasting{};
};

enum class ProcessorPhase {
  kIdle,       // created, never started
  kStandby,    // started, waiting for the ProjectionLock
  kReplaying,  // handling history; has not caught up yet since (re)starting
  kTailing,    // has caught up; handles appends as they come (caught_up says
               // whether it is behind right now)
  kStopped,    // stopped by Stop()
  kFailed,     // stopped by a handler failure (see last_error)
};
std::string_view ProcessorPhaseName(ProcessorPhase phase);

struct ProcessorState {
  ProcessorPhase phase = ProcessorPhase::kIdle;
  // Every event at or below `position` has been handled and its effects are
  // visible (committed, for transactional sinks).
  int64_t position = 0;
  // The last position saved to the sink (<= position).
  int64_t checkpoint = 0;
  // The head of the log as last seen.
  int64_t head_position = 0;
  // head_position - position (>= 0).
  int64_t lag_events = 0;
  // Age of the oldest known unhandled event (commit timestamp to now); zero
  // when caught up.
  std::chrono::microseconds lag_time{0};
  // True after a read found nothing beyond `position` and no event since.
  bool caught_up = false;
  // True while this processor holds its lock (always true without a lock once
  // started).
  bool active = false;
  // Counters since Start.
  int64_t events_handled = 0;
  int64_t events_parked = 0;
  int64_t retries = 0;
  // The timestamp of the last handled event.
  Timestamp last_event_timestamp{};
  // The most recent error (handler failure, read or commit error); OK if none.
  Status last_error;
};

class Processor {
 public:
  // Errors: InvalidArgument (null store or sink, empty name, batch_size < 1,
  // negative intervals, an invalid upcaster registration), NotSupported (the store has no GlobalReader).
  static Result<std::unique_ptr<Processor>> Create(std::shared_ptr<EventStore> store,
                                                   std::shared_ptr<ProjectionSink> sink, ProcessorOptions options);
  ~Processor();  // Stops.
  Processor(const Processor&) = delete;
  Processor& operator=(const Processor&) = delete;

  // Starts the processing thread. FailedPrecondition when already running.
  // A processor that stopped (or failed) may be started again.
  Status Start();
  // Stops promptly: interrupts any wait (tail, backoff, lock), finishes the
  // event in hand, commits/saves the checkpoint, releases the lock and joins the
  // thread. Returns the final checkpoint save's status (OK when there was
  // nothing to save or the processor was not running).
  Status Stop();

  ProcessorState state() const;
  const std::string& name() const;

  // Read-your-writes: blocks until state().position >= position. OK when
  // reached; Unavailable on timeout (message "timeout ..."); FailedPrecondition
  // when the processor fails or stops before reaching it.
  Status WaitForPosition(int64_t position, std::chrono::milliseconds timeout) const;
  // Blocks until the processor has handled everything up to the head read at
  // call time and a read found nothing more (caught_up), or has moved past
  // that head. Same statuses as WaitForPosition.
  Status WaitUntilCaughtUp(std::chrono::milliseconds timeout) const;
  // Blocks until the processor is no longer running (kFailed, kStopped, or
  // never started). Returns the handler failure that stopped it (kFailed), OK
  // when it was stopped by Stop() or never started, Unavailable on timeout.
  Status WaitForExit(std::chrono::milliseconds timeout) const;

  // Dead letters of this projection (see DeadLetterStore for statuses).
  Result<std::vector<DeadLetter>> ListParked();
  // Re-applies a parked event through the sink and discards it on success,
  // serialised with the processor's batches; with options.upcasting the
  // stored event is upcast first (ProjectionSink::ReplayWith). Statuses: see
  // ProjectionSink::Replay; an upcasting error (Corruption, a step's error,
  // Internal) like a handler's: the event stays parked; NotSupported when the
  // sink cannot transform replayed events (a custom sink without ReplayWith).
  Status ReplayParked(int64_t global_position);
  // Discards a parked event. NotFound when absent; Unavailable; Internal.
  Status DiscardParked(int64_t global_position);
  // Replay requests (DeadLetterStore::RequestReplay, e.g. from
  // `estoria dead-letters NAME replay` in another process) are served by the
  // running processor itself: when caught up, at most once per poll_interval
  // (and right after it first catches up), it lists them and replays each like
  // ReplayParked on its own thread. Success removes the parked event; a failure
  // keeps it parked with `error` set to the failure and `attempts` + 1, and
  // clears the request (request again to retry). Failures are logged, never
  // stop the processor and do not set last_error. Stores without request
  // support (NotSupported) are ignored.

 private:
  // Everything else: the store, sink and options, the shared state and its
  // mutexes, the processing thread (src/projection/processor_run.h).
  struct Impl;
  explicit Processor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace estoria
