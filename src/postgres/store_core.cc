// OpenStoreCore and ParsePostgresUri.
#include "store_core.h"

#include <limits>
#include <vector>

#include "estoria/backend/uri.h"
#include "pg_wire.h"

namespace estoria {
namespace postgres::internal {

postgres::PgConnectOptions ConnectOptionsOf(const PostgresOptions& options) {
  postgres::PgConnectOptions c;
  c.conninfo = options.conninfo;
  c.connect_timeout = options.connect_timeout;
  c.query_timeout = options.query_timeout;
  return c;
}

namespace {
// How long the head may stay ahead of the durable frontier before a reader
// makes the log durable itself: far longer than one batch's WAL flush.
constexpr std::chrono::milliseconds kGapGrace{500};
}  // namespace

int DurableSlot(postgres::PgConnection& conn) {
  int pid = conn.raw() != nullptr ? PQbackendPID(conn.raw()) : 0;
  return (pid < 0 ? -pid : pid) % kDurableSlots;
}

Result<int64_t> CatchUp(postgres::PgConnection& conn, const Statements& s) {
  ESTORIA_RETURN_IF_ERROR(conn.EnsureConnected());
  postgres::PgPipeline p;
  p.Add(s.begin)
      .Add(s.set_sync_commit, postgres::PgParams().Text("on"))
      .Add(s.catch_up, postgres::PgParams().Int32(DurableSlot(conn)).Text(s.notify_channel))
      .Add(s.commit);
  auto res = conn.RunPipeline(p);
  if (!res) {
    if (!conn.broken() && conn.transaction_status() != PQTRANS_IDLE) (void)conn.Exec("ROLLBACK");
    return res.error();
  }
  if ((*res)[2].rows() != 1) return Status::Corruption("PostgreSQL log_durable slot is missing");
  return (*res)[2].Int64(0, 0);
}

Result<int64_t> StoreCore::Frontier(int64_t durable, int64_t head) {
  if (!strict) return head;
  if (head <= durable) return durable;
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(gap_mu_);
    if (gap_head_ == 0 || durable >= gap_head_) {
      // A new gap (the earlier one closed): most likely a batch between its
      // commit and its flush. Read up to the durable frontier.
      gap_head_ = head;
      gap_since_ = now;
      return durable;
    }
    if (now - gap_since_ < kGapGrace) return durable;
  }
  ESTORIA_ASSIGN_OR_RETURN(int64_t caught_up,
                           pool.Run<int64_t>([&](postgres::PgConnection& c) { return CatchUp(c, statements); }));
  std::lock_guard<std::mutex> lock(gap_mu_);
  if (caught_up >= gap_head_) gap_head_ = 0;
  return caught_up;
}

Result<int64_t> StoreCore::ReadFrontier() {
  ESTORIA_ASSIGN_OR_RETURN(postgres::PgResult res, pool.Run<postgres::PgResult>([&](postgres::PgConnection& c) {
    return c.ExecPrepared(statements.frontier, postgres::PgParams(), postgres::PgFormat::kBinary);
  }));
  if (res.rows() != 1) return Status::Corruption("PostgreSQL log_head row is missing");
  return Frontier(res.Int64(0, 0), res.Int64(0, 1));
}

Result<std::shared_ptr<StoreCore>> OpenStoreCore(PostgresOptions& options) {
  if (!options.logger) options.logger = StderrLogger();
  ESTORIA_RETURN_IF_ERROR(ValidateSchemaName(options.schema));
  if (options.pool_size < 1) return Status::InvalidArgument("PostgresOptions.pool_size must be at least 1");
  if (options.connect_timeout.count() <= 0 || options.query_timeout.count() <= 0) {
    return Status::InvalidArgument("PostgresOptions timeouts must be positive");
  }
  auto core = std::make_shared<StoreCore>(options, ConnectOptionsOf(options));
  ESTORIA_ASSIGN_OR_RETURN(auto lease, core->pool.Acquire());
  ESTORIA_RETURN_IF_ERROR(EnsureSchema(*lease, options.schema));
  return core;
}

}  // namespace postgres::internal

namespace postgres {
Result<PostgresOptions> ParsePostgresUri(std::string_view uri) {
  PostgresOptions options;
  if (uri == "postgres:" || uri == "postgresql:") return options;  // PG* environment only
  if (!uri.starts_with("postgres://") && !uri.starts_with("postgresql://")) {
    return Status::InvalidArgument("not a PostgreSQL URI: \"" + std::string(uri) + "\"");
  }
  ESTORIA_ASSIGN_OR_RETURN(backend::ParsedUri parsed, backend::ParseUri(uri));
  // estoria_* parameters are Estoria's; every other one is libpq's and stays in
  // the connection string.
  options.conninfo = parsed.scheme + ":" + parsed.body;
  char sep = '?';
  constexpr int64_t kMaxInt = std::numeric_limits<int>::max();
  for (const backend::UriParam& p : parsed.query) {
    if (p.key == "estoria_schema") {
      options.schema = p.value;
    } else if (p.key == "estoria_pool_size") {
      ESTORIA_ASSIGN_OR_RETURN(int64_t v, backend::UriInteger(parsed.scheme, p, 1, kMaxInt));
      options.pool_size = static_cast<int>(v);
    } else if (p.key == "estoria_connect_timeout_ms") {
      ESTORIA_ASSIGN_OR_RETURN(int64_t v, backend::UriInteger(parsed.scheme, p, 1));
      options.connect_timeout = std::chrono::milliseconds(v);
    } else if (p.key == "estoria_durability") {
      ESTORIA_ASSIGN_OR_RETURN(options.durability, backend::UriDurability(parsed.scheme, p));
    } else if (p.key == "estoria_max_event_data_bytes") {
      ESTORIA_ASSIGN_OR_RETURN(options.event_limits.max_event_data_bytes, backend::UriInteger(parsed.scheme, p, 1));
    } else if (p.key == "estoria_max_event_metadata_bytes") {
      ESTORIA_ASSIGN_OR_RETURN(options.event_limits.max_event_metadata_bytes, backend::UriInteger(parsed.scheme, p, 1));
    } else if (p.key.starts_with("estoria_")) {
      return backend::UriUnknownOption(
          parsed.scheme, p,
          "estoria_schema, estoria_pool_size, estoria_connect_timeout_ms, estoria_durability, "
          "estoria_max_event_data_bytes, estoria_max_event_metadata_bytes");
    } else {
      options.conninfo += sep + p.key + "=" + p.value;
      sep = '&';
    }
  }
  return options;
}
}  // namespace postgres

}  // namespace estoria
