// postgres_accounts.h: the account read model in PostgreSQL: the table
// <schema>.bank_accounts(id uuid, balance, version, last_updated), the handler
// that a PostgresReadModel runs inside its batch transaction (rows and
// checkpoint commit together), and PostgresAccounts, the queries, served by a
// small pool of connections of their own.
//
// Thread safety: PostgresAccounts is safe for concurrent use (each query takes
// a pooled connection). The handler and setup run on the processor's
// connection.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "estoria/postgres/connection.h"
#include "read_model.h"

namespace bank {

// CREATE TABLE IF NOT EXISTS <schema>.bank_accounts ...
estoria::Status SetupPostgresAccounts(estoria::postgres::PgConnection& conn, const std::string& schema);
// Upserts the row of the event's account (skipping events at or below the
// row's version). Corruption for an undecodable payload; PostgreSQL errors.
estoria::Status ApplyPostgresAccountEvent(estoria::postgres::PgConnection& conn, const std::string& schema,
                                          const estoria::Event& event);

class PostgresAccounts final : public AccountQueries {
 public:
  PostgresAccounts(std::string conninfo, std::string schema)
      : conninfo_(std::move(conninfo)), schema_(std::move(schema)) {}

  estoria::Result<std::optional<AccountView>> Get(const estoria::Uuid& id) override;
  estoria::Result<std::vector<AccountView>> List(const ListQuery& query) override;
  estoria::Status Ping() override;

 private:
  // Runs fn on a pooled connection (reconnecting a broken one).
  template <typename F>
  auto WithConnection(F&& fn) -> decltype(fn(std::declval<estoria::postgres::PgConnection&>()));

  std::string conninfo_;
  std::string schema_;
  std::mutex mu_;
  std::vector<std::unique_ptr<estoria::postgres::PgConnection>> idle_;
};

}  // namespace bank
