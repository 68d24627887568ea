#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "raw_ceiling.h"
#include "workloads.h"

namespace estoria::bench {

std::string LibpqUri(const std::string& uri) {
  static const std::set<std::string> kLibpq = {"host",
                                               "hostaddr",
                                               "port",
                                               "dbname",
                                               "user",
                                               "password",
                                               "sslmode",
                                               "connect_timeout",
                                               "application_name",
                                               "options",
                                               "target_session_attrs",
                                               "passfile",
                                               "keepalives"};
  auto q = uri.find('?');
  if (q == std::string::npos) return uri;
  std::string base = uri.substr(0, q), kept;
  std::stringstream params(uri.substr(q + 1));
  std::string kv;
  while (std::getline(params, kv, '&')) {
    if (kLibpq.contains(kv.substr(0, kv.find('=')))) kept += (kept.empty() ? "" : "&") + kv;
  }
  return kept.empty() ? base : base + "?" + kept;
}

namespace {

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs a shell command; returns its stdout, or Unavailable with the output.
Result<std::string> Run(const std::string& cmd) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return Status::Internal("popen failed");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  if (rc != 0) {
    std::string tail = out.size() > 400 ? out.substr(out.size() - 400) : out;
    for (char& c : tail) {
      if (c == '\n') c = ' ';
    }
    return Status::Unavailable("command failed (" + cmd.substr(0, cmd.find(' ')) + "): " + tail);
  }
  return out;
}

}  // namespace

Result<BenchResult> RunRawPgbench(const BenchOptions& o) {
  if (!o.store.starts_with("postgres")) return Status::InvalidArgument("raw-pgbench needs a postgres:// store URI");
  const std::string uri = LibpqUri(o.store);
  const int clients = std::max(1, o.writers);
  const int batch = std::max(1, o.batch);
  const int64_t txns_per_client = std::max<int64_t>(1, o.events / (int64_t(clients) * batch));
  char tmpl[] = "/tmp/estoria-pgbench.XXXXXX";
  if (!mkdtemp(tmpl)) return Status::Internal("mkdtemp failed");
  const std::filesystem::path dir = tmpl;
  struct Cleanup {
    std::filesystem::path dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir};

  const std::string table = "estoria_bench_raw";
  ESTORIA_RETURN_IF_ERROR(Run("psql -X -q -v ON_ERROR_STOP=1 " + ShellQuote(uri) + " -c " +
                              ShellQuote("DROP TABLE IF EXISTS " + table + "; CREATE TABLE " + table +
                                         " (position bigserial PRIMARY KEY, id uuid NOT NULL DEFAULT "
                                         "gen_random_uuid(), stream text NOT NULL, version bigint NOT NULL, "
                                         "type text NOT NULL, data bytea NOT NULL, ts timestamptz NOT NULL "
                                         "DEFAULT now())"))
                              .status());
  {
    std::ofstream script(dir / "insert.sql");
    std::string payload = MakePayload(o.payload, 1);
    if (batch > 1) script << "BEGIN;\n";
    for (int k = 0; k < batch; ++k) {
      script << "INSERT INTO " << table << " (stream, version, type, data) VALUES ('bench_' || :client_id, " << k + 1
             << ", 'deposited', convert_to('" << payload << "', 'UTF8'));\n";
    }
    if (batch > 1) script << "COMMIT;\n";
  }
  std::string env = o.durability == "relaxed" ? "PGOPTIONS='-c synchronous_commit=off' " : "";
  std::string cmd = env + o.pgbench + " -n -f " + ShellQuote((dir / "insert.sql").string()) + " -c " +
                    std::to_string(clients) + " -j " + std::to_string(clients) + " -t " +
                    std::to_string(txns_per_client) + " -l --log-prefix=" + ShellQuote((dir / "log").string()) + " " +
                    ShellQuote(uri);
  ESTORIA_ASSIGN_OR_RETURN(std::string out, Run(cmd));
  (void)Run("psql -X -q " + ShellQuote(uri) + " -c " + ShellQuote("DROP TABLE IF EXISTS " + table));

  std::smatch m;
  static const std::regex kTps(R"(tps = ([0-9.]+) \(without initial connection time\))");
  if (!std::regex_search(out, m, kTps)) return Status::Internal("cannot parse pgbench output: " + out);
  double tps = std::stod(m[1]);
  static const std::regex kProcessed(R"(number of transactions actually processed: ([0-9]+))");
  int64_t processed = std::regex_search(out, m, kProcessed) ? std::stoll(m[1]) : txns_per_client * clients;
  // Per-transaction logs: "client_id transaction_no latency_us script_no epoch epoch_us".
  LatencyRecorder lat;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.path().filename().string().starts_with("log")) continue;
    std::ifstream log(entry.path());
    int64_t client, txn, latency_us;
    std::string rest;
    while (log >> client >> txn >> latency_us && std::getline(log, rest)) lat.AddMicros(double(latency_us));
  }
  BenchResult r;
  r.workload = "raw-pgbench";
  r.backend = "postgres";
  r.operations = processed;
  r.events = processed * batch;
  r.ops_per_sec = tps;
  r.events_per_sec = tps * batch;
  r.seconds = tps > 0 ? processed / tps : 0;
  r.latency_of = "one pgbench transaction";
  r.SetLatency(lat);
  r.extra["synchronous_commit"] = o.durability == "relaxed" ? "off" : "on";
  r.extra["clients"] = clients;
  return r;
}

}  // namespace estoria::bench
