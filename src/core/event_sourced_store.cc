// Non-template helpers of EventSourcedStore and LoadOptions.
#include "estoria/event_sourced_store.h"

#include "estoria/backend/validation.h"
#include "reserved_metadata.h"

namespace estoria {

Status ValidateLoadOptions(const LoadOptions& options) {
  if (options.to_version < 0) {
    return Status::InvalidArgument("load: negative to_version " + std::to_string(options.to_version));
  }
  if (options.min_version < 0) {
    return Status::InvalidArgument("load: negative min_version " + std::to_string(options.min_version));
  }
  return Status::Ok();
}

namespace internal {

Status ValidateStoreSettings(const EventStore* events, std::string_view aggregate_type) {
  if (events == nullptr) return Status::InvalidArgument("aggregate store: null event store");
  Status st = TypeId::ValidateTypeName(aggregate_type);
  if (!st.ok()) return st.WithContext("aggregate store: aggregate type");
  return Status::Ok();
}

Status CheckAggregateId(const TypeId& id, std::string_view aggregate_type) {
  if (id.type() != aggregate_type) {
    return Status::InvalidArgument("aggregate " + id.ToString() + " is not of type " + std::string(aggregate_type));
  }
  if (id.uuid().IsNil()) return Status::InvalidArgument("aggregate " + id.ToString() + ": nil id");
  return Status::Ok();
}

Result<WritableEvent> MakeWritableEvent(const TypeId& stream, std::string type, int schema_version,
                                        const Metadata& metadata, const std::optional<Uuid>& id,
                                        EncodedPayload payload) {
  WritableEvent w;
  for (const auto& [key, value] : metadata) {
    if (key.rfind(kReservedMetadataPrefix, 0) == 0) {
      return Status::InvalidArgument("save " + stream.ToString() + ": event " + type + ": metadata key \"" + key +
                                     "\" uses the reserved prefix \"" + std::string(kReservedMetadataPrefix) + "\"");
    }
  }
  w.type = std::move(type);
  w.id = id;
  w.data = std::move(payload.data);
  w.content_type = std::move(payload.content_type);
  w.metadata = metadata;
  w.metadata[std::string(kSchemaVersionMetadataKey)] = std::to_string(schema_version);
  return w;
}

Result<std::vector<Event>> AppendPending(EventStore& events, const TypeId& stream, std::span<const WritableEvent> out,
                                         int64_t expect_version) {
  AllowReservedMetadata allow;  // the events carry estoria.schema_version
  return events.AppendStream(stream, out, AppendOptions::ExpectVersion(expect_version));
}

Status ValidatePending(const TypeId& stream, std::span<const WritableEvent> out, const EventLimits& limits) {
  AllowReservedMetadata allow;  // the events carry estoria.schema_version
  return backend::ValidateAppend(stream, out, AppendOptions{}, limits);
}

Status VersionGap(const TypeId& stream, int64_t expected, int64_t got) {
  return Status::FailedPrecondition("load " + stream.ToString() + ": expected version " + std::to_string(expected) +
                                    " but the stream continues at version " + std::to_string(got) +
                                    " (truncated stream: load it from a snapshot)");
}

Status UnknownEventType(const TypeId& stream, int64_t version, std::string_view type) {
  return Status::Corruption("load " + stream.ToString() + ": unknown event type \"" + std::string(type) +
                            "\" at version " + std::to_string(version) +
                            " (register it with the store, add an upcaster, or set skip_unknown_event_types)");
}

Status EventContext(const Status& st, const Event& event) {
  return st.WithContext("load " + event.stream_id.ToString() + " version " + std::to_string(event.stream_version) +
                        " (" + event.type() + ")");
}

Status UserException(std::string_view what, const Event* event, const char* message) {
  std::string text = std::string(what) + " threw ";
  text += message ? std::string("an exception: ") + message : std::string("an unknown exception");
  if (event != nullptr) {
    text = event->stream_id.ToString() + " version " + std::to_string(event->stream_version) + " (" + event->type() +
           "): " + text;
  }
  return Status::Internal(text);
}

Status NoEventsToLoad(const TypeId& stream, const LoadOptions& options) {
  if (options.to_time) {
    return Status::NotFound("load " + stream.ToString() + ": no event at or before " +
                            FormatTimestamp(*options.to_time));
  }
  return Status::NotFound("load " + stream.ToString() + ": the stream has no events");
}

}  // namespace internal
}  // namespace estoria
