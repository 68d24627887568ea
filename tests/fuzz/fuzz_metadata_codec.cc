// Fuzz target: the metadata and row codecs every backend shares, and what a
// store accepts as metadata:
//  - backend::DecodeMetadataJson / EncodeMetadataJson (stored metadata JSON);
//  - backend::ToDeadLetterRow / FromDeadLetterRow (the dead-letter row form);
//  - JsonCodec::Decode / Encode (payload codecs, src/core/codec.cc);
//  - the reserved "estoria." metadata scope (src/core/reserved_metadata.cc);
//  - MemoryEventStore appends and imports with arbitrary metadata bytes.
// Invariants: no crash and no exception; refusals are InvalidArgument
// (encoding) or Corruption (decoding stored bytes); round trips are exact; and
// every event a store accepted has a JSON form (export) and a dead-letter row.
#include <nlohmann/json.hpp>

#include "estoria/backend/dead_letter_row.h"
#include "estoria/backend/json_codec.h"
#include "estoria/backend/validation.h"
#include "estoria/codec.h"
#include "estoria/memory/memory_event_store.h"
#include "fuzz_util.h"
#include "reserved_metadata.h"

using namespace estoria;

namespace {

void CheckMetadataJson(std::string_view json) {
  auto decoded = backend::DecodeMetadataJson(json);
  if (!decoded) {
    FUZZ_CHECK(decoded.error().IsInvalidArgument());
    return;
  }
  auto encoded = backend::EncodeMetadataJson(*decoded);
  FUZZ_CHECK_MSG(encoded.has_value(), encoded.error().ToString());
  auto again = backend::DecodeMetadataJson(*encoded);
  FUZZ_CHECK(again.has_value() && *again == *decoded);
}

void CheckPayloadCodec(std::string_view content_type, std::string_view data) {
  auto value = JsonCodec::Decode<nlohmann::json>(content_type, data);
  if (!value) {
    FUZZ_CHECK(value.error().IsCorruption());
  } else {
    auto encoded = JsonCodec::Encode(*value);
    FUZZ_CHECK_MSG(encoded.has_value(), encoded.error().ToString());
  }
  // Any bytes as a string value: encodes, or InvalidArgument (not UTF-8).
  auto encoded = JsonCodec::Encode(std::string(data));
  FUZZ_CHECK(encoded.has_value() ? backend::IsValidUtf8(data) : encoded.error().IsInvalidArgument());
  auto bytes = BytesCodec::Decode<std::string>(content_type, data);
  FUZZ_CHECK(bytes.has_value() ? *bytes == data : bytes.error().IsCorruption());
}

void CheckDeadLetter(const Event& event, std::string_view error) {
  DeadLetter letter;
  letter.projection = "fuzz";
  letter.event = event;
  letter.error = std::string(error);
  letter.attempts = 3;
  letter.parked_at = Timestamp(std::chrono::microseconds(1700000000000000));
  auto row = backend::ToDeadLetterRow(letter);
  if (!row) {
    FUZZ_CHECK(row.error().IsInvalidArgument());
    return;
  }
  auto back = backend::FromDeadLetterRow("fuzz", *row);
  FUZZ_CHECK_MSG(back.has_value(), back.error().ToString());
  FUZZ_CHECK(*back == letter);
}

// A stored row made of arbitrary columns: decodes or is Corruption.
void CheckStoredRow(fuzz::FuzzInput& in) {
  backend::DeadLetterRow row;
  row.global_position = in.Int64();
  row.event_id = std::string(in.Next());
  row.stream_id = std::string(in.Next());
  row.stream_version = in.Int64();
  row.timestamp_us = in.Int64();
  row.content_type = std::string(in.Next());
  row.data = std::string(in.Next());
  row.metadata = std::string(in.Next());
  row.error = std::string(in.Next());
  row.attempts = in.Int64();
  row.parked_at_us = in.Int64();
  auto letter = backend::FromDeadLetterRow("fuzz", row);
  if (!letter) FUZZ_CHECK(letter.error().IsCorruption());
}

// Appends one event with this metadata to a memory store: OK or
// InvalidArgument; an accepted event reads back with a JSON form and a
// dead-letter row, as it would on every other backend.
void CheckStoreAccepts(const Metadata& metadata, std::string_view content_type, bool reserved_scope) {
  auto store = memory::MemoryEventStore::Open().value();
  TypeId stream = TypeId::New("fuzz").value();
  WritableEvent w;
  w.type = "fuzzed";
  w.content_type = std::string(content_type);
  w.data = "{}";
  w.metadata = metadata;
  Result<std::vector<Event>> appended = Status::Internal("not run");
  if (reserved_scope) {
    internal::AllowReservedMetadata allow;
    appended = store->AppendStream(stream, {&w, 1});
  } else {
    appended = store->AppendStream(stream, {&w, 1});
  }
  if (!appended) {
    FUZZ_CHECK_MSG(appended.error().IsInvalidArgument(), appended.error().ToString());
  } else {
    auto it = store->ReadStream(stream).value();
    auto events = Collect(*it).value();
    FUZZ_CHECK(events.size() == 1 && events[0].metadata == metadata);
    auto line = backend::EventToJsonLine(events[0]);
    FUZZ_CHECK_MSG(line.has_value() || !backend::IsValidUtf8(content_type), line.error().ToString());
    CheckDeadLetter(events[0], "handler failed");
  }
  // Outside the scope, reserved keys are refused.
  bool has_reserved = false;
  for (const auto& [k, v] : metadata) has_reserved = has_reserved || k.starts_with(kReservedMetadataPrefix);
  if (has_reserved && !reserved_scope) FUZZ_CHECK(!appended.has_value());

  // The same event imported: the same rule.
  Event e;
  e.id = TypeId("fuzzed", Uuid::NewV7());
  e.stream_id = stream;
  e.stream_version = 1;
  e.global_position = 1;
  e.timestamp = Now();
  e.content_type = std::string(content_type);
  e.data = "{}";
  e.metadata = metadata;
  auto imported = memory::MemoryEventStore::Open().value()->ImportEvents({&e, 1});
  if (!imported) {
    FUZZ_CHECK_MSG(imported.error().IsInvalidArgument(), imported.error().ToString());
  } else {
    auto line = backend::EventToJsonLine(e);
    FUZZ_CHECK_MSG(line.has_value() || !backend::IsValidUtf8(content_type), line.error().ToString());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  const uint8_t mode = in.Byte();
  switch (mode % 4) {
    case 0:
      CheckMetadataJson(in.rest());
      break;
    case 1: {
      std::string_view content_type = in.Next();
      CheckPayloadCodec(content_type, in.rest());
      break;
    }
    case 2:
      CheckStoredRow(in);
      break;
    case 3: {
      // Fields: content type, then key, value, key, value, ...
      std::string_view content_type = in.Next();
      Metadata metadata;
      while (!in.empty()) {
        std::string key(in.Next());
        metadata[key] = std::string(in.Next());
      }
      CheckStoreAccepts(metadata, content_type, (mode & 0x80) != 0);
      Event e;
      e.id = TypeId("fuzzed", Uuid::NewV7());
      e.stream_id = TypeId("fuzz", Uuid::NewV7());
      e.stream_version = 1;
      e.global_position = 1;
      e.content_type = std::string(content_type);
      e.metadata = metadata;
      CheckDeadLetter(e, content_type);
      break;
    }
  }
  return 0;
}
