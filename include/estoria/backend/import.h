// estoria/backend/import.h: import validation and planning for
// EventImporter::ImportEvents (backend SDK). One implementation for every
// backend, so that all of them accept and refuse the same imports with the same
// statuses.
//
// A backend's ImportEvents: (1) ValidateImportEvents before touching the store;
// (2) under whatever makes the import atomic (a lock, a transaction), describe
// the target with an ImportTarget and call PlanImport; (3) write every event at
// plan.positions[i], creating a stream row where plan.new_stream[i] is set.
//
// Thread safety: pure functions; the ImportTarget callbacks are called on the
// calling thread only, during the call.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "estoria/event_store.h"

namespace estoria::backend {

// Checks the events on their own: valid stream ids and event types, stream
// versions >= 1, metadata that is valid UTF-8 (ValidateMetadataText), data and
// metadata within `limits` (CheckEventSize, the message names the event's
// index). OK or InvalidArgument ("ImportEvents: ...").
Status ValidateImportEvents(std::span<const Event> events, const EventLimits& limits);

// What PlanImport needs to know of the target store.
struct ImportTarget {
  // The highest global position in use (the log's head).
  int64_t head = 0;
  // The tip version of a stream (by TypeId::ToString()) that exists in the
  // target; nullopt when the stream is new there. Asked once per stream.
  std::function<Result<std::optional<int64_t>>(const std::string& stream)> stream_tip;
  // True when an event id is already stored in the target.
  std::function<Result<bool>(const Uuid& id)> id_stored;
};

struct ImportPlan {
  std::vector<int64_t> positions;  // the global position of each event, in order
  std::vector<bool> new_stream;    // true for the first event of a stream new to the target
  int64_t head = 0;                // the head once the import is written
};

// Plans an import in order, all or none. Errors:
//  AlreadyExists    an event id is stored in the target or repeated in the batch
//  InvalidArgument  a version that does not continue its stream's tip (a stream
//                   new to the target may start at any version >= 1); with
//                   preserve_positions, a position not above the previous one
//                   or the head
//  and whatever the ImportTarget callbacks return.
Result<ImportPlan> PlanImport(std::span<const Event> events, const ImportOptions& options, const ImportTarget& target);

}  // namespace estoria::backend
