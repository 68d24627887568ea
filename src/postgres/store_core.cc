// OpenStoreCore and ParsePostgresUri.
#include "store_core.h"

#include <limits>
#include <vector>

#include "estoria/backend/uri.h"

namespace estoria {
namespace postgres::internal {

postgres::PgConnectOptions ConnectOptionsOf(const PostgresOptions& options) {
  postgres::PgConnectOptions c;
  c.conninfo = options.conninfo;
  c.connect_timeout = options.connect_timeout;
  c.query_timeout = options.query_timeout;
  return c;
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
