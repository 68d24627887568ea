// The raw SQLite read ceiling: see raw_read_ceiling.h.
#include <sqlite3.h>

#include <chrono>
#include <string>

#include "raw_read_ceiling.h"

namespace estoria::bench {
namespace {

using Clock = std::chrono::steady_clock;

// The SQLite store's ReadAll query without filters as it was when issue 20
// defined this ceiling (columns kEventColumns of src/sqlite/event_rows.h, the
// stream name joined from estoria_streams). The store itself no longer joins
// when there is no stream-type filter (it resolves e.stream_key once per
// stream); the ceiling is kept as defined.
constexpr char kReadAllSql[] =
    "SELECT e.position, s.stream_name, e.stream_version, e.event_type, e.event_uuid, e.timestamp_us, "
    "e.content_type, e.metadata, e.data FROM estoria_events e CROSS JOIN estoria_streams s"
    " WHERE s.stream_key = e.stream_key AND e.position > ?1 AND e.position <= ?2 ORDER BY e.position LIMIT ?3";
constexpr int kColumns = 9;
// The integer columns (0 position, 2 stream_version, 5 timestamp_us) are read
// with sqlite3_column_int64, as the store does; the others are copied out.
constexpr int kByteColumns[] = {1, 3, 4, 6, 7, 8};

// A read-only connection (as the store's readers are) and the prepared query.
class SqliteReadLoop final : public RawReadLoop {
 public:
  ~SqliteReadLoop() override {
    if (stmt_) sqlite3_finalize(stmt_);
    if (db_) sqlite3_close(db_);
  }
  Status Open(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
      return Error("open " + path);
    }
    sqlite3_busy_timeout(db_, 60000);
    if (sqlite3_prepare_v2(db_, kReadAllSql, -1, &stmt_, nullptr) != SQLITE_OK) return Error("prepare");
    return Status::Ok();
  }
  Result<BenchResult> Scan(int64_t after, int64_t frontier) override;

 private:
  Status Error(const std::string& what) {
    return Status::Unavailable("raw read (sqlite) " + what + ": " + (db_ ? sqlite3_errmsg(db_) : "no connection"));
  }
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

Result<BenchResult> SqliteReadLoop::Scan(int64_t after, int64_t frontier) {
  sqlite3_stmt* stmt = stmt_;
  // Every column's bytes are copied out into buffers reused from row to row
  // (what the store does into each Event's strings, minus building the Event).
  std::string copy[kColumns];
  int64_t n = 0, bytes = 0, cursor = after;
  uint64_t ints = 0;  // wraps: only keeps the integer reads observable
  LatencyRecorder lat;
  auto start = Clock::now();
  auto chunk = start;
  while (cursor < frontier) {
    sqlite3_bind_int64(stmt, 1, cursor);
    sqlite3_bind_int64(stmt, 2, frontier);
    sqlite3_bind_int64(stmt, 3, kStoreReadAllPage);
    int64_t rows = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      cursor = sqlite3_column_int64(stmt, 0);
      ints +=
          static_cast<uint64_t>(sqlite3_column_int64(stmt, 2)) + static_cast<uint64_t>(sqlite3_column_int64(stmt, 5));
      for (int c : kByteColumns) {
        const void* p = sqlite3_column_blob(stmt, c);
        const int len = sqlite3_column_bytes(stmt, c);
        copy[c].assign(static_cast<const char*>(p), static_cast<size_t>(p ? len : 0));
        bytes += len;
      }
      ++rows;
      if (++n % 1000 == 0) {
        auto now = Clock::now();
        lat.Add(now - chunk);
        chunk = now;
      }
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) return Error("step");
    if (rows < kStoreReadAllPage) break;
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  return RawReadResult("sqlite", "sqlite3_step over the store's ReadAll query, columns copied out", n, secs, lat, bytes,
                       ints);
}

}  // namespace

Result<std::unique_ptr<RawReadLoop>> OpenRawReadSqlite(const BenchOptions& o) {
  if (!o.store.starts_with("sqlite:") || o.store == "sqlite::memory:") {
    return Status::InvalidArgument("raw read ceiling (sqlite) needs a sqlite:PATH store URI, not " + o.store);
  }
  std::string path = o.store.substr(7);
  path = path.substr(0, path.find('?'));
  auto loop = std::make_unique<SqliteReadLoop>();
  ESTORIA_RETURN_IF_ERROR(loop->Open(path));
  return std::unique_ptr<RawReadLoop>(std::move(loop));
}

}  // namespace estoria::bench
