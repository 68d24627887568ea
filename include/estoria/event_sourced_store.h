// estoria/event_sourced_store.h: EventSourcedStore<S, Events...>, the
// AggregateStore that keeps each aggregate as one event stream
// ("<aggregate_type>_<uuid>") in an EventStore and rebuilds it by replaying.
//
//   estoria::EventSourcedStore<Account, Opened, BalanceChanged> accounts(events, "account");
//
// Every event type the aggregate may contain is listed once (see aggregate.h for
// what an event type declares). Save writes each event with its codec's content
// type, the caller's metadata, and its schema version under the reserved key
// "estoria.schema_version". Load decodes each stored event with the codec of its
// registered type, after the upcaster chain (upcaster.h) has brought older
// schema versions to the registered one.
//
// Thread safety: safe for concurrent use from many threads (the store holds no
// mutable state besides atomic counters); each Aggregate<S> belongs to one
// thread at a time.
#pragma once

#include <atomic>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "estoria/aggregate.h"
#include "estoria/aggregate_store.h"
#include "estoria/codec.h"
#include "estoria/event_store.h"
#include "estoria/logger.h"
#include "estoria/upcaster.h"

namespace estoria {

struct EventSourcedStoreOptions {
  // Upcasters for older event schema versions. Default: none.
  UpcasterRegistry upcasters = {};
  // When true, events of types not registered with the store (after upcasting)
  // advance the version without changing the state; when false (default) they
  // fail the load with Corruption naming the type and the stream.
  bool skip_unknown_event_types = false;
  // Where skipped events are reported (debug level). Default: StderrLogger().
  std::shared_ptr<Logger> logger = nullptr;
};

namespace internal {
// Non-template helpers of EventSourcedStore (event_sourced_store.cc).
Status ValidateStoreSettings(const EventStore* events, std::string_view aggregate_type);
Status CheckAggregateId(const TypeId& id, std::string_view aggregate_type);
// A WritableEvent for a pending event; InvalidArgument for reserved keys.
Result<WritableEvent> MakeWritableEvent(const TypeId& stream, std::string type, int schema_version,
                                        const Metadata& metadata, const std::optional<Uuid>& id,
                                        EncodedPayload payload);
// Appends the pending events (which carry the reserved estoria.schema_version
// key) through the library's internal append path.
Result<std::vector<Event>> AppendPending(EventStore& events, const TypeId& stream, std::span<const WritableEvent> out,
                                         int64_t expect_version);
// Validates pending events as AppendPending's append to a store with `limits`
// will (OK or InvalidArgument).
Status ValidatePending(const TypeId& stream, std::span<const WritableEvent> out, const EventLimits& limits);
Status VersionGap(const TypeId& stream, int64_t expected, int64_t got);
Status UnknownEventType(const TypeId& stream, int64_t version, std::string_view type);
Status EventContext(const Status& st, const Event& event);
Status UserException(std::string_view what, const Event* event, const char* message);
Status NoEventsToLoad(const TypeId& stream, const LoadOptions& options);
}  // namespace internal

template <typename S, typename... Events>
class EventSourcedStore final : public AggregateStore<S> {
  static_assert(sizeof...(Events) > 0, "register at least one event type");
  static_assert((AggregateEvent<Events> && ...), "each event type needs static constexpr std::string_view kType");
  static_assert((AppliesTo<S, Events> && ...), "each event needs ApplyTo(S&) const or a free S Apply(S, const E&)");

 public:
  // `events` must not be null; `aggregate_type` must be a valid type name.
  // Invalid settings make every operation return InvalidArgument.
  EventSourcedStore(std::shared_ptr<EventStore> events, std::string aggregate_type,
                    EventSourcedStoreOptions options = {})
      : events_(std::move(events)), type_(std::move(aggregate_type)), options_(std::move(options)) {
    if (!options_.logger) options_.logger = StderrLogger();
    init_ = internal::ValidateStoreSettings(events_.get(), type_);
    if (init_.ok()) init_ = options_.upcasters.status();
    (Register<Events>(), ...);
  }

  static std::shared_ptr<EventSourcedStore> Create(std::shared_ptr<EventStore> events, std::string aggregate_type,
                                                   EventSourcedStoreOptions options = {}) {
    return std::make_shared<EventSourcedStore>(std::move(events), std::move(aggregate_type), std::move(options));
  }

  using AggregateStore<S>::New;
  const std::string& aggregate_type() const override { return type_; }
  std::shared_ptr<EventStore> event_store() override { return events_; }

  Result<Aggregate<S>> New(const Uuid& id) override {
    ESTORIA_RETURN_IF_ERROR(init_);
    if (id.IsNil()) return Status::InvalidArgument("new " + type_ + ": nil id");
    return Aggregate<S>(TypeId(type_, id));
  }

  Result<Aggregate<S>> Load(const Uuid& id, const LoadOptions& options = {}) override {
    ESTORIA_RETURN_IF_ERROR(init_);
    ESTORIA_RETURN_IF_ERROR(ValidateLoadOptions(options));
    Aggregate<S> aggregate(TypeId(type_, id));
    ESTORIA_RETURN_IF_ERROR(Replay(aggregate, options));
    if (aggregate.version() == 0) return internal::NoEventsToLoad(aggregate.id(), options);
    return aggregate;
  }

  Status Hydrate(Aggregate<S>& aggregate, const HydrateOptions& options = {}) override {
    ESTORIA_RETURN_IF_ERROR(init_);
    ESTORIA_RETURN_IF_ERROR(ValidateLoadOptions(options));
    ESTORIA_RETURN_IF_ERROR(internal::CheckAggregateId(aggregate.id(), type_));
    if (aggregate.has_pending_events()) {
      return Status::FailedPrecondition("hydrate " + aggregate.id().ToString() + ": the aggregate has " +
                                        std::to_string(aggregate.pending_events().size()) + " unsaved events");
    }
    if (options.to_version != 0 && options.to_version < aggregate.version()) {
      return Status::InvalidArgument("hydrate " + aggregate.id().ToString() + ": to_version " +
                                     std::to_string(options.to_version) + " is below the aggregate's version " +
                                     std::to_string(aggregate.version()));
    }
    return Replay(aggregate, options);
  }

  Status Save(Aggregate<S>& aggregate) override {
    ESTORIA_RETURN_IF_ERROR(init_);
    ESTORIA_RETURN_IF_ERROR(internal::CheckAggregateId(aggregate.id(), type_));
    const auto& pending = aggregate.pending_events();
    if (pending.empty()) return Status::Ok();
    std::vector<WritableEvent> out;
    out.reserve(pending.size());
    for (const auto& p : pending) {
      auto entry = entries_.find(p.type);
      if (entry == entries_.end() || entry->second.schema_version != p.schema_version) {
        return Status::InvalidArgument("save " + aggregate.id().ToString() + ": event type " + p.type +
                                       " (schema version " + std::to_string(p.schema_version) +
                                       ") is not registered with this store");
      }
      if (!p.encode) return Status::InvalidArgument("save " + aggregate.id().ToString() + ": event without encoder");
      auto payload = p.encode();
      if (!payload) return payload.error().WithContext("save " + aggregate.id().ToString() + ": encode " + p.type);
      ESTORIA_ASSIGN_OR_RETURN(WritableEvent w,
                               internal::MakeWritableEvent(aggregate.id(), p.type, p.schema_version, p.metadata, p.id,
                                                           std::move(payload).value()));
      out.push_back(std::move(w));
    }
    auto appended = internal::AppendPending(*events_, aggregate.id(), out, aggregate.version());
    if (!appended) return appended.error();  // nothing written: the aggregate is unchanged
    S next = aggregate.state();
    for (size_t i = 0; i < pending.size(); ++i) {
      try {
        pending[i].apply(next);
      } catch (const std::exception& e) {
        return internal::UserException("apply", &(*appended)[i], e.what()).MarkEventsAppended();
      } catch (...) {
        return internal::UserException("apply", &(*appended)[i], nullptr).MarkEventsAppended();
      }
    }
    internal::AggregateAccess::MutableState(aggregate) = std::move(next);
    internal::AggregateAccess::SetVersion(aggregate, appended->back().stream_version, appended->back().timestamp);
    aggregate.DiscardPendingEvents();
    return Status::Ok();
  }

  // Number of stored events applied by Load and Hydrate since construction.
  int64_t events_replayed() const { return replayed_.load(std::memory_order_relaxed); }

  // This store's upcasting (its upcasters and the schema version of each
  // registered event type), for folds over its streams that must see events as
  // Load decodes them: FoldStream(events, id, handler, {.upcasting = &u}).
  // Safe to call from many threads.
  EventUpcasting upcasting() const {
    EventUpcasting u{options_.upcasters, {}};
    for (const auto& [type, entry] : entries_) u.current_versions.emplace(type, entry.schema_version);
    return u;
  }

 private:
  struct Entry {
    int schema_version = 1;
    Status (*apply)(S& state, std::string_view content_type, std::string_view data) = nullptr;
  };

  template <typename E>
  static Status DecodeAndApply(S& state, std::string_view content_type, std::string_view data) {
    auto decoded = CodecFor<E>::template Decode<E>(content_type, data);
    if (!decoded) return decoded.error();
    ApplyEventTo(state, *decoded);
    return Status::Ok();
  }

  template <typename E>
  void Register() {
    std::string type(E::kType);
    Status st = TypeId::ValidateTypeName(type);
    if (!st.ok()) {
      if (init_.ok()) init_ = st.WithContext("event type of " + type_);
      return;
    }
    if (!entries_.emplace(type, Entry{SchemaVersionOf<E>(), &DecodeAndApply<E>}).second && init_.ok()) {
      init_ = Status::InvalidArgument("event type " + type + " registered twice with " + type_);
    }
  }

  // Decodes one stored event (through the upcasters when needed) and applies it.
  Status ApplyStored(S& state, const Event& event) {
    auto stored_version = internal::StoredSchemaVersion(event.metadata);
    if (!stored_version) return internal::EventContext(stored_version.error(), event);
    auto entry = entries_.find(event.type());
    try {
      if (entry != entries_.end() && entry->second.schema_version == *stored_version) {
        Status st = entry->second.apply(state, event.content_type, event.data);
        return st.ok() ? st : internal::EventContext(st, event);
      }
      UpcastEvent up{event.type(), *stored_version, event.content_type, event.data, event.metadata};
      bool known = true;
      Status st = options_.upcasters.UpcastToCurrent(
          up,
          [this](std::string_view type) {
            auto it = entries_.find(type);
            return it == entries_.end() ? 0 : it->second.schema_version;
          },
          &known);
      if (!st.ok()) return internal::EventContext(st, event);
      if (!known) {
        if (!options_.skip_unknown_event_types) {
          return internal::UnknownEventType(event.stream_id, event.stream_version, up.type);
        }
        options_.logger->Log(
            LogLevel::kDebug,
            internal::UnknownEventType(event.stream_id, event.stream_version, up.type).message() + " (skipped)");
        return Status::Ok();
      }
      st = entries_.find(up.type)->second.apply(state, up.content_type, up.data);
      return st.ok() ? st : internal::EventContext(st, event);
    } catch (const std::exception& e) {
      return internal::UserException("apply", &event, e.what());
    } catch (...) {
      return internal::UserException("apply", &event, nullptr);
    }
  }

  // Applies the stored events after aggregate.version() within the bounds.
  Status Replay(Aggregate<S>& aggregate, const LoadOptions& options) {
    int64_t version = aggregate.version();
    if (options.to_version != 0 && options.to_version <= version) return Status::Ok();
    ReadStreamOptions read;
    read.after_version = version;
    if (options.to_version != 0) read.count = options.to_version - version;
    auto it = events_->ReadStream(aggregate.id(), read);
    if (!it) return it.error().WithContext("load " + aggregate.id().ToString());
    S& state = internal::AggregateAccess::MutableState(aggregate);
    Timestamp last = aggregate.last_event_time();
    int64_t applied = 0;
    Status result;
    for (;;) {
      auto next = (*it)->Next();
      if (!next) {
        result = next.error().WithContext("load " + aggregate.id().ToString());
        break;
      }
      if (!next->has_value()) break;
      const Event& event = **next;
      if (options.to_time && event.timestamp > *options.to_time) break;
      if (event.stream_version != version + 1) {
        result = internal::VersionGap(aggregate.id(), version + 1, event.stream_version);
        break;
      }
      result = ApplyStored(state, event);
      if (!result.ok()) break;
      version = event.stream_version;
      last = event.timestamp;
      ++applied;
    }
    replayed_.fetch_add(applied, std::memory_order_relaxed);
    internal::AggregateAccess::SetVersion(aggregate, version, last);
    return result;
  }

  std::shared_ptr<EventStore> events_;
  std::string type_;
  EventSourcedStoreOptions options_;
  Status init_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::atomic<int64_t> replayed_{0};
};

}  // namespace estoria
