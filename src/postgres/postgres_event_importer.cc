// PostgresEventStore::ImportEvents: writes already-stored events verbatim in
// ONE transaction on a pooled connection, under the same transaction-scoped
// advisory lock that orders the group-commit appends (append_writer.cc), so
// commit order == position order still holds and log_head stays exact.
//
// Two pipelined round trips, like an append batch:
//   1. BEGIN; synchronous_commit; pg_advisory_xact_lock(K); read log_head, the
//      tips of the batch's streams and which of its event ids are stored.
//   2. (after validating the whole batch in memory, exactly like the memory
//      and SQLite stores) INSERT the events with their own timestamps; upsert
//      the stream rows; UPDATE log_head; pg_notify; COMMIT.
// Strict imports also raise the durable frontier (log_durable) in the same
// transaction: it is flushed before it becomes visible, with every earlier
// commit, and it holds the append lock meanwhile, so imports stay synchronous.
// The writer's one-round-trip prediction notices the moved head through its
// guard statement and falls back, so appends after an import stay correct.
#include <algorithm>
#include <map>
#include <unordered_set>

#include "batch_plan.h"
#include "estoria/backend/import.h"
#include "estoria/postgres/postgres_event_store.h"
#include "event_codec.h"
#include "event_store_core.h"
#include "pg_wire.h"

namespace estoria::postgres {

using postgres::internal::StoreCore;

namespace {

Status ValidateImported(std::span<const Event> events, const EventLimits& limits) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateImportEvents(events, limits));
  for (const Event& e : events) {
    WritableEvent w;
    w.type = e.type();
    w.content_type = e.content_type;
    w.metadata = e.metadata;
    ESTORIA_RETURN_IF_ERROR(postgres::internal::ValidateStorable(e.stream_id, std::span<const WritableEvent>(&w, 1))
                                .WithContext("ImportEvents"));
  }
  return Status::Ok();
}

struct StreamState {
  bool exists = false;
  int64_t version = 0;
  int64_t first_position = 0;
  Timestamp last{};
  bool touched = false;
};

void RollbackQuietly(PgConnection& c) {
  if (!c.broken() && c.transaction_status() != PQTRANS_IDLE) (void)c.Exec("ROLLBACK");
}

}  // namespace

Result<std::vector<int64_t>> PostgresEventStore::ImportEvents(std::span<const Event> events,
                                                              const ImportOptions& options) {
  ESTORIA_RETURN_IF_ERROR(ValidateImported(events, core_->options.event_limits));
  std::vector<int64_t> positions;
  if (events.empty()) return positions;
  StoreCore& core = *core_->store;
  const auto& s = core.statements;
  const bool strict = core_->options.durability == Durability::kStrict;
  std::vector<std::string> keys;
  std::string ids_literal = "{";
  for (size_t i = 0; i < events.size(); ++i) {
    keys.push_back(events[i].stream_id.ToString());
    if (i > 0) ids_literal += ',';
    ids_literal += events[i].id.uuid().ToString();
  }
  ids_literal += "}";
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());

  int64_t new_head = 0;
  auto run = [&](PgConnection& c) -> Result<std::vector<int64_t>> {
    // Round trip 1: lock, then read the head, the streams' tips and stored ids.
    PgPipeline read;
    read.Add(s.begin)
        .Add(s.set_sync_commit, PgParams().Text(strict ? "on" : "off"))
        .Add(s.lock, PgParams().Int64(s.append_lock_key))
        .Add(s.head)
        .Add(s.stream_versions, PgParams().Text(postgres::internal::TextArray(keys)))
        .Add(s.stored_ids, PgParams().Text(ids_literal));
    auto first = c.RunPipeline(read);
    if (!first && c.broken()) {
      // Nothing was written yet: a dead pooled connection is replaced once.
      ESTORIA_RETURN_IF_ERROR(c.EnsureConnected());
      first = c.RunPipeline(read);
    }
    if (!first) {
      RollbackQuietly(c);
      return first.error();
    }
    std::vector<PgResult>& r1 = *first;
    int64_t head = r1[3].Int64(0, 0);
    std::map<std::string, StreamState> streams;
    for (int i = 0; i < r1[4].rows(); ++i) streams[r1[4].String(i, 0)] = StreamState{true, r1[4].Int64(i, 1)};
    std::unordered_set<Uuid> stored;
    for (int i = 0; i < r1[5].rows(); ++i) stored.insert(r1[5].UuidAt(i, 0));

    // Validate and plan the whole batch in order: all or none.
    backend::ImportTarget target;
    target.head = head;
    target.stream_tip = [&](const std::string& key) -> Result<std::optional<int64_t>> {
      auto it = streams.find(key);
      if (it == streams.end()) return std::optional<int64_t>();
      return std::optional<int64_t>(it->second.version);
    };
    target.id_stored = [&](const Uuid& id) -> Result<bool> { return stored.contains(id); };
    auto plan = backend::PlanImport(events, options, target);
    if (!plan) {
      RollbackQuietly(c);
      return plan.error();
    }
    std::vector<int64_t> out = plan->positions;
    int64_t last = plan->head;
    for (size_t i = 0; i < events.size(); ++i) {
      const Event& e = events[i];
      StreamState& st = streams[e.stream_id.ToString()];
      if (plan->new_stream[i]) st.first_position = out[i];
      st.touched = true;
      st.version = e.stream_version;
      st.last = e.timestamp;
    }

    // Round trip 2: write, advance the head, notify, commit.
    std::vector<const Event*> rows;
    for (const Event& e : events) rows.push_back(&e);
    std::vector<postgres::internal::StreamRowWrite> stream_rows;
    for (const auto& [key, st] : streams) {
      if (st.touched) stream_rows.push_back({key, st.version, st.first_position, st.last});
    }
    PgPipeline write;
    if (Status w = postgres::internal::AddLogWrites(write, s, rows, out, stream_rows, last); !w.ok()) {
      RollbackQuietly(c);
      return w;
    }
    // Strict: this transaction commits with synchronous_commit = on, so it may
    // raise the durable frontier itself (append_writer.cc).
    if (strict) write.Add(s.mark_durable, PgParams().Int32(postgres::internal::DurableSlot(c)).Int64(last));
    write.Add(s.commit);
    ESTORIA_PG_PIPELINE_AFTER_SENT(write, "PostgresEventStore::ImportAfterCommitSent");
    Status st = c.RunPipeline(write).error();
    if (!st.ok()) {
      if (!c.broken()) {
        RollbackQuietly(c);
        return st;
      }
      // The connection was lost while COMMIT may have been sent: look the
      // first event id up on a fresh connection to learn the outcome.
      const std::string unknown = st.message() + " (connection lost during ImportEvents COMMIT; outcome unknown)";
      if (!c.EnsureConnected().ok()) return Status::Unavailable(unknown);
      std::string first_id = "{";
      first_id += events[0].id.uuid().ToString();
      first_id += '}';
      auto probe = c.ExecPrepared(s.event_ids_exist, PgParams().Text(first_id));
      if (!probe) return Status::Unavailable(unknown);
      if (probe->Int64(0, 0) == 0) return Status::Unavailable(st.message() + " (ImportEvents not committed)");
    }
    new_head = last;
    return out;
  };
  ESTORIA_ASSIGN_OR_RETURN(auto lease, core.pool.Acquire());
  ESTORIA_ASSIGN_OR_RETURN(positions, run(*lease));
  core_->notifier->Publish(new_head);
  return positions;
}

}  // namespace estoria::postgres
