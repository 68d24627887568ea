// estoria/aggregate.h: Aggregate<S>, an event-sourced entity: its id, the state S
// built from its events, its version (the stream version of the last applied
// event) and the events appended since it was loaded (pending until saved).
//
// User types (design §7): S is a plain value type; an event E is a plain struct
// with `static constexpr std::string_view kType` (a valid type name), an
// optional `static constexpr int kSchemaVersion` (default 1), an optional
// `using Codec = ...` (default JsonCodec, see codec.h), and applies to S by a
// member `void ApplyTo(S&) const` or a free `S Apply(S, const E&)` found by ADL.
// Applying is total: validate in the command handler before appending.
//
// Append does not change state or version: Save (AggregateStore) writes the
// pending events, then applies them and advances the version.
//
// Thread safety: an Aggregate<S> value belongs to one thread at a time (load,
// change, save); copies are independent.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "estoria/codec.h"
#include "estoria/event.h"
#include "estoria/status.h"
#include "estoria/type_id.h"

namespace estoria {

// An event type usable with aggregates: names its type string.
template <typename E>
concept AggregateEvent = requires {
  { E::kType } -> std::convertible_to<std::string_view>;
};

// E applies to S through a member ApplyTo(S&) or a free Apply(S, const E&).
template <typename S, typename E>
concept AppliesTo = requires(const E& e, S& s) {
  e.ApplyTo(s);
}
|| requires(S s, const E& e) {
  { Apply(std::move(s), e) } -> std::convertible_to<S>;
};

// Applies one typed event to a state (member ApplyTo preferred).
template <typename S, typename E>
requires AppliesTo<S, E>
void ApplyEventTo(S& state, const E& event) {
  if constexpr (requires { event.ApplyTo(state); }) {
    event.ApplyTo(state);
  } else {
    state = Apply(std::move(state), event);
  }
}

// An encoded payload: bytes plus the content type of the codec that wrote them.
struct EncodedPayload {
  std::string content_type;
  std::string data;
};

// An event appended to an aggregate but not saved yet.
template <typename S>
struct PendingEvent {
  std::string type;        // E::kType
  int schema_version = 1;  // SchemaVersionOf<E>()
  Metadata metadata;       // caller metadata; "estoria." keys are rejected by Save
  std::optional<Uuid> id;  // optional id for idempotent appends (see WritableEvent)
  // Encodes the typed event with its codec.
  std::function<Result<EncodedPayload>()> encode;
  // Applies the typed event to a state (may throw if user code throws).
  std::function<void(S&)> apply;
};

namespace internal {
class AggregateAccess;
}

template <typename S>
class Aggregate {
 public:
  using State = S;

  Aggregate() = default;
  // A new aggregate (version 0) with the given id and initial state.
  explicit Aggregate(TypeId id, S state = S{}) : id_(std::move(id)), state_(std::move(state)) {}

  const TypeId& id() const { return id_; }
  // The stream version of the last applied event (0 for a new aggregate).
  int64_t version() const { return version_; }
  const S& state() const { return state_; }
  // Commit time of the last applied event; zero when unknown (new aggregate).
  Timestamp last_event_time() const { return last_event_time_; }

  const std::vector<PendingEvent<S>>& pending_events() const { return pending_; }
  // Mutable access for hooks (e.g. stamping metadata before a save).
  std::vector<PendingEvent<S>>& mutable_pending_events() { return pending_; }
  bool has_pending_events() const { return !pending_.empty(); }

  // Queues events to be written by the next Save.
  template <typename... E>
  requires(sizeof...(E) > 0 && (AggregateEvent<E> && ...) && (AppliesTo<S, E> && ...)) void Append(E... events) {
    (AppendWithMetadata(std::move(events), Metadata{}), ...);
  }

  // Queues one event with metadata ("estoria." keys are rejected at Save).
  template <typename E>
  requires AggregateEvent<E> && AppliesTo<S, E>
  void AppendWithMetadata(E event, Metadata metadata) {
    auto shared = std::make_shared<const E>(std::move(event));
    PendingEvent<S> p;
    p.type = std::string(E::kType);
    p.schema_version = SchemaVersionOf<E>();
    p.metadata = std::move(metadata);
    p.encode = [shared]() -> Result<EncodedPayload> {
      using C = CodecFor<E>;
      auto data = C::template Encode<E>(*shared);
      if (!data) return data.error();
      return EncodedPayload{std::string(C::kContentType), std::move(data).value()};
    };
    p.apply = [shared](S& state) { ApplyEventTo(state, *shared); };
    pending_.push_back(std::move(p));
  }

  // Sets each key on every pending event (overwriting a key already present).
  void MergeEventMetadata(const Metadata& metadata) {
    for (auto& p : pending_) {
      for (const auto& [k, v] : metadata) p.metadata[k] = v;
    }
  }

  // Drops the pending events.
  void DiscardPendingEvents() { pending_.clear(); }

 private:
  friend class internal::AggregateAccess;
  TypeId id_;
  int64_t version_ = 0;
  S state_{};
  Timestamp last_event_time_{};
  std::vector<PendingEvent<S>> pending_;
};

namespace internal {
// Mutators for aggregate store implementations (EventSourcedStore, decorators,
// third-party stores). Not for application code.
class AggregateAccess {
 public:
  template <typename S>
  static S& MutableState(Aggregate<S>& a) {
    return a.state_;
  }
  template <typename S>
  static void SetVersion(Aggregate<S>& a, int64_t version, Timestamp last_event_time) {
    a.version_ = version;
    a.last_event_time_ = last_event_time;
  }
  // A loaded aggregate at `version` with `state` (e.g. from a snapshot).
  template <typename S>
  static Aggregate<S> Restore(TypeId id, int64_t version, S state, Timestamp last_event_time) {
    Aggregate<S> a(std::move(id), std::move(state));
    a.version_ = version;
    a.last_event_time_ = last_event_time;
    return a;
  }
};
}  // namespace internal

}  // namespace estoria
