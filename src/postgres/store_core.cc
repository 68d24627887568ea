// OpenStoreCore and ParsePostgresUri.
#include "store_core.h"

#include <cstdlib>
#include <vector>

namespace estoria {
namespace postgres_internal {

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

}  // namespace postgres_internal

namespace postgres {
Result<PostgresOptions> ParsePostgresUri(std::string_view uri) {
  PostgresOptions options;
  if (uri == "postgres:" || uri == "postgresql:") return options;  // PG* environment only
  if (!uri.starts_with("postgres://") && !uri.starts_with("postgresql://")) {
    return Status::InvalidArgument("not a PostgreSQL URI: \"" + std::string(uri) + "\"");
  }
  size_t q = uri.find('?');
  std::string base(uri.substr(0, q));
  std::vector<std::string> kept;
  if (q != std::string_view::npos) {
    std::string_view rest = uri.substr(q + 1);
    while (!rest.empty()) {
      size_t amp = rest.find('&');
      std::string_view param = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
      if (param.empty()) continue;
      size_t eq = param.find('=');
      std::string_view key = param.substr(0, eq);
      std::string value(eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1));
      auto number = [&](int64_t& out) -> Status {
        char* end = nullptr;
        long long v = std::strtoll(value.c_str(), &end, 10);
        if (value.empty() || *end != '\0' || v <= 0) {
          return Status::InvalidArgument("PostgreSQL URI: " + std::string(key) + " needs a positive integer");
        }
        out = v;
        return Status::Ok();
      };
      if (key == "estoria_schema") {
        options.schema = value;
      } else if (key == "estoria_pool_size") {
        int64_t v = 0;
        ESTORIA_RETURN_IF_ERROR(number(v));
        options.pool_size = static_cast<int>(v);
      } else if (key == "estoria_connect_timeout_ms") {
        int64_t v = 0;
        ESTORIA_RETURN_IF_ERROR(number(v));
        options.connect_timeout = std::chrono::milliseconds(v);
      } else if (key == "estoria_durability") {
        if (value == "strict") {
          options.durability = Durability::kStrict;
        } else if (value == "relaxed") {
          options.durability = Durability::kRelaxed;
        } else {
          return Status::InvalidArgument("PostgreSQL URI: estoria_durability must be strict or relaxed");
        }
      } else if (key.starts_with("estoria_")) {
        return Status::InvalidArgument("PostgreSQL URI: unknown parameter " + std::string(key));
      } else {
        kept.emplace_back(param);
      }
    }
  }
  options.conninfo = base;
  for (size_t i = 0; i < kept.size(); ++i) options.conninfo += (i == 0 ? "?" : "&") + kept[i];
  return options;
}
}  // namespace postgres

}  // namespace estoria
