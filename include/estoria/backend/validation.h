// estoria/backend/validation.h: argument validation, expectation checks and
// idempotency classification shared by every backend (the backend SDK; users of
// the library do not need this header). A backend calls these so that every
// backend rejects the same inputs with the same InvalidArgument text and
// reports conflicts and idempotent retries alike; the conformance kit
// (estoria/testing/conformance.h) checks that it does.
//
// Thread safety: every function is safe to call from many threads at once.
// ValidateAppend must be called on the thread that called AppendStream (the
// library's own layers mark, per thread, the appends allowed to carry reserved
// "estoria." metadata keys).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "estoria/checkpoint_store.h"
#include "estoria/event_store.h"
#include "estoria/snapshot_store.h"

namespace estoria::backend {

// Validates an append's arguments. OK, or InvalidArgument naming the problem:
// invalid stream id, no events, both expectation kinds, a negative expected
// version, an invalid event type, a duplicate event id within the append, a
// metadata key or value that is not valid UTF-8 (ValidateMetadataText), a
// metadata key with the reserved "estoria." prefix (allowed only on appends made
// by the library's own layers, e.g. EventSourcedStore's schema version), or an
// event over `limits` (CheckEventSize). A backend calls it before writing
// anything, with the limits it was configured with.
Status ValidateAppend(const TypeId& stream_id, std::span<const WritableEvent> events, const AppendOptions& options,
                      const EventLimits& limits);
// An event's size against `limits` (see EventLimits in event_store.h). OK, or
// InvalidArgument "<where>: data of N bytes exceeds max_event_data_bytes (L)"
// (or "metadata of N bytes exceeds max_event_metadata_bytes (L)").
Status CheckEventSize(std::string_view where, const std::string& data, const Metadata& metadata,
                      const EventLimits& limits);
// Validates configured limits (a backend's Open): each must be in
// [1, physical_max], the most the backend can store. OK, or InvalidArgument
// "<what>: max_event_data_bytes N is outside [1, physical_max]" (same for
// metadata).
Status ValidateEventLimits(std::string_view what, const EventLimits& limits, int64_t physical_max);
// Metadata keys and values must be valid UTF-8 (NUL allowed; see IsValidUtf8 in
// json_codec.h), so that every stored event has a JSON form. OK, or
// InvalidArgument "<where>: metadata key \"<key>\" is not valid UTF-8" (bytes
// that are not UTF-8 shown as \xNN) or "<where>: metadata value of \"<key>\" is
// not valid UTF-8".
Status ValidateMetadataText(const Metadata& metadata, std::string_view where);
// Validates read options. OK or InvalidArgument.
Status ValidateReadStream(const TypeId& stream_id, const ReadStreamOptions& options);
Status ValidateReadAll(const ReadAllOptions& options);

// Checks an expectation against the stream's current state; OK or a Conflict
// carrying ConflictDetails. `exists` is false for a stream never written or fully
// deleted; `version` is its tip version (0 when it does not exist).
Status CheckExpectation(const TypeId& stream_id, const AppendOptions& options, bool exists, int64_t version);

// Where an event id is already stored.
struct StoredEventLocation {
  TypeId stream_id{};
  int64_t stream_version = 0;
};

// Classifies an append whose events carry caller-chosen ids, given where each id
// is already stored (nullopt = not stored). Returns OK when none is stored (go
// ahead), AlreadyExists when all are stored in this stream at consecutive
// versions in this order and any expect_version names the version before the
// first of them (an idempotent retry), InvalidArgument otherwise (an id reused).
Status ClassifyStoredIds(const TypeId& stream_id, std::span<const WritableEvent> events, const AppendOptions& options,
                         std::span<const std::optional<StoredEventLocation>> stored);

// Store-specific validation: OK or InvalidArgument naming the problem. Names
// (checkpoint and projection names) are any bytes but must be non-empty and
// hold no NUL byte (PostgreSQL text cannot store one: it would be cut there).
Status ValidateSnapshot(const Snapshot& snapshot);                                   // id type, version >= 1
Status ValidateCheckpoint(std::string_view name, int64_t position);                  // name, position >= 0
Status ValidateDeadLetterKey(std::string_view projection, int64_t global_position);  // name, position >= 1
Status ValidateProjectionName(std::string_view name);                                // name (version registries)

// Validates a name a backend splices into SQL as an identifier (a schema or
// table name): OK when it matches [a-z_][a-z0-9_]* and has 1 to max_bytes bytes
// (PostgreSQL truncates identifiers beyond 63). Otherwise InvalidArgument naming
// `what` (e.g. "PostgreSQL schema name"), the value as given (bytes outside
// printable ASCII shown as \xNN, long values shortened) and the rule it breaks:
// empty, too long, a leading digit, or a character outside [a-z0-9_]. Lower
// case only, so that the name means the same quoted or unquoted.
Status ValidateSqlIdentifier(std::string_view what, std::string_view name, size_t max_bytes);

}  // namespace estoria::backend
