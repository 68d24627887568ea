#include "sqlite_accounts.h"

#include <limits>

namespace bank {
namespace {

using estoria::sqlite::SqliteDatabase;

constexpr char kUpsert[] =
    "INSERT INTO bank_accounts (id, balance, version, last_updated) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (id) DO UPDATE SET balance = bank_accounts.balance + excluded.balance, "
    "version = excluded.version, last_updated = excluded.last_updated "
    "WHERE excluded.version > bank_accounts.version";

AccountView RowToView(const estoria::sqlite::SqliteStatement& stmt, const estoria::Uuid& id, int first_col) {
  AccountView view;
  view.id = id;
  view.balance = stmt.ColumnInt64(first_col);
  view.version = stmt.ColumnInt64(first_col + 1);
  view.last_updated = estoria::Timestamp(std::chrono::microseconds(stmt.ColumnInt64(first_col + 2)));
  return view;
}

}  // namespace

estoria::Status SetupSqliteAccounts(SqliteDatabase& db) {
  return db.Exec(
      "CREATE TABLE IF NOT EXISTS bank_accounts ("
      " id TEXT PRIMARY KEY,"
      " balance INTEGER NOT NULL,"
      " version INTEGER NOT NULL,"
      " last_updated INTEGER NOT NULL"  // microseconds since the Unix epoch
      ") WITHOUT ROWID");
}

estoria::Status ApplySqliteAccountEvent(SqliteDatabase& db, const estoria::Event& event) {
  if (event.stream_id.type() != kAccountStreamType || event.type() != BalanceChanged::kType) {
    return estoria::Status::Ok();
  }
  ESTORIA_ASSIGN_OR_RETURN(BalanceChanged changed, DecodeBalanceChanged(event));
  ESTORIA_ASSIGN_OR_RETURN(estoria::sqlite::SqliteStatement * stmt, db.PrepareCached(kUpsert));
  ESTORIA_RETURN_IF_ERROR(stmt->BindText(1, event.stream_id.uuid().ToString()));
  ESTORIA_RETURN_IF_ERROR(stmt->BindInt64(2, changed.amount));
  ESTORIA_RETURN_IF_ERROR(stmt->BindInt64(3, event.stream_version));
  ESTORIA_RETURN_IF_ERROR(stmt->BindInt64(4, event.timestamp.time_since_epoch().count()));
  return stmt->Run();
}

class SqliteAccounts::Lease {
 public:
  Lease(SqliteAccounts* owner, std::unique_ptr<SqliteDatabase> db) : owner_(owner), db_(std::move(db)) {}
  Lease(Lease&& other) noexcept = default;
  ~Lease() {
    if (db_) owner_->Release(std::move(db_));
  }
  SqliteDatabase& operator*() { return *db_; }

 private:
  SqliteAccounts* owner_;
  std::unique_ptr<SqliteDatabase> db_;
};

estoria::Result<SqliteAccounts::Lease> SqliteAccounts::Acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto db = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(db));
    }
  }
  estoria::sqlite::SqliteDatabaseOptions options;
  options.create = false;
  ESTORIA_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDatabase> db, SqliteDatabase::Open(path_, options));
  return Lease(this, std::move(db));
}

void SqliteAccounts::Release(std::unique_ptr<SqliteDatabase> db) {
  std::lock_guard lock(mu_);
  if (idle_.size() < 16) idle_.push_back(std::move(db));
}

estoria::Result<std::optional<AccountView>> SqliteAccounts::Get(const estoria::Uuid& id) {
  ESTORIA_ASSIGN_OR_RETURN(Lease db, Acquire());
  ESTORIA_ASSIGN_OR_RETURN(
      estoria::sqlite::SqliteStatement * stmt,
      (*db).PrepareCached("SELECT balance, version, last_updated FROM bank_accounts WHERE id = ?1"));
  ESTORIA_RETURN_IF_ERROR(stmt->BindText(1, id.ToString()));
  auto row = stmt->Step();
  std::optional<AccountView> out;
  if (row.has_value() && *row) out = RowToView(*stmt, id, 0);
  stmt->Reset();
  if (!row.has_value()) return row.error();
  return out;
}

estoria::Result<std::vector<AccountView>> SqliteAccounts::List(const ListQuery& query) {
  ESTORIA_ASSIGN_OR_RETURN(Lease db, Acquire());
  ESTORIA_ASSIGN_OR_RETURN(estoria::sqlite::SqliteStatement * stmt,
                           (*db).PrepareCached("SELECT id, balance, version, last_updated FROM bank_accounts "
                                               "WHERE id > ?1 AND balance >= ?2 ORDER BY id LIMIT ?3"));
  ESTORIA_RETURN_IF_ERROR(stmt->BindText(1, query.after ? query.after->ToString() : ""));
  ESTORIA_RETURN_IF_ERROR(stmt->BindInt64(2, query.min_balance.value_or(std::numeric_limits<int64_t>::min())));
  ESTORIA_RETURN_IF_ERROR(stmt->BindInt64(3, query.limit));
  std::vector<AccountView> out;
  estoria::Status status;
  for (;;) {
    auto row = stmt->Step();
    if (!row.has_value()) {
      status = row.error();
      break;
    }
    if (!*row) break;
    auto id = estoria::Uuid::Parse(stmt->ColumnTextView(0));
    if (!id.has_value()) {
      status = estoria::Status::Corruption("bank_accounts: bad id " + stmt->ColumnText(0));
      break;
    }
    out.push_back(RowToView(*stmt, *id, 1));
  }
  stmt->Reset();
  if (!status.ok()) return status;
  return out;
}

estoria::Status SqliteAccounts::Ping() {
  ESTORIA_ASSIGN_OR_RETURN(Lease db, Acquire());
  return (*db).QueryInt64("SELECT count(*) FROM sqlite_master").status();
}

}  // namespace bank
