// A linearizability check of estoria-bank under a crash: concurrent clients
// (threads, real HTTP to the real binary) send deposits and withdrawals of
// random amounts to a few accounts (some with If-Match), summary reads and
// read-model reads (half of them waiting for the client's own last write:
// read-your-writes), and record every operation with its invocation and
// completion time and its reply. After a fixed number of acknowledged writes
// the server is killed with SIGKILL and restarted on the same store; the
// clients carry on against the new process (a request in flight at the kill
// has an unknown outcome). After a second fixed number of acknowledged writes
// the final state is read and the whole history is checked
// (history_checker.h): versions, balances, real-time order, read-your-writes,
// positions, and the final state explained by the acknowledged writes plus a
// subset of the unknown ones. On SQLite, PostgreSQL (ESTORIA_TEST_POSTGRES) and
// NATS (ESTORIA_NATS_URL); sanitizer builds run fewer operations.
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bank_fixture.h"
#include "history_checker.h"

namespace bank_test {
namespace {

using Clock = std::chrono::steady_clock;
using Kind = Operation::Kind;
using Outcome = Operation::Outcome;
using namespace std::chrono_literals;

bool SanitizerBuild() {
  const char* sanitizer = std::getenv("ESTORIA_SANITIZER_BUILD");
  return sanitizer != nullptr && std::string(sanitizer) == "1";
}

// "\"12\"" -> 12 (-1 when absent or malformed).
int64_t ETagVersion(const httplib::Response& res) {
  std::string etag = res.get_header_value("ETag");
  if (etag.size() < 3 || etag.front() != '"' || etag.back() != '"') return -1;
  return std::strtoll(etag.c_str() + 1, nullptr, 10);
}

int64_t HeaderInt(const httplib::Response& res, const char* name) {
  std::string value = res.get_header_value(name);
  return value.empty() ? -1 : std::strtoll(value.c_str(), nullptr, 10);
}

// The servers of one run (one at a time) and the clients' view of them.
class Cluster {
 public:
  explicit Cluster(Clock::time_point origin) : origin_(origin) {}

  int64_t Now() const { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - origin_).count(); }

  // A new server is up (generation + 1) at `port`.
  void Serve(int port) {
    std::lock_guard lock(mu_);
    ++generation_;
    port_ = port;
    cv_.notify_all();
  }
  // The current server is about to be killed.
  void MarkKilled() {
    std::lock_guard lock(mu_);
    killed_ = generation_;
  }
  void StopClients() {
    std::lock_guard lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  bool stopped() {
    std::lock_guard lock(mu_);
    return stop_;
  }

  // The current server: its generation and port.
  std::pair<int, int> Current() {
    std::lock_guard lock(mu_);
    return {generation_, port_};
  }
  // After a request to generation `gen` failed: when that server was killed,
  // waits for the next one (false when the run stops first).
  bool AwaitRestartIfKilled(int gen) {
    std::unique_lock lock(mu_);
    if (killed_ < gen) return true;  // not killed: an error of its own, carry on
    cv_.wait(lock, [&] { return stop_ || generation_ > gen; });
    return !stop_;
  }

  void Acknowledged() {
    std::lock_guard lock(mu_);
    ++acknowledged_;
    cv_.notify_all();
  }
  // Waits until `n` writes were acknowledged in all (false after 120 s).
  bool AwaitAcknowledged(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 120s, [&] { return acknowledged_ >= n; });
  }
  int acknowledged() {
    std::lock_guard lock(mu_);
    return acknowledged_;
  }

 private:
  const Clock::time_point origin_;
  std::mutex mu_;
  std::condition_variable cv_;
  int generation_ = 0;
  int port_ = 0;
  int killed_ = 0;
  bool stop_ = false;
  int acknowledged_ = 0;
};

std::unique_ptr<httplib::Client> NewClient(int port) {
  auto client = std::make_unique<httplib::Client>("127.0.0.1", port);
  client->set_connection_timeout(60, 0);
  client->set_read_timeout(60, 0);
  client->set_write_timeout(60, 0);
  return client;
}

// Sends one operation and records its reply; false when there was none.
// `unexpected` collects replies no bank should give.
bool Perform(httplib::Client& client, Cluster& cluster, Operation& op, std::vector<std::string>& unexpected) {
  const std::string path = "/accounts/" + op.account;
  op.invoked = cluster.Now();
  httplib::Result res = [&] {
    if (op.kind == Kind::kWrite) {
      httplib::Headers headers;
      if (op.if_match) headers.emplace("If-Match", "\"" + std::to_string(*op.if_match) + "\"");
      if (op.if_match_any) headers.emplace("If-Match", "*");
      return PostAmount(client, op.account, op.amount, headers);
    }
    if (op.kind == Kind::kSummaryRead) return client.Get((path + "/summary").c_str());
    return client.Get((op.min_position > 0 ? path + "?min_position=" + std::to_string(op.min_position) : path).c_str());
  }();
  if (!res) {
    op.outcome = op.kind == Kind::kWrite ? Outcome::kUnknown : Outcome::kNoInformation;
    return false;
  }
  op.completed = cluster.Now();
  const int status = res->status;
  if (op.kind == Kind::kWrite) {
    op.version = ETagVersion(*res);
    switch (status) {
      case 204:
        op.outcome = Outcome::kOk;
        op.position = HeaderInt(*res, "X-Global-Position");
        break;
      case 412:
        op.outcome = Outcome::kPreconditionFailed;
        break;
      case 422:
        op.outcome = Outcome::kInsufficientFunds;
        break;
      case 409:
        op.outcome = Outcome::kConflict;
        break;
      default:
        // 5xx: the store was unreachable; the append may have happened.
        op.outcome = Outcome::kUnknown;
        op.completed = Operation::kNever;
        if (status < 500) unexpected.push_back(Describe(op) + ": HTTP " + std::to_string(status) + " " + res->body);
    }
    return true;
  }
  if (status == 200) {
    nlohmann::json body = JsonBody(res);
    if (!body.is_object() || !body["version"].is_number_integer() || !body["balance"].is_number_integer()) {
      unexpected.push_back(Describe(op) + ": bad body " + res->body);
      op.outcome = Outcome::kNoInformation;
      return true;
    }
    op.outcome = Outcome::kOk;
    op.version = body["version"].get<int64_t>();
    op.balance = body["balance"].get<int64_t>();
    if (op.kind == Kind::kModelRead) op.position = body["position"].get<int64_t>();
  } else if (status == 404) {
    op.outcome = Outcome::kNotFound;
    if (op.kind == Kind::kModelRead) op.position = HeaderInt(*res, "X-Global-Position");
  } else {
    op.outcome = Outcome::kNoInformation;  // 503: the read model is behind or restarting
    if (status != 503) unexpected.push_back(Describe(op) + ": HTTP " + std::to_string(status) + " " + res->body);
  }
  return true;
}

// One client: random operations on random accounts until the run stops.
void RunClient(int id, Cluster& cluster, const std::vector<std::string>& accounts, HistoryLog& log,
               std::vector<std::string>& unexpected) {
  std::mt19937_64 rng(static_cast<uint64_t>(id) * 7919 + static_cast<uint64_t>(std::random_device{}()));
  std::map<std::string, int64_t> seen_version, own_position;
  auto [gen, port] = cluster.Current();
  auto client = NewClient(port);
  while (!cluster.stopped()) {
    Operation op;
    op.client = id;
    op.account = accounts[rng() % accounts.size()];
    const int dice = static_cast<int>(rng() % 100);
    if (dice < 50) {
      op.kind = Kind::kWrite;
      op.amount = rng() % 100 < 60 ? 1 + static_cast<int64_t>(rng() % 1000) : -1 - static_cast<int64_t>(rng() % 1200);
      const int condition = static_cast<int>(rng() % 100);
      if (condition < 20 && seen_version.contains(op.account)) op.if_match = seen_version[op.account];
      if (condition >= 95) op.if_match_any = true;
    } else if (dice < 70) {
      op.kind = Kind::kSummaryRead;
    } else {
      op.kind = Kind::kModelRead;
      // Half of them read their own last write to this account.
      if (rng() % 2 == 0 && own_position.contains(op.account)) op.min_position = own_position[op.account];
    }
    const bool replied = Perform(*client, cluster, op, unexpected);
    if (op.outcome == Outcome::kOk && op.kind == Kind::kWrite) {
      own_position[op.account] = op.position;
      cluster.Acknowledged();
    }
    if (op.outcome == Outcome::kOk || op.outcome == Outcome::kPreconditionFailed ||
        op.outcome == Outcome::kInsufficientFunds) {
      seen_version[op.account] = op.version;
    }
    log.Add(op);
    if (!replied) {
      if (!cluster.AwaitRestartIfKilled(gen)) break;
      std::tie(gen, port) = cluster.Current();
      client = NewClient(port);
    }
  }
}

class BankHistoryTest : public BankTest {};

TEST_P(BankHistoryTest, KillNineMidRunKeepsTheHistoryLinearizable) {
  const bool sanitizer = SanitizerBuild();
  const int kClients = 8, kAccounts = 4;
  // Acknowledged writes before the kill, and in all.
  const int kKillAfter = sanitizer ? 40 : 150, kTotal = sanitizer ? 80 : 300;
  std::vector<std::string> accounts;
  for (int a = 0; a < kAccounts; ++a) accounts.push_back(NewAccountId());
  const Clock::time_point started = Clock::now();
  Cluster cluster(started);
  HistoryLog log;
  std::vector<std::vector<std::string>> unexpected(kClients);

  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  cluster.Serve(server->port());
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] { RunClient(c, cluster, accounts, log, unexpected[static_cast<size_t>(c)]); });
  }
  // Deterministic trigger: the kill comes after kKillAfter acknowledged writes.
  bool reached = cluster.AwaitAcknowledged(kKillAfter);
  cluster.MarkKilled();
  EXPECT_EQ(server->Stop(SIGKILL), 128 + SIGKILL);
  const int acknowledged_at_kill = cluster.acknowledged();
  const auto killed_at = Clock::now();
  server = StartServer();
  const auto restarted_at = Clock::now();
  if (server != nullptr) {
    cluster.Serve(server->port());
    reached = reached && cluster.AwaitAcknowledged(kTotal);
  }
  cluster.StopClients();
  for (auto& t : threads) t.join();
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(reached) << "the clients did not reach " << kTotal << " acknowledged writes";
  for (const auto& list : unexpected) {
    for (const auto& u : list) ADD_FAILURE() << "unexpected reply: " << u;
  }

  // The final state: every account's summary and its read-model row at the
  // store's head, read after every client stopped.
  auto client = server->Client();
  auto health = client->Get("/healthz");
  ASSERT_TRUE(health);
  ASSERT_EQ(health->status, 200) << health->body;
  const int64_t head = JsonBody(health)["head_position"].get<int64_t>();
  std::vector<std::string> final_unexpected;
  for (const auto& account : accounts) {
    for (Kind kind : {Kind::kSummaryRead, Kind::kModelRead}) {
      Operation op;
      op.client = kClients;  // the checker's own reads
      op.account = account;
      op.kind = kind;
      if (kind == Kind::kModelRead) op.min_position = head;
      ASSERT_TRUE(Perform(*client, cluster, op, final_unexpected)) << Describe(op);
      ASSERT_TRUE(op.outcome == Outcome::kOk || op.outcome == Outcome::kNotFound) << Describe(op);
      log.Add(op);
    }
  }
  EXPECT_TRUE(final_unexpected.empty()) << final_unexpected.front();

  std::vector<Operation> history = log.Take();
  const auto check_started = Clock::now();
  HistoryReport report = CheckHistory(history);
  const double check_ms = std::chrono::duration<double, std::milli>(Clock::now() - check_started).count();
  const double run_s = std::chrono::duration<double>(check_started - started).count();
  EXPECT_TRUE(report.ok()) << report.ToString() << "\nserver output:\n" << server->Output();
  EXPECT_GE(report.writes_acknowledged, kTotal);
  EXPECT_GT(report.reads, 0);
  std::cout << "[history] " << GetParam() << ": " << history.size() << " operations in " << run_s << " s, kill -9 at "
            << std::chrono::duration<double>(killed_at - started).count() << " s after " << acknowledged_at_kill
            << " acknowledged writes, restarted in " << std::chrono::duration<double>(restarted_at - killed_at).count()
            << " s; " << report.ToString() << " (checked in " << check_ms << " ms)\n";
}

INSTANTIATE_TEST_SUITE_P(Backends, BankHistoryTest, ::testing::Values("sqlite", "postgres", "nats"), BackendName);

}  // namespace
}  // namespace bank_test
