#include "postgres_accounts.h"

#include <limits>

namespace bank {
namespace {

using estoria::postgres::PgConnection;
using estoria::postgres::PgFormat;
using estoria::postgres::PgParams;
using estoria::postgres::PgResult;

// The schema comes from the read model URI, validated when the read model opened
// it; quoted here all the same, so that no name is ever spliced into SQL raw.
std::string Table(const std::string& schema) { return estoria::postgres::QuoteIdentifier(schema) + ".bank_accounts"; }

AccountView RowToView(const PgResult& result, int row) {
  AccountView view;
  view.id = result.UuidAt(row, 0);
  view.balance = result.Int64(row, 1);
  view.version = result.Int64(row, 2);
  view.last_updated = result.TimestampAt(row, 3);
  return view;
}

}  // namespace

estoria::Status SetupPostgresAccounts(PgConnection& conn, const std::string& schema) {
  return conn
      .Exec("CREATE SCHEMA IF NOT EXISTS " + estoria::postgres::QuoteIdentifier(schema) +
            "; CREATE TABLE IF NOT EXISTS " + Table(schema) +
            " (id uuid PRIMARY KEY, balance bigint NOT NULL, version bigint NOT NULL,"
            " last_updated timestamptz NOT NULL)")
      .status();
}

estoria::Status ApplyPostgresAccountEvent(PgConnection& conn, const std::string& schema, const estoria::Event& event) {
  if (event.stream_id.type() != kAccountStreamType || event.type() != BalanceChanged::kType) {
    return estoria::Status::Ok();
  }
  ESTORIA_ASSIGN_OR_RETURN(BalanceChanged changed, DecodeBalanceChanged(event));
  // The statement text depends on the schema only: one prepared statement per
  // connection and schema.
  const estoria::postgres::PgStatement upsert{
      "bank_accounts_upsert_" + schema,
      "INSERT INTO " + Table(schema) +
          " AS a (id, balance, version, last_updated) VALUES ($1, $2, $3, $4) "
          "ON CONFLICT (id) DO UPDATE SET balance = a.balance + excluded.balance, version = excluded.version, "
          "last_updated = excluded.last_updated WHERE excluded.version > a.version"};
  PgParams params;
  params.UuidValue(event.stream_id.uuid())
      .Int64(changed.amount)
      .Int64(event.stream_version)
      .TimestampValue(event.timestamp);
  return conn.ExecPrepared(upsert, params).status();
}

template <typename F>
auto PostgresAccounts::WithConnection(F&& fn) -> decltype(fn(std::declval<PgConnection&>())) {
  std::unique_ptr<PgConnection> conn;
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!conn) {
    estoria::postgres::PgConnectOptions options;
    options.conninfo = conninfo_;
    options.query_timeout = std::chrono::seconds(10);
    auto connected = PgConnection::Connect(options);
    if (!connected.has_value()) return connected.error();
    conn = std::move(connected).value();
  } else if (estoria::Status st = conn->EnsureConnected(); !st.ok()) {
    return st;
  }
  auto result = fn(*conn);
  if (!conn->broken()) {
    std::lock_guard lock(mu_);
    if (idle_.size() < 16) idle_.push_back(std::move(conn));
  }
  return result;
}

estoria::Result<std::optional<AccountView>> PostgresAccounts::Get(const estoria::Uuid& id) {
  return WithConnection([&](PgConnection& conn) -> estoria::Result<std::optional<AccountView>> {
    PgParams params;
    params.UuidValue(id);
    ESTORIA_ASSIGN_OR_RETURN(PgResult result, conn.ExecParams("SELECT id, balance, version, last_updated FROM " +
                                                                  Table(schema_) + " WHERE id = $1",
                                                              params, PgFormat::kBinary));
    if (result.rows() == 0) return std::optional<AccountView>();
    return std::optional<AccountView>(RowToView(result, 0));
  });
}

estoria::Result<std::vector<AccountView>> PostgresAccounts::List(const ListQuery& query) {
  return WithConnection([&](PgConnection& conn) -> estoria::Result<std::vector<AccountView>> {
    PgParams params;
    params.UuidValue(query.after.value_or(estoria::Uuid()))
        .Int64(query.min_balance.value_or(std::numeric_limits<int64_t>::min()))
        .Int64(query.limit);
    // The nil UUID sorts first: "after nil" is "from the start" (a nil account
    // id is refused by the command side).
    ESTORIA_ASSIGN_OR_RETURN(PgResult result,
                             conn.ExecParams("SELECT id, balance, version, last_updated FROM " + Table(schema_) +
                                                 " WHERE id > $1 AND balance >= $2 ORDER BY id LIMIT $3",
                                             params, PgFormat::kBinary));
    std::vector<AccountView> out;
    out.reserve(result.rows());
    for (int row = 0; row < result.rows(); ++row) out.push_back(RowToView(result, row));
    return out;
  });
}

estoria::Status PostgresAccounts::Ping() {
  return WithConnection([](PgConnection& conn) { return conn.Exec("SELECT 1").status(); });
}

}  // namespace bank
