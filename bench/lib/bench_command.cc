#include "bench_command.h"

#include <memory>
#include <optional>

#include "cache_workload.h"
#include "command_workload.h"
#include "load_workload.h"
#include "raw_ceiling.h"
#include "raw_read_ceiling.h"
#include "workloads.h"
#ifdef ESTORIA_BENCH_NATS
#include "nats_bench.h"
#endif

namespace estoria::bench {

const std::vector<std::string>& WorkloadNames() {
  static const std::vector<std::string> kNames = {
      "append",     "read-stream", "read-all", "project",   "tail-latency",     "load",       "commands", "raw-ceiling",
      "raw-sqlite", "raw-pgbench", "raw-nats", "footprint", "raw-read-ceiling", "cached-load"};
  return kNames;
}

void AddBenchOptions(CLI::App& cmd, BenchOptions& o) {
  cmd.add_option("WORKLOAD", o.workload,
                 "append | read-stream | read-all | project | tail-latency | load | commands | "
                 "raw-ceiling | raw-sqlite | raw-pgbench | raw-nats | footprint | raw-read-ceiling | cached-load")
      ->required()
      ->check(CLI::IsMember(WorkloadNames()));
  cmd.add_option("--writers", o.writers, "Writer (or reader) threads / pgbench clients (default 1)")
      ->check(CLI::PositiveNumber);
  cmd.add_option("--streams", o.streams, "Distinct streams (default 100)")->check(CLI::PositiveNumber);
  cmd.add_option("--events", o.events, "Events to write or read (default 10000)")->check(CLI::PositiveNumber);
  cmd.add_option("--batch", o.batch, "Events per append / transaction (default 1)")->check(CLI::PositiveNumber);
  cmd.add_option("--payload", o.payload, "Payload bytes per event (default 100)")->check(CLI::NonNegativeNumber);
  cmd.add_option("--durability", o.durability, "strict (default) or relaxed")
      ->check(CLI::IsMember({"strict", "relaxed"}));
  cmd.add_option("--rate", o.rate, "tail-latency: appends per second (default 1000)")->check(CLI::PositiveNumber);
  cmd.add_option("--setup-batch", o.setup_batch,
                 "read-stream, read-all, project: events per append when writing the events to read (untimed; "
                 "default 100)")
      ->check(CLI::PositiveNumber);
  cmd.add_flag("--raw-indexes", o.raw_indexes,
               "raw-sqlite: give the raw table the two unique indexes the SQLite event store keeps "
               "((stream, version) and event id), so that the ratio shows the store's own overhead");
  cmd.add_option("--raw-path", o.raw_path, "raw-sqlite: database file (default: beside the store file, or /tmp)");
  cmd.add_option("--pgbench", o.pgbench, "raw-pgbench: the pgbench binary (default /usr/bin/pgbench)");
  cmd.add_option("--in-flight", o.in_flight,
                 "append: pipelined appends each writer keeps outstanding (default 1: synchronous "
                 "AppendStream; more needs a store with pipelined appends, nats://)")
      ->check(CLI::PositiveNumber);
  cmd.add_option("--raw-connections", o.raw_connections,
                 "raw-nats: shared (default: one connection for all writers, as the store has) or per-writer")
      ->check(CLI::IsMember({"shared", "per-writer"}));
  cmd.add_option("--history", o.history, "load: comma-separated history lengths (default 10,100,1000,10000)");
  cmd.add_option("--snapshot-every", o.snapshot_every, "load: snapshot every N events (default 100)")
      ->check(CLI::PositiveNumber);
  cmd.add_option("--redis", o.redis,
                 "cached-load: Redis URI (redis://host:port/db) of the shared-cache side (default: no Redis side)")
      ->envname("ESTORIA_BENCH_REDIS");
  cmd.add_option("--aggregates", o.aggregates,
                 "commands: aggregates the commands go to; cached-load: aggregates loaded (default 1)")
      ->check(CLI::PositiveNumber);
  cmd.add_flag("--vs-raw", o.vs_raw,
               "read-all (sqlite:, postgres:// stores): also time the raw read ceiling over the same rows, in "
               "--rounds interleaved rounds (raw loop, then ReadAll); each read-all row gets ratio_to_raw");
  cmd.add_option("--rounds", o.rounds,
                 "commands: interleaved rounds, old path then executor; read-all --vs-raw: raw loop then "
                 "ReadAll; cached-load: cold, lru, redis (default 3)")
      ->check(CLI::PositiveNumber);
  cmd.add_option("--start-at", o.start_at_ms,
                 "append: start the timed part at this Unix time in milliseconds, so that several processes "
                 "run together (their rows carry started_unix_us and ended_unix_us)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--seconds", o.seconds, "commands: seconds per side and round (default 3)")
      ->check(CLI::PositiveNumber);
}

Status RunBench(const BenchOptions& options, bool json, std::ostream& out) {
  BenchOptions o = options;
#ifdef ESTORIA_BENCH_NATS
  // nats:// stores: every run on a fresh JetStream stream, deleted afterwards
  // (nats_bench.h). The raw ceiling creates its own.
  std::optional<NatsRunStream> fresh;
  if (BackendOf(o.store) == "nats" && !o.workload.starts_with("raw-")) {
    ESTORIA_ASSIGN_OR_RETURN(NatsRunStream run_stream, NatsRunStream::For(o.store));
    fresh.emplace(std::move(run_stream));
    o.store = fresh->uri();
  }
#endif
  std::vector<BenchResult> results;
  Result<BenchResult> one = Status::InvalidArgument("unknown workload \"" + o.workload + "\"");
  if (o.workload == "append") one = RunAppend(o);
  if (o.workload == "read-stream") one = RunReadStream(o);
  if (o.workload == "read-all" && !o.vs_raw) one = RunReadAll(o);
  if (o.workload == "raw-read-ceiling") one = RunRawReadCeiling(o);
  if (o.workload == "project") one = RunProject(o);
  if (o.workload == "tail-latency") one = RunTailLatency(o);
  if (o.workload == "raw-ceiling") one = RunRawCeiling(o);
  if (o.workload == "raw-sqlite") one = RunRawSqlite(o);
  if (o.workload == "raw-pgbench") one = RunRawPgbench(o);
  if (o.workload == "raw-nats") one = RunRawNats(o);
  if (o.workload == "footprint") one = RunFootprint(o);
  if (o.workload == "commands") {
    ESTORIA_ASSIGN_OR_RETURN(results, RunCommands(o));
  } else if (o.workload == "read-all" && o.vs_raw) {
    auto rounds = RunReadAllVsRaw(o);
    if (!rounds) return rounds.error().WithContext("bench read-all");
    results = std::move(*rounds);
  } else if (o.workload == "load") {
    ESTORIA_ASSIGN_OR_RETURN(results, RunLoad(o));
  } else if (o.workload == "cached-load") {
    ESTORIA_ASSIGN_OR_RETURN(results, RunCachedLoad(o));
  } else {
    if (!one) return one.error().WithContext("bench " + o.workload);
    results.push_back(std::move(*one));
  }
#ifdef ESTORIA_BENCH_NATS
  if (fresh) {
    for (BenchResult& r : results) r.extra["replicas"] = fresh->replicas();
  }
#endif
  for (const BenchResult& r : results) {
    if (json) {
      out << ToJson(r, o).dump() << '\n';
    } else {
      PrintHuman(out, r, o);
    }
  }
  out.flush();
  return Status::Ok();
}

}  // namespace estoria::bench
