// estoria-rebuild-bench: rebuild throughput (events/s) of RebuildProjection
// into a SQLite read model (store and read model in SQLite files) and a
// PostgreSQL read model (store and read model in one PostgreSQL schema).
// Rounds alternate between the backends; each round builds the next version
// of the projection from position 0 and cuts over, then abandons the previous
// version; side by side in the same round, a plain Processor (no rebuild
// orchestration: no history, no cut-over) replays the same log into a fresh
// table of the same read model with the same handler. Prints one line per
// round and, per backend, the median rebuild rate and the median of the
// rounds' rebuild/plain ratios.
//
//   estoria-rebuild-bench [--events N] [--rounds R] [--batch B] [--postgres URI]
//                         [--durability strict|relaxed]
// Durability applies to the SQLite read model (the SQLite store is written
// relaxed once beforehand); PostgreSQL runs with the server's settings.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "estoria/postgres/connection.h"
#include "estoria/postgres/postgres_event_store.h"
#include "estoria/postgres/postgres_options.h"
#include "estoria/postgres/postgres_projection_stores.h"
#include "estoria/postgres/postgres_read_model.h"
#include "estoria/projection/processor.h"
#include "estoria/projection/rebuild.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "estoria/sqlite/sqlite_projection_stores.h"
#include "estoria/sqlite/sqlite_read_model.h"

namespace {

using namespace estoria;

Status Fill(EventStore& store, int events) {
  std::vector<WritableEvent> batch(100);
  for (int i = 0; i < events; i += 100) {
    TypeId stream("account", Uuid::NewV7());
    for (auto& e : batch) {
      e.type = "deposited";
      e.data = "{\"amount\":" + std::to_string(i % 97) + "}";
    }
    ESTORIA_RETURN_IF_ERROR(store.AppendStream(stream, batch).status());
  }
  return Status::Ok();
}

struct Backend {
  std::string name;
  std::shared_ptr<EventStore> store;
  std::shared_ptr<RebuildCatalog> catalog;
  RebuildSinkFactory factory;
};

Result<double> Round(Backend& b, int events, int batch) {
  RebuildOptions o;
  o.name = "balances";
  o.tables = {"balance"};
  o.processor.batch_size = batch;
  o.progress_interval = std::chrono::milliseconds(20);
  auto start = std::chrono::steady_clock::now();
  ESTORIA_ASSIGN_OR_RETURN(RebuildResult r, RebuildProjection(b.store, *b.catalog, b.factory, o));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!r.promoted || r.events_done != events) return Status::Internal("rebuild did not complete");
  if (r.version > 1) {
    ESTORIA_RETURN_IF_ERROR(
        AbandonProjectionVersion(*b.catalog, *b.store->global_reader(), "balances", r.version - 1).status());
  }
  return events / seconds;
}

// The baseline: a plain Processor from 0 to the head into version 1000 + round.
Result<double> Plain(Backend& b, int events, int batch, int round) {
  const int version = 1000 + round;
  auto start = std::chrono::steady_clock::now();  // as the rebuild's, includes opening the sink
  ESTORIA_ASSIGN_OR_RETURN(RebuildSink target, b.factory(version));
  ProcessorOptions o;
  o.name = "plain_v" + std::to_string(version);
  o.batch_size = batch;
  o.lock = target.lock;
  ESTORIA_ASSIGN_OR_RETURN(auto p, Processor::Create(b.store, target.sink, o));
  ESTORIA_RETURN_IF_ERROR(p->Start());
  ESTORIA_RETURN_IF_ERROR(p->WaitUntilCaughtUp(std::chrono::minutes(10)));
  ESTORIA_RETURN_IF_ERROR(p->Stop());
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (p->state().position < events) return Status::Internal("plain processor did not complete");
  ESTORIA_RETURN_IF_ERROR(b.catalog->DropTables({"balance_v" + std::to_string(version)}));
  ESTORIA_RETURN_IF_ERROR(b.catalog->checkpoints().Delete(o.name));
  return events / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  int events = 20000, rounds = 5, batch = 256;
  std::string pg_uri;
  Durability durability = Durability::kStrict;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--events") events = std::atoi(v.c_str());
    if (a == "--rounds") rounds = std::atoi(v.c_str());
    if (a == "--batch") batch = std::atoi(v.c_str());
    if (a == "--postgres") pg_uri = v;
    if (a == "--durability") durability = v == "relaxed" ? Durability::kRelaxed : Durability::kStrict;
  }
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "estoria-rebuild-bench: %s\n", s.ToString().c_str());
    return 1;
  };
  std::vector<Backend> backends;
  std::string dir =
      (std::filesystem::temp_directory_path() / ("estoria-rebuild-bench-" + std::to_string(getpid()))).string();
  std::filesystem::create_directories(dir);
  {
    sqlite::SqliteOptions so;
    so.path = dir + "/store.db";
    so.durability = Durability::kRelaxed;
    auto store = sqlite::SqliteEventStore::Open(so);
    if (!store.ok()) return fail(store.error());
    auto catalog = sqlite::SqliteRebuildCatalog::Open({dir + "/model.db"});
    if (!catalog.ok()) return fail(catalog.error());
    std::string model = dir + "/model.db";
    Backend b{"sqlite", *store, *catalog, [model, durability](int v) -> Result<RebuildSink> {
                std::string table = "balance_v" + std::to_string(v);
                sqlite::SqliteReadModelOptions o;
                o.path = model;
                o.durability = durability;
                o.setup = [table](sqlite::SqliteDatabase& db) {
                  return db.Exec("CREATE TABLE IF NOT EXISTS " + table +
                                 " (account TEXT PRIMARY KEY, balance INTEGER NOT NULL)");
                };
                std::string sql = "INSERT INTO " + table +
                                  " (account, balance) VALUES (?, 1) ON CONFLICT(account) DO UPDATE SET balance = "
                                  "balance + 1";
                ESTORIA_ASSIGN_OR_RETURN(
                    auto m, sqlite::SqliteReadModel::Open(o, [sql](sqlite::SqliteDatabase& db, const Event& e) {
                      ESTORIA_ASSIGN_OR_RETURN(sqlite::SqliteStatement * st, db.PrepareCached(sql));
                      ESTORIA_RETURN_IF_ERROR(st->BindText(1, e.stream_id.ToString()));
                      return st->Run();
                    }));
                return RebuildSink{m, m};
              }};
    if (Status s = Fill(*b.store, events); !s.ok()) return fail(s);
    backends.push_back(std::move(b));
  }
  std::string schema = "rebuild_bench_" + std::to_string(getpid());
  if (!pg_uri.empty()) {
    auto po = postgres::ParsePostgresUri(pg_uri);
    if (!po.ok()) return fail(po.error());
    po->schema = schema;
    auto store = postgres::PostgresEventStore::Open(*po);
    if (!store.ok()) return fail(store.error());
    auto catalog = postgres::PostgresRebuildCatalog::Open(*po);
    if (!catalog.ok()) return fail(catalog.error());
    postgres::PostgresOptions opts = *po;
    Backend b{
        "postgres", *store, *catalog, [opts](int v) -> Result<RebuildSink> {
          std::string table = postgres::QuoteIdentifier(opts.schema) + ".balance_v" + std::to_string(v);
          postgres::PostgresReadModelOptions o;
          o.conninfo = opts.conninfo;
          o.schema = opts.schema;
          o.setup = [table](postgres::PgConnection& c) {
            return c
                .Exec("CREATE TABLE IF NOT EXISTS " + table + " (account text PRIMARY KEY, balance bigint NOT NULL)")
                .error();
          };
          std::string sql = "INSERT INTO " + table +
                            " AS t (account, balance) VALUES ($1, 1) ON CONFLICT (account) DO UPDATE SET "
                            "balance = t.balance + 1";
          ESTORIA_ASSIGN_OR_RETURN(
              auto m, postgres::PostgresReadModel::Open(o, [sql](postgres::PgConnection& c, const Event& e) {
                return c.ExecParams(sql, postgres::PgParams().Text(e.stream_id.ToString())).error();
              }));
          return RebuildSink{m, m};
        }};
    if (Status s = Fill(*b.store, events); !s.ok()) return fail(s);
    backends.push_back(std::move(b));
  }
  std::map<std::string, std::vector<double>> rates, plains, ratios;
  for (int r = 0; r < rounds; ++r) {
    for (auto& b : backends) {
      // Alternate which runs first so that neither always gets the warmer cache.
      Result<double> rate = 0.0, plain = 0.0;
      if (r % 2 == 0) {
        rate = Round(b, events, batch);
        if (rate.ok()) plain = Plain(b, events, batch, r);
      } else {
        plain = Plain(b, events, batch, r);
        if (plain.ok()) rate = Round(b, events, batch);
      }
      if (!rate.ok()) return fail(rate.error());
      if (!plain.ok()) return fail(plain.error());
      rates[b.name].push_back(*rate);
      plains[b.name].push_back(*plain);
      ratios[b.name].push_back(*rate / *plain);
      std::printf("round %d %-8s rebuild %.0f events/s, plain processor %.0f events/s, ratio %.2f\n", r + 1,
                  b.name.c_str(), *rate, *plain, *rate / *plain);
      std::fflush(stdout);
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  for (auto& [name, v] : rates) {
    std::printf("median %-8s rebuild %.0f events/s, plain %.0f events/s, ratio %.2f (%d events, batch %d, %d rounds)\n",
                name.c_str(), median(v), median(plains[name]), median(ratios[name]), events, batch, rounds);
  }
  backends.clear();
  std::filesystem::remove_all(dir);
  if (!pg_uri.empty()) {
    postgres::PgConnectOptions co;
    co.conninfo = postgres::ParsePostgresUri(pg_uri).value().conninfo;
    if (auto conn = postgres::PgConnection::Connect(co); conn.ok()) {
      (void)(*conn)->Exec("DROP SCHEMA IF EXISTS " + postgres::QuoteIdentifier(schema) + " CASCADE");
    }
  }
  return 0;
}
