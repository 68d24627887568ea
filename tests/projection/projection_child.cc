// estoria_projection_child: a processor process for the multi-process tests.
//   estoria_projection_child sqlite STORE_PATH MODEL_PATH NAME [INTERVAL_LOG]
//   estoria_projection_child pg SCHEMA NAME [INTERVAL_LOG]      (server: ESTORIA_TEST_POSTGRES)
//   estoria_projection_child pg-tail SCHEMA NAME
// Runs a Processor over the store, writing the totals read model (SQLite file or
// PostgreSQL schema) with the read model as its lock, until SIGTERM (clean
// stop, exit 0) or SIGKILL. With INTERVAL_LOG, every handler call appends
// "B <pid> <position> <monotonic ns>" before and "E ..." after its work, with
// write(2) (so the lines survive a SIGKILL).
// pg-tail: the PostgreSQL processor without a lock and with a poll interval of
// one hour, so that only a NOTIFY can wake it when it is caught up; it starts
// the processor once the store's LISTEN connection is up, and writes
// "caught-up\n" on stdout once the processor has caught up (the parent keeps
// reading the pipe).
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>

#include "estoria/postgres/postgres_event_store.h"
#include "estoria/postgres/postgres_read_model.h"
#include "estoria/projection/processor.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "estoria/sqlite/sqlite_read_model.h"
#include "pg_projection_util.h"
#include "sqlite_totals.h"

namespace {

using namespace estoria;
using namespace std::chrono_literals;

int log_fd = -1;

void LogInterval(char kind, int64_t position) {
  if (log_fd < 0) return;
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  int64_t ns = static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
  char line[96];
  int n = std::snprintf(line, sizeof(line), "%c %d %lld %lld\n", kind, static_cast<int>(getpid()),
                        static_cast<long long>(position), static_cast<long long>(ns));
  if (write(log_fd, line, static_cast<size_t>(n)) != n) std::perror("write interval log");
}

template <typename Conn>
std::function<Status(Conn&, const Event&)> Logged(std::function<Status(Conn&, const Event&)> apply) {
  return [apply](Conn& c, const Event& e) {
    LogInterval('B', e.global_position);
    Status s = apply(c, e);
    LogInterval('E', e.global_position);
    return s;
  };
}

int Fail(const Status& s, const char* what) {
  std::fprintf(stderr, "projection_child: %s: %s\n", what, s.ToString().c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s sqlite STORE MODEL NAME [LOG] | pg SCHEMA NAME [LOG] | pg-tail SCHEMA NAME\n",
                 argv[0]);
    return 64;
  }
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);  // every thread inherits it; main waits below
  // Tell the parent that a SIGTERM from now on means a clean stop.
  if (write(STDOUT_FILENO, "ready\n", 6) != 6) return 2;

  std::string mode = argv[1];
  std::shared_ptr<EventStore> store;
  std::shared_ptr<ProjectionSink> sink;
  std::shared_ptr<ProjectionLock> lock;
  std::string name;
  const char* log_path = nullptr;
  if (mode == "sqlite" && argc >= 5) {
    name = argv[4];
    if (argc >= 6) log_path = argv[5];
    sqlite::SqliteOptions so;
    so.path = argv[2];
    so.durability = Durability::kRelaxed;
    auto opened = sqlite::SqliteEventStore::Open(so);
    if (!opened) return Fail(opened.error(), "open store");
    store = *opened;
    sqlite::SqliteReadModelOptions mo;
    mo.path = argv[3];
    mo.durability = Durability::kRelaxed;
    mo.setup = [](sqlite::SqliteDatabase& db) { return testing::CreateTables(db); };
    mo.lease_ttl = 1000ms;
    auto model = sqlite::SqliteReadModel::Open(
        mo, Logged<sqlite::SqliteDatabase>(
                [](sqlite::SqliteDatabase& db, const Event& e) { return testing::ApplyTotals(db, e); }));
    if (!model) return Fail(model.error(), "open model");
    sink = *model;
    lock = *model;
  } else if (mode == "pg" || mode == "pg-tail") {
    std::string schema = argv[2];
    name = argv[3];
    if (argc >= 5) log_path = argv[4];
    auto opened = postgres::PostgresEventStore::Open(testing::PgOptions(schema));
    if (!opened) return Fail(opened.error(), "open store");
    store = *opened;
    if (mode == "pg-tail") {
      // The listener is connected (LISTEN issued, head read) before the
      // processor starts: from then on every NOTIFY is heard.
      auto& pg = **opened;
      while (pg.stats().listener_connects < 1) (void)pg.WaitForAppend(int64_t{1} << 40, 50ms);
    }
    postgres::PostgresReadModelOptions mo;
    mo.conninfo = testing::PgOptions(schema).conninfo;
    mo.schema = schema;
    mo.setup = [schema](postgres::PgConnection& c) { return testing::PgCreateTables(c, schema); };
    auto model = postgres::PostgresReadModel::Open(
        mo, Logged<postgres::PgConnection>(
                [schema](postgres::PgConnection& c, const Event& e) { return testing::PgApplyTotals(c, schema, e); }));
    if (!model) return Fail(model.error(), "open model");
    sink = *model;
    if (mode == "pg") lock = *model;
  } else {
    std::fprintf(stderr, "projection_child: unknown mode %s\n", mode.c_str());
    return 64;
  }
  if (log_path != nullptr) {
    log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (log_fd < 0) {
      std::perror("open interval log");
      return 2;
    }
  }
  ProcessorOptions po;
  po.name = name;
  po.batch_size = 16;
  po.poll_interval = 20ms;
  po.retry_interval = 50ms;
  po.lock = lock;
  po.lock_retry_interval = 50ms;
  if (mode == "pg-tail") po.poll_interval = std::chrono::hours(1);
  auto processor = Processor::Create(store, sink, po);
  if (!processor) return Fail(processor.error(), "create processor");
  Status started = (*processor)->Start();
  if (!started.ok()) return Fail(started, "start");
  if (mode == "pg-tail") {
    Status caught_up = (*processor)->WaitUntilCaughtUp(std::chrono::seconds(30));
    if (!caught_up.ok()) return Fail(caught_up, "catch up");
    if (write(STDOUT_FILENO, "caught-up\n", 10) != 10) return 2;
  }
  int sig = 0;
  sigwait(&term, &sig);
  Status stopped = (*processor)->Stop();
  if (!stopped.ok()) return Fail(stopped, "stop");
  return 0;
}
