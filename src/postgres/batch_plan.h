// batch_plan.h (internal): the decisions of one group-commit batch. Given the
// state read (or predicted) under the append lock - the log head, the tip of
// each stream of the batch, where caller-chosen ids are stored - PlanBatch
// decides each append in order with the shared helpers backend::ClassifyStoredIds and
// backend::CheckExpectation, letting later appends see the versions of earlier ones, and
// assigns versions, positions (head+1, ...), ids and one commit timestamp.
// AddWrites turns the accepted appends into the batch's writes.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "estoria/backend/validation.h"
#include "estoria/event_store.h"
#include "estoria/postgres/connection.h"
#include "pg_wire.h"
#include "schema.h"

namespace estoria::postgres::internal {

struct PlannedStream {
  bool exists = false;
  int64_t version = 0;
  int64_t first_position = 0;  // for a stream created by this batch
  bool touched = false;        // written by this batch
};

struct BatchItem {
  const TypeId* stream_id;
  const std::string* stream_key;
  std::span<const WritableEvent> events;
  const AppendOptions* options;
};

struct BatchPlan {
  int64_t head = 0;      // the head before the batch
  int64_t position = 0;  // the head after the batch
  Timestamp timestamp{};
  std::map<std::string, PlannedStream> streams;  // every stream of the batch
  std::vector<std::optional<Result<std::vector<Event>>>> outcomes;
  int64_t accepted = 0;
  int64_t conflicts = 0;
  Uuid probe;  // id of the first accepted event (to resolve a lost COMMIT)
};

BatchPlan PlanBatch(std::span<const BatchItem> items, int64_t head, std::map<std::string, PlannedStream> streams,
                    std::unordered_map<Uuid, backend::StoredEventLocation> stored, Timestamp timestamp);

// A stream row written by a batch: its new version, the position of its first
// event (used when the batch creates it) and the timestamp of its last event.
struct StreamRowWrite {
  std::string key;
  int64_t version = 0;
  int64_t first_position = 0;
  Timestamp last{};
};

// The writes of a batch that assigns positions (appends and ImportEvents):
// the INSERT of `events` at `positions` (parallel), the upsert of `streams`,
// log_head set to `head` and, when `notify`, the NOTIFY (AddNotify).
// InvalidArgument when an event's metadata has no JSON form (nothing is added
// then).
Status AddLogWrites(postgres::PgPipeline& pipeline, const Statements& statements, std::span<const Event* const> events,
                    std::span<const int64_t> positions, std::span<const StreamRowWrite> streams, int64_t head,
                    bool notify = true);

// The NOTIFY of a new head (test builds: a test may redirect the channel).
void AddNotify(postgres::PgPipeline& pipeline, const Statements& statements, int64_t head);

// AddLogWrites for the accepted appends of `plan`.
Status AddWrites(postgres::PgPipeline& pipeline, const Statements& statements, const BatchPlan& plan,
                 bool notify = true);

}  // namespace estoria::postgres::internal
