// estoria/projection/projection_sink.h: the two seams of a projection processor.
//   ProjectionSink   where handled events go and where the checkpoint is kept:
//                    a plain handler plus a CheckpointStore (HandlerSink, at-least-
//                    once), or a SQL read model whose handler writes in the same
//                    transaction as the checkpoint (exactly-once effects; see
//                    sqlite_read_model.h and postgres_read_model.h).
//   ProjectionLock   "one active processor per projection" across processes
//                    (SQLite lease row, PostgreSQL advisory lock).
//   HandlerSink      the generic sink: EventHandler + CheckpointStore +
//                    DeadLetterStore.
//
// Thread safety: a Processor calls its sink and lock from its own thread, one
// call at a time, and serialises ReplayParked with its batches; a sink or lock is
// not shared by two processors. HandlerSink follows that contract (its handler is
// never called concurrently by one processor).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "estoria/checkpoint_store.h"
#include "estoria/event.h"
#include "estoria/projection/dead_letter_store.h"
#include "estoria/status.h"

namespace estoria {

// A projection's event handler. A non-OK status (or an exception, reported as
// Internal) is a handler failure, dealt with by the processor's FailurePolicy.
using EventHandler = std::function<Status(const Event&)>;

// Prepares an event in place before a handler sees it (e.g. upcasting); a
// non-OK status is a handler failure for that event.
using EventTransform = std::function<Status(Event&)>;

class ProjectionSink {
 public:
  virtual ~ProjectionSink() = default;

  // True when effects become visible only at Commit, atomically with the
  // checkpoint (exactly-once effects). False for at-least-once sinks, whose
  // handler effects are visible as soon as Apply returns.
  virtual bool transactional() const = 0;

  // The last position whose effects are stored (0 = none). Called on start and
  // after every recovery. Errors: Unavailable, Internal.
  virtual Result<int64_t> LoadPosition(std::string_view name) = 0;

  // Opens a unit of work (a transaction for SQL sinks). Errors: Unavailable
  // (database busy/unreachable), FailedPrecondition (lease lost), Internal.
  virtual Status Begin(std::string_view name) = 0;
  // Applies one event within the unit. On failure its effects are undone (SQL:
  // rolled back to a savepoint) and the unit stays usable. Returns the
  // handler's status; a thrown exception becomes Internal.
  virtual Status Apply(const Event& event) = 0;
  // After a failed Apply: true when it failed in the sink itself (its storage:
  // disk full, an I/O error, a lost connection; the unit may be unusable), not
  // in the handler's logic. The processor then treats the failure like a
  // failed Commit (aborts the unit, backs off, reloads the position and
  // retries) instead of applying its FailurePolicy: a full disk neither stops
  // the processor nor parks events. Default false: every failure is the
  // handler's.
  virtual bool ApplyFailedInSink() const { return false; }
  // Parks an event within the unit (SQL: in the same transaction).
  // Errors: Unavailable, Internal.
  virtual Status Park(const DeadLetter& letter) = 0;
  // Closes the unit, recording `position` as the checkpoint (atomically with
  // the effects for transactional sinks). Errors: Unavailable, Internal,
  // FailedPrecondition (lease lost: nothing was committed).
  virtual Status Commit(std::string_view name, int64_t position) = 0;
  // Abandons the unit (transactional sinks roll back). Never fails.
  virtual void Abort() = 0;

  // The parked events of this sink (never null).
  virtual DeadLetterStore& dead_letters() = 0;
  // Re-applies a parked event and, on success, discards it (transactional sinks:
  // in one transaction). Must not be called inside a unit. Returns the handler's
  // error (the event stays parked), NotFound when not parked, Unavailable,
  // Internal.
  virtual Status Replay(std::string_view name, int64_t global_position) = 0;
  // Replay, with `transform` (when set) applied to a copy of the parked event
  // before the handler sees it (the Processor's upcasting); the dead letter
  // keeps the stored event. A transform error is returned like a handler's
  // (the event stays parked). The default implementation is Replay when
  // `transform` is empty and NotSupported otherwise; the built-in sinks
  // implement it.
  virtual Status ReplayWith(std::string_view name, int64_t global_position, const EventTransform& transform) {
    if (!transform) return Replay(name, global_position);
    return Status::NotSupported("this projection sink cannot transform replayed events");
  }
};

class ProjectionLock {
 public:
  virtual ~ProjectionLock() = default;
  // Tries to become the active processor of `name`; true when held now.
  // Errors: Unavailable, Internal (the processor retries later).
  virtual Result<bool> TryAcquire(std::string_view name) = 0;
  // Called every renew_interval() while held. false (or an error) = lost: the
  // processor stops handling events and tries to acquire again.
  virtual Result<bool> Renew(std::string_view name) = 0;
  // Gives the lock up (on stop). Never fails.
  virtual void Release(std::string_view name) = 0;
  // How often Renew is called. Implementations document their value.
  virtual std::chrono::milliseconds renew_interval() const = 0;
};

// The generic, at-least-once sink: calls a handler and keeps the checkpoint in a
// CheckpointStore. After a crash, events handled since the last saved checkpoint
// are delivered again.
class HandlerSink final : public ProjectionSink {
 public:
  // `checkpoints` and `dead_letters` must not be null (e.g.
  // memory::MemoryCheckpointStore and memory::MemoryDeadLetterStore from
  // estoria/memory/memory_stores.h); with a null store, the operations that need
  // it return InvalidArgument.
  HandlerSink(EventHandler handler, std::shared_ptr<CheckpointStore> checkpoints,
              std::shared_ptr<DeadLetterStore> dead_letters);

  bool transactional() const override { return false; }
  Result<int64_t> LoadPosition(std::string_view name) override;  // CheckpointStore::Load
  Status Begin(std::string_view) override { return Status::Ok(); }
  Status Apply(const Event& event) override;
  Status Park(const DeadLetter& letter) override;                   // DeadLetterStore::Park
  Status Commit(std::string_view name, int64_t position) override;  // CheckpointStore::Save
  void Abort() override {}
  DeadLetterStore& dead_letters() override { return *dead_letters_; }
  Status Replay(std::string_view name, int64_t global_position) override;
  Status ReplayWith(std::string_view name, int64_t global_position, const EventTransform& transform) override;

 private:
  EventHandler handler_;
  std::shared_ptr<CheckpointStore> checkpoints_;
  std::shared_ptr<DeadLetterStore> dead_letters_;
};

// Calls a handler, turning an exception into Internal (shared by the sinks).
Status CallHandler(const std::function<Status()>& call);

}  // namespace estoria
