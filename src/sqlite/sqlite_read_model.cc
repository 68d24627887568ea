// SqliteReadModel: transactional sink (rows + checkpoint in one transaction)
// and lease-row lock.
#include "estoria/sqlite/sqlite_read_model.h"

#include <unistd.h>

#include <utility>

#include "estoria/sqlite/sqlite_checkpoint_store.h"

namespace estoria::sqlite {

std::string DefaultLeaseOwner() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  std::string uuid = Uuid::NewV7().ToString();
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + uuid.substr(uuid.size() - 12);
}

Result<std::shared_ptr<SqliteReadModel>> SqliteReadModel::Open(SqliteReadModelOptions options,
                                                               SqliteReadModelHandler handler) {
  if (options.path.empty() || options.path == ":memory:") {
    return Status::InvalidArgument("SqliteReadModel: a database file path is required");
  }
  if (!handler) return Status::InvalidArgument("SqliteReadModel: null handler");
  if (options.lease_ttl < std::chrono::milliseconds(30)) {
    return Status::InvalidArgument("SqliteReadModel: lease_ttl must be >= 30 ms");
  }
  if (options.owner.empty()) options.owner = DefaultLeaseOwner();
  SqliteStoreOptions store_options{options.path, options.durability, options.busy_timeout};
  ESTORIA_ASSIGN_OR_RETURN(auto db, SqliteProjectionTables::Open(store_options));
  if (options.setup) {
    ESTORIA_ASSIGN_OR_RETURN(auto tx, SqliteTransaction::Begin(*db));
    ESTORIA_RETURN_IF_ERROR(CallHandler([&] { return options.setup(*db); }));
    ESTORIA_RETURN_IF_ERROR(tx.Commit());
  }
  ESTORIA_ASSIGN_OR_RETURN(auto dead_letters, SqliteDeadLetterStore::Open(store_options));
  return std::shared_ptr<SqliteReadModel>(
      new SqliteReadModel(std::move(options), std::move(handler), std::move(db), std::move(dead_letters)));
}

SqliteReadModel::SqliteReadModel(SqliteReadModelOptions options, SqliteReadModelHandler handler,
                                 std::unique_ptr<SqliteDatabase> db,
                                 std::shared_ptr<SqliteDeadLetterStore> dead_letters)
    : options_(std::move(options)),
      handler_(std::move(handler)),
      db_(std::move(db)),
      dead_letters_(std::move(dead_letters)) {}

SqliteReadModel::~SqliteReadModel() {
  std::lock_guard<std::mutex> lock(mu_);
  tx_.reset();
}

Result<int64_t> SqliteReadModel::LoadPosition(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  return SqliteCheckpointStore::LoadIn(*db_, name);
}

Result<bool> SqliteReadModel::ClaimLease(std::string_view name, bool take) {
  return SqliteProjectionTables::ClaimLeaseIn(*db_, name, options_.owner, options_.lease_ttl, take);
}

Status SqliteReadModel::Begin(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (tx_) return Status::FailedPrecondition("SqliteReadModel: a batch is already open");
  ESTORIA_ASSIGN_OR_RETURN(auto tx, SqliteTransaction::Begin(*db_, SqliteTransaction::Mode::kImmediate));
  if (lease_held_) {  // fencing: the lease is checked and extended under the write lock
    auto claimed = ClaimLease(name, false);
    if (!claimed.ok()) return claimed.error();
    if (!*claimed) {
      lease_held_ = false;
      return Status::FailedPrecondition("SqliteReadModel: the lease of " + std::string(name) + " was lost");
    }
  }
  tx_.emplace(std::move(tx));
  return Status::Ok();
}

namespace {
// Whether the connection's last failure was SQLite's own (storage, memory),
// not a statement the handler got wrong.
bool StorageFailure(SqliteDatabase& db) {
  int code = sqlite3_errcode(db.handle()) & 0xff;
  return code == SQLITE_FULL || code == SQLITE_IOERR || code == SQLITE_NOMEM;
}
}  // namespace

Status SqliteReadModel::ApplyLocked(const Event& event) {
  apply_failed_in_sink_ = true;  // until the handler runs
  ESTORIA_RETURN_IF_ERROR(db_->Exec("SAVEPOINT estoria_event"));
  Status s = CallHandler([&] { return handler_(*db_, event); });
  if (!s.ok()) {
    // A failure in SQLite itself (disk full while the handler's writes spill
    // from the cache, ...), or one after which SQLite rolled the whole
    // transaction back, is the sink's, not the handler's.
    apply_failed_in_sink_ = StorageFailure(*db_) || !db_->InTransaction();
    if (!db_->InTransaction()) return s;
    Status undo = db_->Exec("ROLLBACK TO estoria_event");
    if (undo.ok()) undo = db_->Exec("RELEASE estoria_event");
    if (!undo.ok()) {
      apply_failed_in_sink_ = true;
      return undo.WithContext("rolling back a failed handler call (" + s.ToString() + ")");
    }
    return s;
  }
  // A failed RELEASE is SQLite's (apply_failed_in_sink_ stays true).
  ESTORIA_RETURN_IF_ERROR(db_->Exec("RELEASE estoria_event"));
  apply_failed_in_sink_ = false;
  return Status::Ok();
}

Status SqliteReadModel::Apply(const Event& event) {
  std::lock_guard<std::mutex> lock(mu_);
  apply_failed_in_sink_ = false;
  if (!tx_) return Status::FailedPrecondition("SqliteReadModel: Apply outside a batch");
  return ApplyLocked(event);
}

bool SqliteReadModel::ApplyFailedInSink() const {
  std::lock_guard<std::mutex> lock(mu_);
  return apply_failed_in_sink_;
}

Status SqliteReadModel::Park(const DeadLetter& letter) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!tx_) return Status::FailedPrecondition("SqliteReadModel: Park outside a batch");
  return SqliteProjectionTables::ParkIn(*db_, letter);
}

Status SqliteReadModel::Commit(std::string_view name, int64_t position) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!tx_) return Status::FailedPrecondition("SqliteReadModel: Commit outside a batch");
  Status s = SqliteCheckpointStore::SaveIn(*db_, name, position);
  if (s.ok()) s = tx_->Commit();
  tx_.reset();  // rolls back when not committed
  return s;
}

void SqliteReadModel::Abort() {
  std::lock_guard<std::mutex> lock(mu_);
  tx_.reset();
}

Status SqliteReadModel::Replay(std::string_view name, int64_t global_position) {
  return ReplayWith(name, global_position, nullptr);
}

Status SqliteReadModel::ReplayWith(std::string_view name, int64_t global_position, const EventTransform& transform) {
  std::lock_guard<std::mutex> lock(mu_);
  if (tx_) return Status::FailedPrecondition("SqliteReadModel: Replay while a batch is open");
  ESTORIA_ASSIGN_OR_RETURN(auto tx, SqliteTransaction::Begin(*db_, SqliteTransaction::Mode::kImmediate));
  ESTORIA_ASSIGN_OR_RETURN(DeadLetter letter, SqliteProjectionTables::GetIn(*db_, name, global_position));
  if (transform) ESTORIA_RETURN_IF_ERROR(CallHandler([&] { return transform(letter.event); }));
  ESTORIA_RETURN_IF_ERROR(ApplyLocked(letter.event));
  ESTORIA_RETURN_IF_ERROR(SqliteProjectionTables::DiscardIn(*db_, name, global_position));
  return tx.Commit();
}

Result<bool> SqliteReadModel::ClaimOutsideBatch(std::string_view name, bool take, const char* what) {
  std::lock_guard<std::mutex> lock(mu_);
  if (tx_) return Status::FailedPrecondition(std::string("SqliteReadModel: ") + what + " while a batch is open");
  ESTORIA_ASSIGN_OR_RETURN(auto tx, SqliteTransaction::Begin(*db_, SqliteTransaction::Mode::kImmediate));
  ESTORIA_ASSIGN_OR_RETURN(bool claimed, ClaimLease(name, take));
  ESTORIA_RETURN_IF_ERROR(tx.Commit());
  lease_held_ = claimed;
  return claimed;
}

Result<bool> SqliteReadModel::TryAcquire(std::string_view name) { return ClaimOutsideBatch(name, true, "TryAcquire"); }

Result<bool> SqliteReadModel::Renew(std::string_view name) { return ClaimOutsideBatch(name, false, "Renew"); }

void SqliteReadModel::Release(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  lease_held_ = false;
  if (tx_) return;
  (void)SqliteProjectionTables::ReleaseLeaseIn(*db_, name, options_.owner);
}

Status SqliteReadModel::Read(const std::function<Status(SqliteDatabase& db)>& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (tx_) return Status::FailedPrecondition("SqliteReadModel: Read while a batch is open");
  return CallHandler([&] { return fn(*db_); });
}

}  // namespace estoria::sqlite
