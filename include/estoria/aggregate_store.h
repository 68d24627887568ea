// estoria/aggregate_store.h: AggregateStore<S>, the interface through which
// applications load and save aggregates, implemented by EventSourcedStore and by
// every decorator (SnapshottingStore, CachedStore, HookableStore), and
// AggregateStoreDecorator<S>, the base of decorators: it forwards every call and
// capability to the store it wraps, so decorators compose in any order.
//
// Thread safety: every AggregateStore implementation is safe for concurrent use
// from many threads; each Aggregate<S> value passed to it belongs to one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "estoria/aggregate.h"
#include "estoria/event.h"
#include "estoria/event_store.h"
#include "estoria/snapshot_store.h"
#include "estoria/status.h"
#include "estoria/type_id.h"

namespace estoria {

// How far to load (time travel). Both bounds may be combined.
struct LoadOptions {
  // Apply events up to this stream version (0 = the tip). Default 0. Negative is
  // InvalidArgument. A bound above the tip loads the whole stream.
  int64_t to_version = 0;
  // When set, apply only the events with timestamp <= to_time (the state as of
  // that instant). Default unset.
  std::optional<Timestamp> to_time = std::nullopt;
  // The lowest version the caller accepts (e.g. a version it has already
  // seen or saved). A cache (CachedStore) never serves an entry older than
  // this: it loads from the store instead. Stores that replay events always
  // return the latest state and ignore it. Default 0. Negative is
  // InvalidArgument.
  int64_t min_version = 0;

  // True when neither bound is set (a load of the latest state).
  bool latest() const { return to_version == 0 && !to_time.has_value(); }
};
using HydrateOptions = LoadOptions;

// InvalidArgument for a negative to_version, else OK.
Status ValidateLoadOptions(const LoadOptions& options);

template <typename S>
class AggregateStore {
 public:
  virtual ~AggregateStore() = default;

  // The type of the aggregates' stream ids (e.g. "account").
  virtual const std::string& aggregate_type() const = 0;

  // A new aggregate (version 0, nothing read or written). Errors:
  // InvalidArgument (nil id, or the store was constructed with invalid settings).
  virtual Result<Aggregate<S>> New(const Uuid& id) = 0;
  // A new aggregate with a fresh UUIDv7.
  Result<Aggregate<S>> New() { return New(Uuid::NewV7()); }

  // Loads an aggregate by replaying its events (latest, or bounded by options).
  // Errors: NotFound (stream does not exist, or no event at or before to_time),
  // InvalidArgument (bad options or store settings), Corruption (an event of an
  // unknown type, an undecodable payload, a content type the codec does not
  // read, a schema version without upcaster), FailedPrecondition (the stream
  // was truncated and cannot be replayed from version 1), Internal (a user
  // Apply or upcaster threw), Unavailable, and anything a decorator's hook
  // returns.
  virtual Result<Aggregate<S>> Load(const Uuid& id, const LoadOptions& options = {}) = 0;

  // Applies the events after aggregate.version() (up to the bounds). Errors: as
  // Load, plus FailedPrecondition when the aggregate has pending events and
  // InvalidArgument when to_version < aggregate.version(). On error the
  // aggregate is unspecified: discard it and load again.
  virtual Status Hydrate(Aggregate<S>& aggregate, const HydrateOptions& options = {}) = 0;

  // Appends the pending events with ExpectVersion(aggregate.version()), then
  // applies them, advances the version and clears them. No pending events: OK,
  // nothing written. Errors:
  //  Conflict         another writer got there first; nothing was written and the
  //                   aggregate is unchanged: reload and retry the command
  //  InvalidArgument  an event type not registered with the store, an encode
  //                   failure, a reserved metadata key, an id of another type
  //  AlreadyExists    pending events carried ids that were already appended
  //  Unavailable, Internal
  //  any status with events_appended() true: the events WERE written but a later
  //                   step failed (a throwing Apply, an after-save hook); do not
  //                   retry the append: discard the aggregate and reload
  virtual Status Save(Aggregate<S>& aggregate) = 0;

  // Capabilities, forwarded by every decorator.
  // The event store the aggregates' streams live in (never null).
  virtual std::shared_ptr<EventStore> event_store() = 0;
  // The snapshot store of a SnapshottingStore in the chain, else null.
  virtual std::shared_ptr<SnapshotStore> snapshot_store() { return nullptr; }
};

// Base of decorators: forwards everything to `inner` (which must not be null).
template <typename S>
class AggregateStoreDecorator : public AggregateStore<S> {
 public:
  explicit AggregateStoreDecorator(std::shared_ptr<AggregateStore<S>> inner) : inner_(std::move(inner)) {}

  using AggregateStore<S>::New;
  const std::string& aggregate_type() const override { return inner_->aggregate_type(); }
  Result<Aggregate<S>> New(const Uuid& id) override { return inner_->New(id); }
  Result<Aggregate<S>> Load(const Uuid& id, const LoadOptions& options = {}) override {
    return inner_->Load(id, options);
  }
  Status Hydrate(Aggregate<S>& aggregate, const HydrateOptions& options = {}) override {
    return inner_->Hydrate(aggregate, options);
  }
  Status Save(Aggregate<S>& aggregate) override { return inner_->Save(aggregate); }
  std::shared_ptr<EventStore> event_store() override { return inner_->event_store(); }
  std::shared_ptr<SnapshotStore> snapshot_store() override { return inner_->snapshot_store(); }

  // The wrapped store.
  const std::shared_ptr<AggregateStore<S>>& inner() const { return inner_; }

 private:
  std::shared_ptr<AggregateStore<S>> inner_;
};

}  // namespace estoria
