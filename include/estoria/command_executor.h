// estoria/command_executor.h: CommandExecutor<S>, which runs commands against
// the aggregates of an AggregateStore<S> so that a hot aggregate stays fast:
//
//   estoria::CommandExecutor<Account> executor(accounts);
//   auto done = executor.Execute(id, [&](estoria::Aggregate<Account>& account) {
//     if (account.state().balance + amount < 0) return estoria::Status::FailedPrecondition("overdraft");
//     account.Append(BalanceChanged{amount});
//     return estoria::Status::Ok();
//   });
//   // done->version, done->global_positions, done->state; or the refusal.
//
// What it does, compared with load / decide / save / retry on every call:
// - Per-aggregate serialization: commands for one aggregate never race each
//   other inside a process (no version conflicts among them); commands for
//   different aggregates run in parallel.
// - Batching: commands that queue for an aggregate while its append is in
//   flight are decided one after another against the evolving state and
//   appended together in ONE AppendStream (one expectation check, one commit).
//   Each command keeps its own outcome: one refused (or failing) command leaves
//   the others of its batch untouched. A command whose events carry ids
//   (idempotent appends) is appended in a batch of its own.
// - Warm state: recently used aggregates stay in memory (bounded, LRU). A batch
//   is decided against the warm state, and the append expects its version; when
//   another process appended meanwhile, the append conflicts and the executor
//   catches up by reading only the events after its version (Hydrate), then
//   decides again. A batch that appends nothing (every command refused, or an
//   expected version that does not match) is confirmed against the store
//   before it is reported, so no refusal is ever decided on stale state.
// - Across processes: optimistic concurrency, as always: a conflicting append
//   is retried, up to `max_attempts` attempts per command, with jittered
//   exponential backoff from the second retry on. A conflict found when the
//   warm state was behind is not counted as an attempt (it is retried at once).
//
// How events are written: the executor encodes each command's events and
// appends them through store->event_store() (StreamWriter::AppendStream with
// ExpectVersion), which is the only layer that appends many commands' events
// under one expectation and returns their global positions; it folds them
// into the state with the events' own ApplyTo/Apply. Loads and catch-ups go
// through the store (so a SnapshottingStore or CachedStore speeds them up), but
// appends bypass AggregateStore::Save: save hooks of a HookableStore and the
// snapshot policy of a SnapshottingStore do not run for them, and the events'
// types are not checked against the store's registrations (appending a type
// the store cannot load makes later loads fail with Corruption).
//
// The decide function (Decide) receives an Aggregate<S> at the current state and
// version, calls Append / AppendWithMetadata to accept (appending nothing is
// an accepted no-op) and returns OK, or returns a non-OK status to refuse (its
// events are discarded and that status is the command's result). It may run
// more than once for one command (after a conflict, or when the batch is
// re-decided on fresher state), and on another caller's thread (the one
// leading the batch): it must be free of side effects other than writing to
// variables the caller reads after Execute returns, must not block for long,
// and must not call Execute. An exception it throws becomes Internal for that
// command only.
//
// Thread safety: Execute may be called from any number of threads at once.
// There are no background threads: every command runs on a thread that called
// Execute (the first caller for an idle aggregate leads its batch; when the
// batch is done, leadership passes to the next queued caller).
// Shutdown: nothing to stop. Destroy the executor only once no Execute call is
// running (the store may be used directly again at any time). A command whose
// Execute returned OK is as durable as the store's acknowledged appends
// (Durability::kStrict: on disk); one that returned an error appended nothing,
// except Unavailable and Internal from the store itself, after which the append
// may or may not have happened (as with AppendStream).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "estoria/aggregate.h"
#include "estoria/aggregate_store.h"
#include "estoria/event_sourced_store.h"
#include "estoria/event_store.h"
#include "estoria/status.h"

namespace estoria {

struct CommandExecutorOptions {
  // Appends tried per command when they conflict with another process's
  // appends, after which the command fails with Conflict. At least 1.
  // Default 10.
  int max_attempts = 10;
  // Backoff before the second and later retries of a conflicting batch: a
  // random delay in [0, min(initial_backoff * 2^(retry-1), max_backoff)]. The
  // first retry is immediate. Defaults 200 us and 20 ms.
  std::chrono::microseconds initial_backoff{200};
  std::chrono::microseconds max_backoff{20'000};
  // Most commands decided and appended together. At least 1. Default 256.
  size_t max_batch = 256;
  // Aggregates whose state is kept between commands (LRU); 0 = none (every
  // batch loads its aggregate). Default 1024.
  size_t warm_capacity = 1024;
};

struct ExecuteOptions {
  // When set, the command is decided only against exactly this version (0 =
  // the aggregate has no events yet); at any other version it fails with
  // Conflict (ConflictDetails: expected_version = this, actual_version = the
  // version found) and decide is not called. Default unset.
  std::optional<int64_t> expected_version = std::nullopt;
  // When set, a command not yet appended by then fails with Unavailable
  // ("deadline exceeded ..."), nothing appended for it. Checked while queued
  // (the caller returns at the deadline), before each decision and before each
  // append; an append already under way when it passes is waited for, and its
  // outcome returned. Default unset (no deadline).
  std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt;
};

// The outcome of an accepted command.
template <typename S>
struct CommandOutcome {
  // The aggregate's version after this command's events (the version it was
  // decided against when it appended nothing).
  int64_t version = 0;
  // Global positions of this command's events, in order (empty when none).
  std::vector<int64_t> global_positions;
  // The state after this command's events.
  S state{};
  // Version conflicts this command met and retried (caused by other processes).
  int conflicts = 0;
};

// Counters since construction (relaxed snapshots; for tests and metrics).
struct CommandExecutorStats {
  int64_t commands = 0;   // Execute calls finished
  int64_t appends = 0;    // AppendStream calls that succeeded (one per batch)
  int64_t conflicts = 0;  // AppendStream calls that conflicted
  int64_t loads = 0;      // full loads (cold aggregate, or a catch-up that failed)
  int64_t catch_ups = 0;  // Hydrate calls (events after the warm version)
  size_t warm = 0;        // aggregates kept warm now
  size_t queued = 0;      // commands waiting now behind a batch of their aggregate
};

namespace internal {

// One queued Execute call (the part CommandQueue handles).
struct CommandTicket {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  enum class State { kQueued, kLeading, kBatched, kDone };
  State state = State::kQueued;  // guarded by the queue's mutex
  std::condition_variable cv;
};

// Per-key queues with one leader per key (command_executor.cc).
class CommandQueue {
 public:
  enum class Turn {
    kLead,     // the caller leads: TakeBatch, run it, Finish
    kDone,     // a leader ran the command; its result is set
    kExpired,  // the deadline passed while queued; removed, nothing done
  };
  // Queues `ticket` under `key` and blocks until one of the turns above.
  Turn Join(const Uuid& key, CommandTicket* ticket);
  // The leader's batch: itself, then up to max - 1 queued tickets, in order.
  std::vector<CommandTicket*> TakeBatch(const Uuid& key, CommandTicket* leader, size_t max);
  // Marks the batch done, wakes its callers and passes the lead on.
  void Finish(const Uuid& key, std::span<CommandTicket* const> batch);
  // Tickets waiting now (not leading, not batched).
  size_t queued() const;

 private:
  mutable std::mutex mu_;
  size_t queued_ = 0;
  std::unordered_map<Uuid, std::vector<CommandTicket*>> lanes_;  // present while a key has a leader
};

// InvalidArgument for out-of-range options.
Status ValidateCommandExecutorOptions(const CommandExecutorOptions& options);
// The jittered delay before retry number `retry` (1 = first retry: zero).
std::chrono::microseconds CommandRetryBackoff(const CommandExecutorOptions& options, int retry);
Status CommandDeadlineExceeded(const TypeId& stream, const char* where);
Status CommandAttemptsExhausted(const Status& conflict, int attempts);
Status CommandExpectedVersion(const TypeId& stream, int64_t expected, int64_t actual);
// Encodes pending events for an append (InvalidArgument naming the problem).
template <typename S>
Status EncodePending(const TypeId& stream, const std::vector<PendingEvent<S>>& pending,
                     std::vector<WritableEvent>& out) {
  for (const auto& p : pending) {
    if (!p.encode) return Status::InvalidArgument("execute " + stream.ToString() + ": event without encoder");
    auto payload = p.encode();
    if (!payload) return payload.error().WithContext("execute " + stream.ToString() + ": encode " + p.type);
    ESTORIA_ASSIGN_OR_RETURN(WritableEvent w, MakeWritableEvent(stream, p.type, p.schema_version, p.metadata, p.id,
                                                                std::move(payload).value()));
    out.push_back(std::move(w));
  }
  return Status::Ok();
}

}  // namespace internal

template <typename S>
class CommandExecutor {
 public:
  // Returns OK to accept (with the events appended to `aggregate`), or the
  // refusal. See the file comment for the rules decide must follow.
  using Decide = std::function<Status(Aggregate<S>& aggregate)>;

  // `store` must not be null. Invalid options make Execute return
  // InvalidArgument.
  explicit CommandExecutor(std::shared_ptr<AggregateStore<S>> store, CommandExecutorOptions options = {})
      : store_(std::move(store)), options_(options) {
    init_ = store_ ? internal::ValidateCommandExecutorOptions(options_)
                   : Status::InvalidArgument("command executor: null aggregate store");
  }
  CommandExecutor(const CommandExecutor&) = delete;
  CommandExecutor& operator=(const CommandExecutor&) = delete;

  // Runs one command on aggregate `id` (a new aggregate is at version 0) and
  // waits for its outcome. Errors:
  //  the status decide returned   the command was refused; nothing appended
  //  Conflict          expected_version differs from the aggregate's version
  //                    (ConflictDetails say both), or appends still conflicted
  //                    with other processes after max_attempts attempts
  //                    ("gave up after N attempts"); nothing appended
  //  Unavailable       the deadline passed first ("deadline exceeded"; nothing
  //                    appended), or the store is unreachable
  //  InvalidArgument   nil id, empty decide, negative expected_version, invalid
  //                    options, or events that cannot be appended (encode
  //                    failure, reserved metadata key, invalid type name)
  //  AlreadyExists     the command's events carry ids already appended
  //  Internal          decide or an event's apply threw (that command only)
  //  and whatever the store's Load, Hydrate and AppendStream return
  //  (Unavailable, Internal, Corruption, FailedPrecondition for a truncated
  //  stream without snapshot, ...).
  Result<CommandOutcome<S>> Execute(const Uuid& id, Decide decide, const ExecuteOptions& options = {}) {
    ESTORIA_RETURN_IF_ERROR(init_);
    if (id.IsNil()) return Status::InvalidArgument("execute: nil aggregate id");
    if (!decide) return Status::InvalidArgument("execute: empty decide function");
    if (options.expected_version && *options.expected_version < 0) {
      return Status::InvalidArgument("execute: negative expected version " + std::to_string(*options.expected_version));
    }
    Command command;
    command.decide = &decide;
    command.options = &options;
    if (options.deadline) command.deadline = *options.deadline;
    internal::CommandQueue::Turn turn = queue_.Join(id, &command);
    if (turn == internal::CommandQueue::Turn::kLead) {
      std::vector<internal::CommandTicket*> batch = queue_.TakeBatch(id, &command, options_.max_batch);
      RunBatch(id, batch);
      queue_.Finish(id, batch);
    } else if (turn == internal::CommandQueue::Turn::kExpired) {
      command.result = internal::CommandDeadlineExceeded(TypeId(store_->aggregate_type(), id), "while queued");
    }
    commands_.fetch_add(1, std::memory_order_relaxed);
    return std::move(*command.result);
  }

  // Counters since construction. Never fails.
  CommandExecutorStats stats() const {
    CommandExecutorStats s;
    s.commands = commands_.load(std::memory_order_relaxed);
    s.appends = appends_.load(std::memory_order_relaxed);
    s.conflicts = conflicts_.load(std::memory_order_relaxed);
    s.loads = loads_.load(std::memory_order_relaxed);
    s.catch_ups = catch_ups_.load(std::memory_order_relaxed);
    s.queued = queue_.queued();
    std::lock_guard<std::mutex> lock(warm_mu_);
    s.warm = warm_.size();
    return s;
  }

 private:
  using Clock = std::chrono::steady_clock;

  struct Command : internal::CommandTicket {
    const Decide* decide = nullptr;
    const ExecuteOptions* options = nullptr;
    std::optional<Result<CommandOutcome<S>>> result;  // set by the leader
    int conflicts = 0;                                // conflicts met (all kinds)
    int attempts = 0;                                 // conflicting appends that count against max_attempts
    // This round's decision.
    Status refusal;    // non-OK: refused or failed, nothing appended
    size_t first = 0;  // its events in the round's append
    size_t count = 0;
    int64_t version_after = 0;
    std::optional<S> state_after;
  };

  struct WarmEntry {
    Aggregate<S> aggregate;
    typename std::list<Uuid>::iterator position;
  };

  // Runs a batch to completion: sets every command's result.
  void RunBatch(const Uuid& id, std::span<internal::CommandTicket* const> tickets) {
    const TypeId stream(store_->aggregate_type(), id);
    std::vector<Command*> pending;
    pending.reserve(tickets.size());
    for (auto* t : tickets) pending.push_back(static_cast<Command*>(t));
    std::optional<Aggregate<S>> warm = TakeWarm(id);
    // True once the state was read from (or committed to) the store during this
    // batch, after every command of it was submitted: decisions against it are
    // current, so a round that appends nothing may be reported as it is.
    bool fresh = false;
    int retries = 0;
    while (!pending.empty()) {
      const auto now = Clock::now();
      std::erase_if(pending, [&](Command* c) {
        if (c->deadline > now) return false;
        c->result = internal::CommandDeadlineExceeded(stream, "before it was appended");
        return true;
      });
      if (pending.empty()) break;
      if (!warm) {
        Status st = Reload(id, warm);
        if (!st.ok()) {
          for (Command* c : pending) c->result = st;
          return;
        }
        fresh = true;
      }
      std::vector<WritableEvent> events;
      size_t decided = DecideRound(stream, *warm, pending, events);
      if (events.empty()) {
        if (!fresh) {
          // Refusals and version checks on warm state: confirm it is current.
          const int64_t before = warm->version();
          Status st = CatchUp(id, warm, /*full=*/false);
          if (!st.ok()) {
            for (Command* c : pending) c->result = st;
            return;
          }
          fresh = true;
          if (warm->version() != before) continue;  // decide again on the newer state
        }
        Complete(pending, decided, nullptr);
        continue;
      }
      const int64_t base = warm->version();
      auto appended = internal::AppendPending(*store_->event_store(), stream, events, base);
      if (appended.has_value()) {
        appends_.fetch_add(1, std::memory_order_relaxed);
        const Command* last = nullptr;
        for (size_t i = 0; i < decided; ++i) {
          if (pending[i]->refusal.ok() && pending[i]->count > 0) last = pending[i];
        }
        internal::AggregateAccess::MutableState(*warm) = *last->state_after;
        internal::AggregateAccess::SetVersion(*warm, appended->back().stream_version, appended->back().timestamp);
        fresh = true;
        Complete(pending, decided, &*appended);
        continue;
      }
      Status error = appended.error();
      if (!error.IsConflict()) {
        // Unavailable, Internal: unknown whether it was written; forget the state.
        if (!error.IsAlreadyExists() && !error.IsInvalidArgument()) warm.reset();
        for (size_t i = 0; i < decided; ++i) pending[i]->result = error;
        pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(decided));
        continue;
      }
      conflicts_.fetch_add(1, std::memory_order_relaxed);
      const bool counted = fresh;  // a stale warm state's conflict is free
      for (size_t i = 0; i < decided; ++i) {
        Command* c = pending[i];
        ++c->conflicts;
        if (counted) ++c->attempts;
        if (c->attempts >= options_.max_attempts) c->result = internal::CommandAttemptsExhausted(error, c->attempts);
      }
      std::erase_if(pending, [](Command* c) { return c->result.has_value(); });
      if (pending.empty()) break;  // the warm state is behind: the next batch catches up
      // The stream went back (deleted, recreated): reload it whole.
      const bool full = error.conflict() && error.conflict()->actual_version <= base;
      Status st = CatchUp(id, warm, full);
      if (!st.ok()) {
        for (Command* c : pending) c->result = st;
        return;
      }
      fresh = true;
      if (counted) Backoff(++retries, pending);
    }
    if (warm) PutWarm(std::move(*warm));
  }

  // Decides pending commands in order against `warm`'s state, gathering their
  // events into `events`; returns how many were decided (the rest wait for
  // the next round: a command with event ids goes into an append of its own).
  size_t DecideRound(const TypeId& stream, const Aggregate<S>& warm, std::vector<Command*>& pending,
                     std::vector<WritableEvent>& events) {
    S state = warm.state();
    int64_t version = warm.version();
    bool with_ids = false;
    size_t i = 0;
    for (; i < pending.size(); ++i) {
      Command& c = *pending[i];
      c.refusal = Status::Ok();
      c.count = 0;
      c.first = events.size();
      c.version_after = version;
      c.state_after.reset();
      if (c.options->expected_version && *c.options->expected_version != version) {
        c.refusal = internal::CommandExpectedVersion(stream, *c.options->expected_version, version);
        continue;
      }
      Aggregate<S> view = internal::AggregateAccess::Restore(stream, version, state, warm.last_event_time());
      c.refusal = CallUser("decide", [&] { return (*c.decide)(view); });
      if (!c.refusal.ok()) continue;
      const auto& added = view.pending_events();
      if (added.empty()) {
        c.state_after = state;
        continue;
      }
      bool ids = false;
      for (const auto& p : added) ids = ids || p.id.has_value();
      if ((ids || with_ids) && !events.empty()) break;  // append the others first
      std::vector<WritableEvent> mine;
      c.refusal = internal::EncodePending(stream, added, mine);
      if (c.refusal.ok()) c.refusal = internal::ValidatePending(stream, mine, store_->event_store()->event_limits());
      if (!c.refusal.ok()) continue;
      S next = state;
      c.refusal = CallUser("apply", [&] {
        for (const auto& p : added) p.apply(next);
        return Status::Ok();
      });
      if (!c.refusal.ok()) continue;
      with_ids = with_ids || ids;
      c.count = mine.size();
      for (auto& w : mine) events.push_back(std::move(w));
      version += static_cast<int64_t>(c.count);
      state = std::move(next);
      c.version_after = version;
      c.state_after = state;
    }
    return i;
  }

  // Sets the results of the first `decided` pending commands and drops them.
  void Complete(std::vector<Command*>& pending, size_t decided, const std::vector<Event>* appended) {
    for (size_t i = 0; i < decided; ++i) {
      Command& c = *pending[i];
      if (!c.refusal.ok()) {
        c.result = std::move(c.refusal);
        continue;
      }
      CommandOutcome<S> outcome;
      outcome.version = c.version_after;
      outcome.state = std::move(*c.state_after);
      outcome.conflicts = c.conflicts;
      for (size_t e = 0; e < c.count; ++e) outcome.global_positions.push_back((*appended)[c.first + e].global_position);
      c.result = std::move(outcome);
    }
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(decided));
  }

  template <typename F>
  static Status CallUser(const char* what, F&& f) {
    try {
      return f();
    } catch (const std::exception& e) {
      return internal::UserException(what, nullptr, e.what());
    } catch (...) {
      return internal::UserException(what, nullptr, nullptr);
    }
  }

  // Loads the aggregate whole (a new one at version 0 when it has no events).
  Status Reload(const Uuid& id, std::optional<Aggregate<S>>& warm) {
    loads_.fetch_add(1, std::memory_order_relaxed);
    warm.reset();
    auto loaded = store_->Load(id);
    if (loaded.has_value()) {
      warm = std::move(loaded).value();
      return Status::Ok();
    }
    if (!loaded.error().IsNotFound()) return loaded.error();
    auto created = store_->New(id);
    if (!created.has_value()) return created.error();
    warm = std::move(created).value();
    return Status::Ok();
  }

  // Applies the events after the warm version; a full reload when that fails
  // (the stream was deleted or truncated meanwhile) or when `full`.
  Status CatchUp(const Uuid& id, std::optional<Aggregate<S>>& warm, bool full) {
    if (!full && warm && warm->version() > 0) {
      catch_ups_.fetch_add(1, std::memory_order_relaxed);
      if (store_->Hydrate(*warm).ok()) return Status::Ok();
    }
    return Reload(id, warm);
  }

  // Sleeps before a retry, never past the earliest deadline of the batch.
  void Backoff(int retry, const std::vector<Command*>& pending) {
    auto delay = internal::CommandRetryBackoff(options_, retry);
    if (delay.count() <= 0) return;
    auto until = Clock::now() + delay;
    for (const Command* c : pending) until = std::min(until, c->deadline);
    std::this_thread::sleep_until(until);
  }

  std::optional<Aggregate<S>> TakeWarm(const Uuid& id) {
    std::lock_guard<std::mutex> lock(warm_mu_);
    auto it = warm_.find(id);
    if (it == warm_.end()) return std::nullopt;
    std::optional<Aggregate<S>> out(std::move(it->second.aggregate));
    lru_.erase(it->second.position);
    warm_.erase(it);
    return out;
  }

  void PutWarm(Aggregate<S> aggregate) {
    if (options_.warm_capacity == 0) return;
    std::lock_guard<std::mutex> lock(warm_mu_);
    const Uuid id = aggregate.id().uuid();
    if (auto it = warm_.find(id); it != warm_.end()) lru_.erase(it->second.position);
    lru_.push_front(id);
    warm_.insert_or_assign(id, WarmEntry{std::move(aggregate), lru_.begin()});
    while (warm_.size() > options_.warm_capacity) {
      warm_.erase(lru_.back());
      lru_.pop_back();
    }
  }

  std::shared_ptr<AggregateStore<S>> store_;
  const CommandExecutorOptions options_;
  Status init_;
  internal::CommandQueue queue_;
  mutable std::mutex warm_mu_;
  std::list<Uuid> lru_;  // most recently used first; only aggregates no batch holds
  std::unordered_map<Uuid, WarmEntry> warm_;
  std::atomic<int64_t> commands_{0}, appends_{0}, conflicts_{0}, loads_{0}, catch_ups_{0};
};

}  // namespace estoria
