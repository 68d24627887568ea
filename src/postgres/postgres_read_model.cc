// PostgresReadModel: transactional sink (rows + checkpoint in one transaction)
// and advisory lock on the same session.
#include "estoria/postgres/postgres_read_model.h"

#include <utility>

#include "estoria/postgres/postgres_checkpoint_store.h"
#include "pg_advisory.h"

namespace estoria::postgres {

using internal::kProjectionLockClass;

Result<std::shared_ptr<PostgresReadModel>> PostgresReadModel::Open(PostgresReadModelOptions options,
                                                                   PostgresReadModelHandler handler) {
  if (!handler) return Status::InvalidArgument("PostgresReadModel: null handler");
  PostgresOptions store_options;
  store_options.conninfo = options.conninfo;
  store_options.schema = options.schema;
  store_options.connect_timeout = options.connect_timeout;
  store_options.query_timeout = options.query_timeout;
  store_options.pool_size = 1;
  ESTORIA_RETURN_IF_ERROR(PostgresProjectionTables::EnsureSchema(store_options));
  ESTORIA_ASSIGN_OR_RETURN(auto conn, PostgresProjectionTables::Connect(store_options));
  if (options.setup) {
    ESTORIA_ASSIGN_OR_RETURN(auto tx, PgTransaction::Begin(*conn));
    ESTORIA_RETURN_IF_ERROR(
        conn->ExecParams("SELECT pg_advisory_xact_lock($1, 1)", PgParams().Int32(kProjectionLockClass)).error());
    ESTORIA_RETURN_IF_ERROR(CallHandler([&] { return options.setup(*conn); }));
    ESTORIA_RETURN_IF_ERROR(tx.Commit());
  }
  ESTORIA_ASSIGN_OR_RETURN(auto dead_letters, PostgresDeadLetterStore::Open(store_options));
  return std::shared_ptr<PostgresReadModel>(
      new PostgresReadModel(std::move(options), std::move(handler), std::move(conn), std::move(dead_letters)));
}

PostgresReadModel::PostgresReadModel(PostgresReadModelOptions options, PostgresReadModelHandler handler,
                                     std::unique_ptr<PgConnection> conn,
                                     std::shared_ptr<PostgresDeadLetterStore> dead_letters)
    : options_(std::move(options)),
      handler_(std::move(handler)),
      conn_(std::move(conn)),
      dead_letters_(std::move(dead_letters)) {}

PostgresReadModel::~PostgresReadModel() {
  std::lock_guard<std::mutex> lock(mu_);
  tx_.reset();
}

std::string PostgresReadModel::LockKey(std::string_view name) const {
  return options_.schema + "." + std::string(name);
}

Result<int64_t> PostgresReadModel::LoadPosition(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (tx_) return Status::FailedPrecondition("PostgresReadModel: LoadPosition while a batch is open");
  ESTORIA_RETURN_IF_ERROR(conn_->EnsureConnected());
  return PostgresCheckpointStore::LoadInTransaction(*conn_, options_.schema, name);
}

Status PostgresReadModel::Begin(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (tx_) return Status::FailedPrecondition("PostgresReadModel: a batch is already open");
  ESTORIA_RETURN_IF_ERROR(conn_->EnsureConnected());
  if (lock_backend_pid_ != 0 && PQbackendPID(conn_->raw()) != lock_backend_pid_) {
    lock_backend_pid_ = 0;  // reconnected: the old session, and its lock, are gone
    return Status::FailedPrecondition("PostgresReadModel: the advisory lock of " + std::string(name) +
                                      " was lost with its session");
  }
  ESTORIA_ASSIGN_OR_RETURN(auto tx, PgTransaction::Begin(*conn_));
  tx_.emplace(std::move(tx));
  return Status::Ok();
}

Status PostgresReadModel::ApplyLocked(const Event& event) {
  apply_failed_in_sink_ = true;  // until the handler runs
  ESTORIA_RETURN_IF_ERROR(conn_->Exec("SAVEPOINT estoria_event").error());
  Status s = CallHandler([&] { return handler_(*conn_, event); });
  if (!s.ok()) {
    // A lost connection is the sink's failure, not the handler's.
    apply_failed_in_sink_ = conn_->broken();
    if (apply_failed_in_sink_) return s;
    auto undo = conn_->Exec("ROLLBACK TO SAVEPOINT estoria_event; RELEASE SAVEPOINT estoria_event");
    if (!undo.ok()) {
      apply_failed_in_sink_ = true;
      return undo.error().WithContext("rolling back a failed handler call");
    }
    return s;
  }
  // A failed RELEASE is the connection's (apply_failed_in_sink_ stays true).
  ESTORIA_RETURN_IF_ERROR(conn_->Exec("RELEASE SAVEPOINT estoria_event").error());
  apply_failed_in_sink_ = false;
  return Status::Ok();
}

Status PostgresReadModel::Apply(const Event& event) {
  std::lock_guard<std::mutex> lock(mu_);
  apply_failed_in_sink_ = false;
  if (!tx_) return Status::FailedPrecondition("PostgresReadModel: Apply outside a batch");
  return ApplyLocked(event);
}

bool PostgresReadModel::ApplyFailedInSink() const {
  std::lock_guard<std::mutex> lock(mu_);
  return apply_failed_in_sink_;
}

Status PostgresReadModel::Park(const DeadLetter& letter) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!tx_) return Status::FailedPrecondition("PostgresReadModel: Park outside a batch");
  return PostgresProjectionTables::ParkIn(*conn_, options_.schema, letter);
}

Status PostgresReadModel::Commit(std::string_view name, int64_t position) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!tx_) return Status::FailedPrecondition("PostgresReadModel: Commit outside a batch");
  Status s = PostgresCheckpointStore::SaveInTransaction(*conn_, options_.schema, name, position);
  if (s.ok()) s = tx_->Commit();
  tx_.reset();  // rolls back when not committed
  return s;
}

void PostgresReadModel::Abort() {
  std::lock_guard<std::mutex> lock(mu_);
  tx_.reset();
}

Status PostgresReadModel::Replay(std::string_view name, int64_t global_position) {
  return ReplayWith(name, global_position, nullptr);
}

Status PostgresReadModel::ReplayWith(std::string_view name, int64_t global_position, const EventTransform& transform) {
  std::lock_guard<std::mutex> lock(mu_);
  if (tx_) return Status::FailedPrecondition("PostgresReadModel: Replay while a batch is open");
  ESTORIA_RETURN_IF_ERROR(conn_->EnsureConnected());
  ESTORIA_ASSIGN_OR_RETURN(auto tx, PgTransaction::Begin(*conn_));
  ESTORIA_ASSIGN_OR_RETURN(DeadLetter letter,
                           PostgresProjectionTables::GetIn(*conn_, options_.schema, name, global_position));
  if (transform) ESTORIA_RETURN_IF_ERROR(CallHandler([&] { return transform(letter.event); }));
  ESTORIA_RETURN_IF_ERROR(ApplyLocked(letter.event));
  ESTORIA_RETURN_IF_ERROR(PostgresProjectionTables::DiscardIn(*conn_, options_.schema, name, global_position));
  return tx.Commit();
}

Result<bool> PostgresReadModel::TryAcquire(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (tx_) return Status::FailedPrecondition("PostgresReadModel: TryAcquire while a batch is open");
  return internal::AcquireSessionLock(*conn_, LockKey(name), lock_backend_pid_);
}

Result<bool> PostgresReadModel::Renew(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (tx_) return Status::FailedPrecondition("PostgresReadModel: Renew while a batch is open");
  return internal::RenewSessionLock(*conn_, LockKey(name), lock_backend_pid_);
}

void PostgresReadModel::Release(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  // Inside an open batch the unlock would run in its transaction: only forget.
  internal::ReleaseSessionLock(*conn_, LockKey(name), lock_backend_pid_, /*unlock=*/!tx_);
}

Status PostgresReadModel::Read(const std::function<Status(PgConnection& conn)>& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (tx_) return Status::FailedPrecondition("PostgresReadModel: Read while a batch is open");
  ESTORIA_RETURN_IF_ERROR(conn_->EnsureConnected());
  return CallHandler([&] { return fn(*conn_); });
}

}  // namespace estoria::postgres
