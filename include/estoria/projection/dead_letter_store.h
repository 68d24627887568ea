// estoria/projection/dead_letter_store.h: DeadLetter (an event a projection could
// not handle, parked so that the projection continues), the DeadLetterStore
// interface and the in-memory implementation. SQLite and PostgreSQL
// implementations live beside their read models (sqlite_read_model.h,
// postgres_read_model.h), whose parked events are written in the same transaction
// as the checkpoint.
//
// Replay requests: an operator (e.g. `estoria dead-letters NAME replay`, in
// another process) cannot run a projection's handler, so it marks parked events
// with RequestReplay; the running Processor of that projection lists them with
// ListReplayRequests on its loop (at most once per poll_interval, when caught
// up) and replays each through its sink exactly like Processor::ReplayParked: on
// success the parked event (and its request) is removed; on failure the event
// stays parked with its error and attempts updated and the request is cleared.
// A request lives as long as its parked event (Discard and a re-Park of the
// same position remove it). The SQL stores keep requests in a separate table
// (created when missing, so existing files need no migration).
//
// Thread safety: every DeadLetterStore implementation is safe for concurrent use
// from many threads. DeadLetter is a plain value.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "estoria/event.h"
#include "estoria/status.h"

namespace estoria {

struct DeadLetter {
  std::string projection;  // the projection (processor) name
  Event event;             // the event as read from the global log
  std::string error;       // the handler's last error, Status::ToString() text
  int attempts = 0;        // how many times the handler was called for it
  Timestamp parked_at{};   // when it was parked (microseconds)
  friend bool operator==(const DeadLetter&, const DeadLetter&) = default;
};

class DeadLetterStore {
 public:
  virtual ~DeadLetterStore() = default;
  // Stores a dead letter; parking the same (projection, position) again replaces
  // it. Errors: InvalidArgument (empty projection name or one with a NUL byte, position < 1),
  // Unavailable, Internal.
  virtual Status Park(const DeadLetter& letter) = 0;
  // The parked events of a projection in ascending global position.
  // Errors: InvalidArgument (empty name, or one with a NUL byte), Unavailable, Internal.
  virtual Result<std::vector<DeadLetter>> List(std::string_view projection) = 0;
  // One parked event. NotFound when absent; InvalidArgument; Unavailable; Internal.
  virtual Result<DeadLetter> Get(std::string_view projection, int64_t global_position) = 0;
  // Removes a parked event (discard, or after a successful replay). NotFound when
  // absent; InvalidArgument; Unavailable; Internal.
  virtual Status Discard(std::string_view projection, int64_t global_position) = 0;

  // Marks one parked event (global_position set) or every parked event of the
  // projection (nullopt) as "replay requested"; requesting again is harmless.
  // Returns how many parked events are now marked by this call. Errors:
  // NotFound (a given position is not parked), InvalidArgument (empty name, a NUL byte,
  // position < 1), Unavailable, Internal; NotSupported by stores that do not
  // implement requests (the default).
  virtual Result<int64_t> RequestReplay(std::string_view projection, std::optional<int64_t> global_position);
  // The positions of parked events with a pending replay request, ascending.
  // Errors: InvalidArgument (empty name, or one with a NUL byte), Unavailable, Internal, NotSupported
  // (the default).
  virtual Result<std::vector<int64_t>> ListReplayRequests(std::string_view projection);
  // Clears a pending request (the event stays parked). OK when there was none.
  // Errors: InvalidArgument, Unavailable, Internal, NotSupported (the default).
  virtual Status ClearReplayRequest(std::string_view projection, int64_t global_position);

  // Records that a processor of `projection` is running: its owner (e.g.
  // "host:pid") and its failure policy (FailurePolicyToString text), replacing
  // the projection's previous record, for operators' tools (`estoria ui` shows
  // it). The Processor calls it each time it becomes active. The SQL stores keep
  // one row per projection with its start time (SQLite
  // estoria_projection_processors, PostgreSQL <schema>.projection_processors,
  // created when missing). Errors: InvalidArgument (empty name, a NUL byte),
  // Unavailable, Internal. The default records nothing and returns OK.
  virtual Status RecordProcessor(std::string_view projection, std::string_view owner, std::string_view failure_policy);
};

}  // namespace estoria
