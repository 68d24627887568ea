// estoria/postgres/postgres_read_model.h: PostgresReadModel, a dedicated read
// model in PostgreSQL with exactly-once effects (part of estoria::postgres).
//
// The handler receives the read model's connection with a transaction open and
// writes its rows with it; the checkpoint (the checkpoints table of the Estoria
// schema `options.schema`) is upserted in that same transaction, so after any
// crash the rows and the checkpoint agree. Each event runs under a SAVEPOINT
// (a failed handler call leaves no partial rows); a parked event is inserted in
// projection_dead_letters in the same transaction. The read-model database may
// be the event store's or another one (options.conninfo).
//
//   auto model = PostgresReadModel::Open({.conninfo = uri, .setup = create_tables},
//       [](PgConnection& c, const Event& e) { return c.ExecParams("INSERT ...", ...).error(); }).value();
//   auto p = Processor::Create(store, model, {.name = "balances_v1", .lock = model}).value();
//
// One active processor per projection: PostgresReadModel is also a
// ProjectionLock: a session-level pg_try_advisory_lock(class 'ESTP',
// hashtext(schema.name)) taken on the read model's own connection, the one its
// transactions run on. The lock therefore fences the writes: if the session
// dies, its transaction dies with it, and a reconnected session holds no lock
// (Begin then fails with FailedPrecondition until the lock is re-acquired).
// When a holder process dies, PostgreSQL ends its session and releases the
// lock at once (on a network partition: after the server's TCP keepalive
// detects it); a standby acquires it on its next try
// (ProcessorOptions::lock_retry_interval). Renew (every renew_interval, 1 s)
// checks pg_locks for the lock on this session.
//
// Thread safety: a PostgresReadModel serves one processor: its sink and lock
// methods are called from the processor's thread (an internal mutex makes
// concurrent calls safe; Replay fails with FailedPrecondition while a batch is
// open). dead_letters() uses its own connection, safe from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "estoria/postgres/connection.h"
#include "estoria/postgres/postgres_options.h"
#include "estoria/postgres/postgres_projection_stores.h"
#include "estoria/projection/projection_sink.h"

namespace estoria::postgres {

// Writes the rows for one event on `conn`, inside the open transaction. Must not
// BEGIN/COMMIT/ROLLBACK itself. A non-OK status (or an exception: Internal) is a
// handler failure; the event's writes are rolled back to its savepoint.
using PostgresReadModelHandler = std::function<Status(PgConnection& conn, const Event& event)>;

struct PostgresReadModelOptions {
  // libpq connection string of the read-model database. Default "" (PG*
  // environment variables).
  std::string conninfo{};
  // Estoria schema holding checkpoints, dead letters and versions (created
  // when missing). Default "estoria".
  std::string schema = "estoria";
  // Called once on Open inside a transaction, e.g. CREATE TABLE IF NOT EXISTS
  // (serialised across processes by an advisory lock). Default: none.
  std::function<Status(PgConnection& conn)> setup{};
  // Default 5 s.
  std::chrono::milliseconds connect_timeout{5000};
  // Deadline for one statement (the handler's included). Default 30 s.
  std::chrono::milliseconds query_timeout{30000};
};

class PostgresReadModel final : public ProjectionSink, public ProjectionLock {
 public:
  // Connects, ensures the schema and runs setup. Errors: InvalidArgument (null
  // handler, bad schema), Unavailable, setup's error, Internal.
  static Result<std::shared_ptr<PostgresReadModel>> Open(PostgresReadModelOptions options,
                                                         PostgresReadModelHandler handler);
  ~PostgresReadModel() override;

  // ProjectionSink (statuses as documented in projection_sink.h).
  bool transactional() const override { return true; }
  Result<int64_t> LoadPosition(std::string_view name) override;
  Status Begin(std::string_view name) override;
  Status Apply(const Event& event) override;
  // True after an Apply that failed in the connection itself (lost, or its
  // savepoint could not be set or rolled back), not in the handler's logic:
  // the processor retries the batch instead of applying its FailurePolicy, so
  // a server restart neither stops the processor nor parks events
  // (tests/projection/pg_restart_fault_test.cc).
  bool ApplyFailedInSink() const override;
  Status Park(const DeadLetter& letter) override;
  Status Commit(std::string_view name, int64_t position) override;
  void Abort() override;
  DeadLetterStore& dead_letters() override { return *dead_letters_; }
  Status Replay(std::string_view name, int64_t global_position) override;
  Status ReplayWith(std::string_view name, int64_t global_position, const EventTransform& transform) override;

  // ProjectionLock: the advisory lock on this connection. Errors: Unavailable.
  Result<bool> TryAcquire(std::string_view name) override;
  Result<bool> Renew(std::string_view name) override;
  void Release(std::string_view name) override;
  std::chrono::milliseconds renew_interval() const override { return std::chrono::milliseconds(1000); }

  // Runs fn on the read model's connection outside a batch (e.g. queries in
  // the processing process). FailedPrecondition while a batch is open.
  Status Read(const std::function<Status(PgConnection& conn)>& fn);

 private:
  PostgresReadModel(PostgresReadModelOptions options, PostgresReadModelHandler handler,
                    std::unique_ptr<PgConnection> conn, std::shared_ptr<PostgresDeadLetterStore> dead_letters);
  Status ApplyLocked(const Event& event);
  std::string LockKey(std::string_view name) const;

  PostgresReadModelOptions options_;
  PostgresReadModelHandler handler_;
  mutable std::mutex mu_;
  std::unique_ptr<PgConnection> conn_;
  bool apply_failed_in_sink_ = false;  // guarded by mu_
  std::optional<PgTransaction> tx_;
  int lock_backend_pid_ = 0;  // the session holding the advisory lock; 0 = not held
  std::shared_ptr<PostgresDeadLetterStore> dead_letters_;
};

}  // namespace estoria::postgres
