// The backend SDK's dead-letter row form (estoria/backend/dead_letter_row.h).
#include "estoria/backend/dead_letter_row.h"

#include "estoria/backend/json_codec.h"
#include "estoria/backend/validation.h"

namespace estoria::backend {

Result<DeadLetterRow> ToDeadLetterRow(const DeadLetter& l) {
  ESTORIA_RETURN_IF_ERROR(ValidateDeadLetterKey(l.projection, l.event.global_position));
  DeadLetterRow r;
  ESTORIA_ASSIGN_OR_RETURN(r.metadata, EncodeMetadataJson(l.event.metadata));
  r.global_position = l.event.global_position;
  r.event_id = l.event.id.ToString();
  r.stream_id = l.event.stream_id.ToString();
  r.stream_version = l.event.stream_version;
  r.timestamp_us = l.event.timestamp.time_since_epoch().count();
  r.content_type = l.event.content_type;
  r.data = l.event.data;
  r.error = l.error;
  r.attempts = l.attempts;
  r.parked_at_us = l.parked_at.time_since_epoch().count();
  return r;
}

Result<DeadLetter> FromDeadLetterRow(std::string_view projection, const DeadLetterRow& r) {
  DeadLetter l;
  l.projection = std::string(projection);
  l.event.global_position = r.global_position;
  auto id = TypeId::Parse(r.event_id);
  if (!id) return Status::Corruption("dead letter: bad event id: " + id.error().message());
  l.event.id = *std::move(id);
  auto stream = TypeId::Parse(r.stream_id);
  if (!stream) return Status::Corruption("dead letter: bad stream id: " + stream.error().message());
  l.event.stream_id = *std::move(stream);
  l.event.stream_version = r.stream_version;
  l.event.timestamp = Timestamp(std::chrono::microseconds(r.timestamp_us));
  l.event.content_type = r.content_type;
  l.event.data = r.data;
  auto metadata = DecodeMetadataJson(r.metadata);
  if (!metadata) return Status::Corruption("dead letter: " + metadata.error().message());
  l.event.metadata = *std::move(metadata);
  l.error = r.error;
  l.attempts = static_cast<int>(r.attempts);
  l.parked_at = Timestamp(std::chrono::microseconds(r.parked_at_us));
  return l;
}

}  // namespace estoria::backend
