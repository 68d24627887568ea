// sqlite_accounts.h: the account read model in SQLite: the table
// bank_accounts(id, balance, version, last_updated), the handler that a
// SqliteReadModel runs inside its batch transaction (rows and checkpoint commit
// together), and SqliteAccounts, the queries, served by a small pool of
// connections of their own (WAL: readers never wait for the processor).
//
// Thread safety: SqliteAccounts is safe for concurrent use (each query takes a
// pooled connection). The handler and setup run on the processor's connection.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "estoria/sqlite/database.h"
#include "read_model.h"

namespace bank {

// CREATE TABLE IF NOT EXISTS bank_accounts ...
estoria::Status SetupSqliteAccounts(estoria::sqlite::SqliteDatabase& db);
// Upserts the row of the event's account (skipping events at or below the
// row's version). Corruption for an undecodable payload; SQLite errors.
estoria::Status ApplySqliteAccountEvent(estoria::sqlite::SqliteDatabase& db, const estoria::Event& event);

class SqliteAccounts final : public AccountQueries {
 public:
  explicit SqliteAccounts(std::string path) : path_(std::move(path)) {}

  estoria::Result<std::optional<AccountView>> Get(const estoria::Uuid& id) override;
  estoria::Result<std::vector<AccountView>> List(const ListQuery& query) override;
  estoria::Status Ping() override;

 private:
  // A pooled connection, returned to the pool on destruction.
  class Lease;
  estoria::Result<Lease> Acquire();
  void Release(std::unique_ptr<estoria::sqlite::SqliteDatabase> db);

  std::string path_;
  std::mutex mu_;
  std::vector<std::unique_ptr<estoria::sqlite::SqliteDatabase>> idle_;
};

}  // namespace bank
