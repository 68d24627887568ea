// The raw PostgreSQL read ceiling: see raw_read_ceiling.h.
#include <endian.h>
#include <libpq-fe.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>

#include "raw_ceiling.h"
#include "raw_read_ceiling.h"

namespace estoria::bench {
namespace {

using Clock = std::chrono::steady_clock;

// The store's schema: the URI's estoria_schema parameter, default "estoria"
// (include/estoria/postgres/postgres_options.h).
std::string SchemaOf(const std::string& uri) {
  auto q = uri.find('?');
  if (q == std::string::npos) return "estoria";
  std::stringstream params(uri.substr(q + 1));
  std::string kv;
  std::string schema = "estoria";
  while (std::getline(params, kv, '&')) {
    if (kv.starts_with("estoria_schema=")) schema = kv.substr(15);
  }
  return schema;
}

int64_t Int64At(const PGresult* res, int row, int col) {
  uint64_t v = 0;
  std::memcpy(&v, PQgetvalue(res, row, col), sizeof v);
  return static_cast<int64_t>(be64toh(v));
}

struct ConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultClearer {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Conn = std::unique_ptr<PGconn, ConnCloser>;
using Res = std::unique_ptr<PGresult, ResultClearer>;

// One connection, kept across rounds, with the store's ReadAll query prepared.
class PgReadLoop final : public RawReadLoop {
 public:
  explicit PgReadLoop(Conn conn) : conn_(std::move(conn)) {}
  Result<BenchResult> Scan(int64_t after, int64_t frontier) override;

 private:
  Conn conn_;
};

Result<BenchResult> PgReadLoop::Scan(int64_t after, int64_t frontier) {
  PGconn* conn = conn_.get();
  constexpr int kColumns = 9;
  // Every value's bytes are copied out into buffers reused from row to row.
  std::string copy[kColumns];
  int64_t n = 0, bytes = 0, cursor = after;
  uint64_t ints = 0;  // wraps: only keeps the integer reads observable
  LatencyRecorder lat;
  auto start = Clock::now();
  auto chunk = start;
  while (cursor < frontier) {
    const uint64_t params[3] = {htobe64(static_cast<uint64_t>(cursor)), htobe64(static_cast<uint64_t>(frontier)),
                                htobe64(static_cast<uint64_t>(kStoreReadAllPage))};
    const char* values[3] = {reinterpret_cast<const char*>(&params[0]), reinterpret_cast<const char*>(&params[1]),
                             reinterpret_cast<const char*>(&params[2])};
    const int lengths[3] = {8, 8, 8};
    const int formats[3] = {1, 1, 1};
    Res res(PQexecPrepared(conn, "raw_read_all", 3, values, lengths, formats, /*resultFormat=*/1));
    if (PQresultStatus(res.get()) != PGRES_TUPLES_OK) {
      return Status::Unavailable(std::string("raw read (postgres) query: ") + PQerrorMessage(conn));
    }
    const int rows = PQntuples(res.get());
    for (int row = 0; row < rows; ++row) {
      cursor = Int64At(res.get(), row, 0);
      ints += static_cast<uint64_t>(Int64At(res.get(), row, 2));
      for (int c = 1; c < kColumns; ++c) {
        if (c == 2) continue;
        const int len = PQgetlength(res.get(), row, c);
        copy[c].assign(PQgetvalue(res.get(), row, c), static_cast<size_t>(len));
        bytes += len;
      }
      if (++n % 1000 == 0) {
        auto now = Clock::now();
        lat.Add(now - chunk);
        chunk = now;
      }
    }
    if (rows < kStoreReadAllPage) break;
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  return RawReadResult("postgres",
                       "libpq PQexecPrepared, binary results, over the store's ReadAll query, values copied out", n,
                       secs, lat, bytes, ints);
}

}  // namespace

Result<std::unique_ptr<RawReadLoop>> OpenRawReadPostgres(const BenchOptions& o) {
  if (!o.store.starts_with("postgres")) {
    return Status::InvalidArgument("raw read ceiling (postgres) needs a postgres:// store URI");
  }
  Conn conn(PQconnectdb(LibpqUri(o.store).c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return Status::Unavailable(std::string("raw read (postgres) connect: ") + PQerrorMessage(conn.get()));
  }
  const std::string schema = SchemaOf(o.store);
  for (char c : schema) {  // the store accepts [a-z_][a-z0-9_]* only; quoted as the store does
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return Status::InvalidArgument("raw read (postgres): bad estoria_schema \"" + schema + "\"");
    }
  }
  // The store's read_all statement (src/postgres/schema.cc, kEventColumns of schema.h).
  const std::string sql =
      "SELECT position, stream_id, stream_version, event_id, event_type, created_at, content_type, data, metadata "
      "FROM \"" +
      schema + "\".events WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3";
  const Oid types[3] = {20, 20, 20};  // int8
  Res prepared(PQprepare(conn.get(), "raw_read_all", sql.c_str(), 3, types));
  if (PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
    return Status::Unavailable(std::string("raw read (postgres) prepare: ") + PQerrorMessage(conn.get()));
  }
  return std::unique_ptr<RawReadLoop>(new PgReadLoop(std::move(conn)));
}

}  // namespace estoria::bench
