// Black-box tests of estoria-bank under concurrency, restarts and crashes:
// 64 concurrent clients on one account, restart keeps everything, the read
// model converges to the on-demand summaries, min_position gives
// read-your-writes, kill -9 under load loses no acknowledged command, SIGTERM
// finishes in-flight requests and exits 0, and on NATS the read model and its
// checkpoint are a SQLite file of their own.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bank_fixture.h"
#ifdef BANK_TEST_WITH_NATS
#include <filesystem>

#include "estoria/open.h"
#include "estoria/sqlite/sqlite_checkpoint_store.h"
#endif

namespace bank_test {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

class BankDurabilityTest : public BankTest {};

Json Get(httplib::Client& client, const std::string& path, int expected_status = 200) {
  auto res = client.Get(path.c_str());
  if (!res) {
    ADD_FAILURE() << "GET " << path << ": no reply: " << httplib::to_string(res.error());
    return nullptr;
  }
  EXPECT_EQ(res->status, expected_status) << "GET " << path << ": " << res->body;
  return JsonBody(res);
}

int64_t Head(httplib::Client& client) { return Get(client, "/healthz")["head_position"].get<int64_t>(); }

// Every account of the read model, read page by page (limit 7) after waiting
// for `min_position`.
std::map<std::string, Json> ReadModelAccounts(httplib::Client& client, int64_t min_position) {
  std::map<std::string, Json> out;
  std::string after;
  for (int page = 0; page < 1000; ++page) {
    std::string path = "/accounts?limit=7&min_position=" + std::to_string(min_position);
    if (!after.empty()) path += "&after=" + after;
    Json body = Get(client, path);
    if (!body.is_object()) break;
    EXPECT_GE(body["position"].get<int64_t>(), min_position);
    const Json& accounts = body["accounts"];
    for (const Json& a : accounts) {
      std::string id = a["id"];
      EXPECT_GT(id, after) << "not ordered by id";
      after = id;
      out[id] = a;
    }
    if (accounts.size() < 7) break;
  }
  return out;
}

TEST_P(BankDurabilityTest, SixtyFourConcurrentClientsOnOneAccount) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::string id = NewAccountId();
  // Sanitizer builds (ESTORIA_SANITIZER_BUILD=1, set by scripts/run-tests) are
  // ~10x slower: fewer commands per client, still 64 at once.
  const char* sanitizer = std::getenv("ESTORIA_SANITIZER_BUILD");
  const int kClients = 64, kPerClient = sanitizer != nullptr && std::string(sanitizer) == "1" ? 2 : 4;
  std::mutex mu;
  std::vector<int64_t> versions, positions;
  std::atomic<int> conflicts{0}, unexpected{0}, lost{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&] {
      auto client = server->Client();
      for (int i = 0; i < kPerClient; ++i) {
        auto res = PostAmount(*client, id, 1);
        if (!res) {
          ++lost;
          std::lock_guard lock(mu);
          ADD_FAILURE() << "no reply: " << httplib::to_string(res.error());
        } else if (res->status == 204) {
          std::string etag = res->get_header_value("ETag");
          std::lock_guard lock(mu);
          versions.push_back(std::stoll(etag.substr(1, etag.size() - 2)));
          positions.push_back(std::stoll(res->get_header_value("X-Global-Position")));
        } else if (res->status == 409) {
          ++conflicts;
        } else {
          ++unexpected;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(lost.load(), 0) << "requests without a reply";
  EXPECT_EQ(unexpected.load(), 0);
  const int64_t ok = static_cast<int64_t>(versions.size());
  EXPECT_EQ(ok + conflicts.load(), kClients * kPerClient);
  EXPECT_GT(ok, 0);
  // Each 204 got its own version and position: versions are exactly 1..ok.
  std::sort(versions.begin(), versions.end());
  for (int64_t v = 1; v <= ok; ++v) ASSERT_EQ(versions[v - 1], v);
  EXPECT_EQ(std::set<int64_t>(positions.begin(), positions.end()).size(), positions.size());

  auto client = server->Client();
  Json summary = Get(*client, "/accounts/" + id + "/summary");
  EXPECT_EQ(summary["balance"], ok);
  EXPECT_EQ(summary["version"], ok);
  int64_t last = *std::max_element(positions.begin(), positions.end());
  Json row = Get(*client, "/accounts/" + id + "?min_position=" + std::to_string(last));
  EXPECT_EQ(row["balance"], ok);
  EXPECT_EQ(row["version"], ok);
}

TEST_P(BankDurabilityTest, RestartKeepsEverything) {
  std::vector<std::string> ids;
  std::map<std::string, Json> before;
  int64_t head = 0;
  {
    auto server = StartServer();
    ASSERT_NE(server, nullptr);
    auto client = server->Client();
    for (int a = 0; a < 5; ++a) {
      ids.push_back(NewAccountId());
      for (int i = 1; i <= a + 2; ++i) ASSERT_EQ(PostAmount(*client, ids.back(), 10 * i)->status, 204);
      ASSERT_EQ(PostAmount(*client, ids.back(), -5)->status, 204);
    }
    head = Head(*client);
    for (const auto& id : ids) before[id] = Get(*client, "/accounts/" + id + "/summary");
    EXPECT_EQ(ReadModelAccounts(*client, head).size(), ids.size());
    EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Output();
    EXPECT_NE(server->Output().find("stopped; read model checkpointed at position " + std::to_string(head)),
              std::string::npos)
        << server->Output();
  }
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = server->Client();
  EXPECT_EQ(Head(*client), head);
  // The read model resumes from its checkpoint: already at the head.
  EXPECT_EQ(Get(*client, "/accounts")["position"], head);
  auto rows = ReadModelAccounts(*client, head);
  ASSERT_EQ(rows.size(), ids.size());
  for (const auto& id : ids) {
    EXPECT_EQ(Get(*client, "/accounts/" + id + "/summary"), before[id]);
    Json row = rows[id];
    EXPECT_EQ(row, before[id]);
  }
  // Commands continue from the stored versions.
  auto res = PostAmount(*client, ids[0], 1,
                        {{"If-Match", "\"" + std::to_string(before[ids[0]]["version"].get<int64_t>()) + "\""}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 204) << res->body;
}

TEST_P(BankDurabilityTest, ReadModelConvergesToSummaries) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  std::vector<std::string> ids;
  for (int a = 0; a < 20; ++a) ids.push_back(NewAccountId());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      auto client = server->Client();
      for (int i = 0; i < 25; ++i) {
        const std::string& id = ids[rng() % ids.size()];
        int amount = static_cast<int>(rng() % 200) - 80;
        if (amount == 0) amount = 1;
        auto res = PostAmount(*client, id, amount);
        if (!res || (res->status != 204 && res->status != 422)) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto client = server->Client();
  int64_t head = Head(*client);
  auto rows = ReadModelAccounts(*client, head);
  int with_events = 0;
  for (const auto& id : ids) {
    auto res = client->Get(("/accounts/" + id + "/summary").c_str());
    ASSERT_TRUE(res);
    if (res->status == 404) {
      EXPECT_EQ(rows.count(id), 0u);
      continue;
    }
    ++with_events;
    ASSERT_EQ(rows.count(id), 1u) << id;
    EXPECT_EQ(rows[id], JsonBody(res)) << id;
    EXPECT_GE(rows[id]["balance"].get<int64_t>(), 0);
  }
  EXPECT_EQ(static_cast<int>(rows.size()), with_events);
  // min_balance filters the same rows.
  const int64_t threshold = 100;
  Json filtered = Get(*client, "/accounts?limit=1000&min_balance=" + std::to_string(threshold));
  size_t expected = 0;
  for (const auto& [id, row] : rows) expected += row["balance"].get<int64_t>() >= threshold ? 1 : 0;
  EXPECT_EQ(filtered["accounts"].size(), expected);
  for (const Json& a : filtered["accounts"]) EXPECT_GE(a["balance"].get<int64_t>(), threshold);
}

TEST_P(BankDurabilityTest, MinPositionGivesReadYourWrites) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = server->Client();
  const std::string id = NewAccountId();
  int64_t balance = 0;
  for (int i = 1; i <= 30; ++i) {
    auto res = PostAmount(*client, id, i);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 204);
    balance += i;
    std::string position = res->get_header_value("X-Global-Position");
    Json row = Get(*client, "/accounts/" + id + "?min_position=" + position);
    EXPECT_EQ(row["balance"], balance);
    EXPECT_EQ(row["version"], i);
    Json list = Get(*client, "/accounts?min_position=" + position);
    ASSERT_EQ(list["accounts"].size(), 1u);
    EXPECT_EQ(list["accounts"][0]["balance"], balance);
  }
}

TEST_P(BankDurabilityTest, KillNineUnderLoadLosesNoAcknowledgedCommand) {
  std::vector<std::string> ids;
  for (int a = 0; a < 8; ++a) ids.push_back(NewAccountId());
  std::mutex mu;
  std::map<std::string, int64_t> acked, attempted;
  std::atomic<int> acked_total{0};
  {
    auto server = StartServer();
    ASSERT_NE(server, nullptr);
    std::atomic<bool> killed{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937 rng(t);
        auto client = server->Client();
        while (!killed) {
          const std::string& id = ids[rng() % ids.size()];
          {
            std::lock_guard lock(mu);
            ++attempted[id];
          }
          auto res = PostAmount(*client, id, 1);
          if (!res) break;  // the server is gone
          if (res->status == 204) {
            std::lock_guard lock(mu);
            ++acked[id];
            ++acked_total;
          }
        }
      });
    }
    // Load is running once some commands were acknowledged; then kill -9.
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (acked_total < 200 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    EXPECT_EQ(server->Stop(SIGKILL), 128 + SIGKILL);
    killed = true;
    for (auto& t : threads) t.join();
  }
  ASSERT_GE(acked_total.load(), 200);
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = server->Client();
  int64_t head = Head(*client);
  auto rows = ReadModelAccounts(*client, head);
  int64_t total = 0;
  for (const auto& id : ids) {
    auto res = client->Get(("/accounts/" + id + "/summary").c_str());
    ASSERT_TRUE(res);
    if (acked[id] > 0) {
      ASSERT_EQ(res->status, 200) << id;
    }
    if (res->status == 404) {
      EXPECT_EQ(rows.count(id), 0u);
      continue;
    }
    Json summary = JsonBody(res);
    int64_t balance = summary["balance"];
    EXPECT_GE(balance, acked[id]) << "an acknowledged command was lost";
    EXPECT_LE(balance, attempted[id]);
    EXPECT_EQ(summary["version"], balance);  // only +1 commands
    ASSERT_EQ(rows.count(id), 1u);
    EXPECT_EQ(rows[id], summary);
    total += balance;
  }
  EXPECT_EQ(total, head);  // every event in the store belongs to these accounts
}

TEST_P(BankDurabilityTest, SigtermFinishesInFlightRequestsAndExitsZero) {
  auto server = StartServer({"--min-position-timeout-ms", "3000"});
  ASSERT_NE(server, nullptr);
  auto client = server->Client();
  ASSERT_EQ(PostAmount(*client, NewAccountId(), 5)->status, 204);
  // A request that stays in flight for 3 s: it waits for a position never reached.
  std::thread in_flight([&] {
    auto c = server->Client();
    auto res = c->Get("/accounts?min_position=1000000");
    ASSERT_TRUE(res) << "the in-flight request was cut: " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 503);
    EXPECT_EQ(JsonBody(res)["error"]["code"], "read_model_behind");
  });
  // Wait until the server counts it in flight (this /metrics request is the other one).
  bool seen = false;
  for (int i = 0; i < 500 && !seen; ++i) {
    auto res = client->Get("/metrics");
    seen = res && res->body.find("estoria_bank_http_requests_in_flight 2\n") != std::string::npos;
    if (!seen) std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(seen);
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Output();
  in_flight.join();
  EXPECT_NE(server->Output().find("stopped; read model checkpointed at position 1"), std::string::npos)
      << server->Output();
}

BANK_INSTANTIATE(BankDurabilityTest);

#ifdef BANK_TEST_WITH_NATS
// On NATS, started with --store only, the read model and the projection's
// checkpoint live in a SQLite file of their own (the server's default,
// data/nats-<stream>-read-model.db in its working folder); the JetStream
// stream holds the account events and nothing else.
TEST(BankNatsTest, ReadModelAndCheckpointLiveInASqliteFile) {
  std::string skip;
  auto backend = BankBackend::Create("nats", &skip);
  if (!backend) GTEST_SKIP() << skip;
  const std::string stream = backend->uri().substr(backend->uri().find("?stream=") + 8);
  const std::string file = "data/nats-" + stream + "-read-model.db";
  std::string error;
  auto server = BankProcess::Start(backend->uri(), {}, &error, backend->dir());
  ASSERT_NE(server, nullptr) << error;
  EXPECT_NE(server->Output().find("read model:  sqlite:" + file + "\n"), std::string::npos) << server->Output();
  auto client = server->Client();
  const std::string id = NewAccountId();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(PostAmount(*client, id, 10)->status, 204);
  EXPECT_EQ(Get(*client, "/accounts/" + id + "?min_position=3")["balance"], 30);
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Output();

  estoria::sqlite::SqliteStoreOptions options;
  options.path = backend->dir() + "/" + file;
  ASSERT_TRUE(std::filesystem::exists(options.path)) << options.path;
  auto checkpoints = estoria::sqlite::SqliteCheckpointStore::Open(options);
  ASSERT_TRUE(checkpoints.has_value()) << checkpoints.error();
  auto checkpoint = (*checkpoints)->Load("bank_accounts_v1");
  ASSERT_TRUE(checkpoint.has_value()) << checkpoint.error();
  EXPECT_EQ(*checkpoint, 3);

  auto store = estoria::OpenEventStore(backend->uri());
  ASSERT_TRUE(store.has_value()) << store.error();
  auto it = (*store)->global_reader()->ReadAll();
  ASSERT_TRUE(it.has_value()) << it.error();
  auto events = estoria::Collect(**it);
  ASSERT_TRUE(events.has_value()) << events.error();
  ASSERT_EQ(events->size(), 3u);
  for (const auto& e : *events) EXPECT_EQ(e.stream_id.type(), "account") << e.stream_id;
}
#endif

}  // namespace
}  // namespace bank_test
