// estoria/postgres/postgres_event_store.h: PostgresEventStore, the production
// event store shared by many processes through one PostgreSQL database, with
// every capability (GlobalReader, StreamDeleter, StreamLister, AppendWatcher,
// EventImporter).
//
// Global positions follow commit order across all processes and have no gaps
// (only deleted events leave holes): each store object has one writer thread
// that batches concurrent appends into short transactions (group commit),
// serialised across processes by a transaction-scoped advisory lock taken just
// before positions are assigned and released at an asynchronous COMMIT. In
// strict mode a batch is acknowledged once a second, synchronously committed
// transaction has raised the durable frontier past it, and reads (ReadAll,
// ReadStream, HeadPosition, WaitForAppend) never go past that frontier, so a
// crash can only lose events no reader has seen. Each append of a batch keeps
// its own expectation check and outcome. Appends issue NOTIFY (strict: once
// durable), which WaitForAppend receives on a dedicated LISTEN connection.
//
// Tables live in their own PostgreSQL schema (PostgresOptions::schema), created
// or migrated on open under an advisory lock (concurrent first opens are safe).
//
// Connections: one for the writer, one for the listener (opened on the first
// WaitForAppend), and a pool of PostgresOptions::pool_size for everything else,
// so reads never wait for the writer. A dropped connection is re-established on
// next use; while the server is down calls return Unavailable within the
// configured timeouts instead of hanging. A connection lost while COMMIT was in
// flight is resolved by looking the batch up after reconnecting: found, the
// append (or import) reports OK and its events are stored once; not found,
// Unavailable ("... not committed") and nothing was stored; when the lookup is
// impossible, Unavailable ("... outcome unknown") although it may have
// committed (use caller-chosen event ids to make retries safe: they then report
// AlreadyExists). Tested in tests/postgres/lost_commit_test.cc.
//
// PostgreSQL specifics: metadata is stored as jsonb and content types as text,
// so both must be UTF-8 without NUL bytes (else InvalidArgument); payloads are
// bytea, stored verbatim.
//
// Thread safety: safe for concurrent use from many threads. Iterators share
// ownership of the connection pool and fetch pages on pooled connections,
// holding none between calls; they stay valid after the store is destroyed.
#pragma once

#include <chrono>
#include <memory>
#include <string_view>

#include "estoria/event_store.h"
#include "estoria/postgres/postgres_options.h"

namespace estoria::postgres {

// Group-commit counters of a PostgresEventStore (monotonic since Open, except
// `queued`).
struct PostgresStats {
  int64_t transactions = 0;       // append transactions attempted
  int64_t commits = 0;            // append transactions committed
  int64_t appends = 0;            // appends committed
  int64_t events = 0;             // events committed
  int64_t conflicts = 0;          // appends refused with Conflict
  int64_t listener_connects = 0;  // LISTEN connections established
  int64_t queued = 0;             // appends waiting for the writer right now
  int64_t mispredictions = 0;     // one-round-trip batches that fell back
};

class PostgresEventStore final : public EventStore,
                                 public GlobalReader,
                                 public StreamDeleter,
                                 public StreamLister,
                                 public AppendWatcher,
                                 public EventImporter {
 public:
  // Connects, then creates or migrates the schema. Errors: InvalidArgument (bad
  // schema name or conninfo), Unavailable (server unreachable within
  // connect_timeout), FailedPrecondition (the schema was written by a newer
  // Estoria), Internal.
  static Result<std::shared_ptr<PostgresEventStore>> Open(PostgresOptions options);
  // Open(ParsePostgresUri(uri)); the same errors.
  static Result<std::shared_ptr<PostgresEventStore>> OpenUri(std::string_view uri);
  ~PostgresEventStore() override;

  // StreamWriter, StreamReader: statuses as documented in event_store.h (an
  // event over options().event_limits is InvalidArgument).
  Result<std::vector<Event>> AppendStream(const TypeId& stream_id, std::span<const WritableEvent> events,
                                          const AppendOptions& options = {}) override;
  Result<std::unique_ptr<EventIterator>> ReadStream(const TypeId& stream_id,
                                                    const ReadStreamOptions& options = {}) override;
  // GlobalReader: filters run in SQL.
  Result<std::unique_ptr<EventIterator>> ReadAll(const ReadAllOptions& options = {}) override;
  Result<int64_t> HeadPosition() override;
  // StreamDeleter: takes the append lock, so it is ordered with appends.
  Status DeleteStream(const TypeId& stream_id, const DeleteStreamOptions& options = {}) override;
  // StreamLister.
  Result<std::vector<StreamInfo>> ListStreams(const ListStreamsOptions& options = {}) override;
  // AppendWatcher: woken at once by appends of this object and by NOTIFY from
  // other processes. Unavailable when nothing newer is known at the deadline
  // and the listener connection is down.
  Result<int64_t> WaitForAppend(int64_t after_position, std::chrono::milliseconds timeout) override;

  // EventImporter: one transaction under the append advisory lock, so imported
  // positions are ordered with appends of every process; per-event timestamps
  // are kept; NOTIFY wakes waiters. preserve_positions is supported. Statuses
  // as documented in event_store.h (InvalidArgument also for content types or
  // metadata PostgreSQL cannot store; Unavailable when the connection is lost,
  // also when a lost COMMIT's outcome cannot be learned).
  Result<std::vector<int64_t>> ImportEvents(std::span<const Event> events, const ImportOptions& options = {}) override;

  GlobalReader* global_reader() override { return this; }
  StreamDeleter* stream_deleter() override { return this; }
  StreamLister* stream_lister() override { return this; }
  AppendWatcher* append_watcher() override { return this; }
  EventImporter* event_importer() override { return this; }
  EventLimits event_limits() const override;

  // Group-commit counters of this store object since it was opened.
  PostgresStats stats() const;
  const PostgresOptions& options() const;

  struct Core;  // implementation detail

 private:
  explicit PostgresEventStore(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  std::shared_ptr<Core> core_;
};

}  // namespace estoria::postgres
