#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "raw_ceiling.h"
#include "workloads.h"

namespace estoria::bench {
namespace {

using Clock = std::chrono::steady_clock;

// A connection and its INSERT statement, closed on destruction.
class RawConnection {
 public:
  ~RawConnection() {
    if (insert_) sqlite3_finalize(insert_);
    if (db_) sqlite3_close(db_);
  }
  Status Open(const std::string& path, const char* synchronous, bool indexes) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) return Error("open");
    sqlite3_busy_timeout(db_, 60000);
    ESTORIA_RETURN_IF_ERROR(Exec("PRAGMA journal_mode=WAL"));
    ESTORIA_RETURN_IF_ERROR(Exec(std::string("PRAGMA synchronous=") + synchronous));
    ESTORIA_RETURN_IF_ERROR(
        Exec("CREATE TABLE IF NOT EXISTS raw_events (position INTEGER PRIMARY KEY, id BLOB NOT NULL, "
             "stream TEXT NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL, data BLOB NOT NULL, "
             "ts INTEGER NOT NULL)"));
    if (indexes) {  // the two unique indexes the SQLite event store keeps besides the position
      ESTORIA_RETURN_IF_ERROR(Exec("CREATE UNIQUE INDEX IF NOT EXISTS raw_by_stream ON raw_events (stream, version)"));
      ESTORIA_RETURN_IF_ERROR(Exec("CREATE UNIQUE INDEX IF NOT EXISTS raw_by_id ON raw_events (id)"));
    }
    if (sqlite3_prepare_v2(db_,
                           "INSERT INTO raw_events (id, stream, version, type, data, ts) VALUES (?1, ?2, ?3, "
                           "'deposited', ?4, ?5)",
                           -1, &insert_, nullptr) != SQLITE_OK) {
      return Error("prepare");
    }
    return Status::Ok();
  }
  Status Exec(const std::string& sql) {
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) return Error(sql);
    return Status::Ok();
  }
  Status Insert(const std::string& stream, int64_t version, const std::string& data) {
    Uuid id = Uuid::NewV7();
    sqlite3_bind_blob(insert_, 1, id.bytes().data(), 16, SQLITE_STATIC);
    sqlite3_bind_text(insert_, 2, stream.data(), static_cast<int>(stream.size()), SQLITE_STATIC);
    sqlite3_bind_int64(insert_, 3, version);
    sqlite3_bind_blob(insert_, 4, data.data(), static_cast<int>(data.size()), SQLITE_STATIC);
    sqlite3_bind_int64(
        insert_, 5,
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    int rc = sqlite3_step(insert_);
    sqlite3_reset(insert_);
    if (rc != SQLITE_DONE) return Error("insert");
    return Status::Ok();
  }

 private:
  Status Error(const std::string& what) {
    return Status::Unavailable("raw-sqlite " + what + ": " + (db_ ? sqlite3_errmsg(db_) : "no connection"));
  }
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
};

std::string RawPath(const BenchOptions& o) {
  if (!o.raw_path.empty()) return o.raw_path;
  if (o.store.starts_with("sqlite:") && o.store != "sqlite::memory:") {
    std::string path = o.store.substr(7);
    path = path.substr(0, path.find('?'));
    return path + ".raw-ceiling.db";
  }
  return "/tmp/estoria-bench-raw-" + std::to_string(getpid()) + ".db";
}

void RemoveDb(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
}

}  // namespace

Result<BenchResult> RunRawSqlite(const BenchOptions& o) {
  const std::string path = RawPath(o);
  const char* synchronous = o.durability == "relaxed" ? "NORMAL" : "FULL";
  const int writers = std::max(1, o.writers);
  const int batch = std::max(1, o.batch);
  const int64_t txns_per_writer = std::max<int64_t>(1, o.events / (int64_t(writers) * batch));
  RemoveDb(path);
  {
    RawConnection setup;  // creates the file, WAL mode and the table once
    ESTORIA_RETURN_IF_ERROR(setup.Open(path, synchronous, o.raw_indexes));
  }
  std::vector<std::unique_ptr<RawConnection>> conns;
  for (int w = 0; w < writers; ++w) {
    conns.push_back(std::make_unique<RawConnection>());
    ESTORIA_RETURN_IF_ERROR(conns.back()->Open(path, synchronous, o.raw_indexes));
  }
  const std::string payload = MakePayload(o.payload, 1);
  std::vector<LatencyRecorder> lat(writers);
  std::mutex error_mu;
  Status first_error;
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      // Like the append workload, each writer spreads its inserts over its
      // share of the streams (round robin), each stream's versions counting up.
      const int own_streams = std::max(1, o.streams / writers);
      std::vector<std::string> streams;
      for (int k = 0; k < own_streams; ++k) streams.push_back("bench_" + std::to_string(w) + "_" + std::to_string(k));
      std::vector<int64_t> versions(own_streams, 0);
      int64_t next = 0;
      RawConnection& c = *conns[w];
      while (!go.load()) std::this_thread::yield();
      for (int64_t i = 0; i < txns_per_writer; ++i) {
        auto t0 = Clock::now();
        Status st = c.Exec("BEGIN IMMEDIATE");
        const int stream = static_cast<int>(next++ % own_streams);
        for (int k = 0; st.ok() && k < batch; ++k) st = c.Insert(streams[stream], ++versions[stream], payload);
        if (st.ok()) st = c.Exec("COMMIT");
        lat[w].Add(Clock::now() - t0);
        if (!st.ok()) {
          (void)c.Exec("ROLLBACK");
          std::lock_guard<std::mutex> lock(error_mu);
          if (first_error.ok()) first_error = st;
          return;
        }
      }
    });
  }
  auto start = Clock::now();
  go.store(true);
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  conns.clear();
  RemoveDb(path);
  ESTORIA_RETURN_IF_ERROR(first_error);
  const int64_t ops = txns_per_writer * writers;
  BenchResult r =
      BenchResult::Timed("raw-sqlite", "sqlite", ops, ops * batch, secs, "one INSERT+COMMIT transaction", lat);
  r.extra["synchronous"] = synchronous;
  r.extra["journal_mode"] = "WAL";
  r.extra["indexes"] = o.raw_indexes ? "stream+version, id (as the event store)" : "none";
  return r;
}

Result<BenchResult> RunRawCeiling(const BenchOptions& o) {
  std::string backend = BackendOf(o.store);
  if (backend == "sqlite") return RunRawSqlite(o);
  if (backend == "postgres") return RunRawPgbench(o);
  if (backend == "nats") return RunRawNats(o);
  return Status::NotSupported("raw-ceiling: no raw database ceiling for a " + backend + " store");
}

#ifndef ESTORIA_BENCH_NATS
Result<BenchResult> RunRawNats(const BenchOptions&) {
  return Status::NotSupported("raw-nats: this build has no NATS backend (ESTORIA_WITH_NATS)");
}
#endif

}  // namespace estoria::bench
