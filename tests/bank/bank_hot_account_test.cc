// Black-box tests of estoria-bank on one hot account (issue 14): 32 clients
// sending deposits to one account are serialized and batched in the server,
// so none is answered 409, each gets its own version, and kill -9 under that
// load loses no acknowledged command.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bank_fixture.h"

namespace bank_test {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

class BankHotAccountTest : public BankTest {};

int64_t EtagVersion(const httplib::Result& res) {
  std::string etag = res->get_header_value("ETag");
  return std::stoll(etag.substr(1, etag.size() - 2));
}

TEST_P(BankHotAccountTest, KillNineUnderHotLoadLosesNoAcknowledgedCommand) {
  const std::string id = NewAccountId();
  constexpr int kClients = 32;
  std::mutex mu;
  std::vector<int64_t> versions;
  std::atomic<int64_t> attempted{0}, acked{0}, conflicts{0}, unexpected{0};
  {
    auto server = StartServer();
    ASSERT_NE(server, nullptr);
    std::atomic<bool> killed{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kClients; ++t) {
      threads.emplace_back([&] {
        auto client = server->Client();
        while (!killed) {
          ++attempted;
          auto res = PostAmount(*client, id, 1);
          if (!res) break;  // the server is gone
          if (res->status == 204) {
            std::lock_guard lock(mu);
            versions.push_back(EtagVersion(res));
            ++acked;
          } else if (res->status == 409) {
            ++conflicts;
          } else {
            ++unexpected;
          }
        }
      });
    }
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (acked < 300 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    EXPECT_EQ(server->Stop(SIGKILL), 128 + SIGKILL);
    killed = true;
    for (auto& t : threads) t.join();
  }
  ASSERT_GE(acked.load(), 300);
  EXPECT_EQ(conflicts.load(), 0) << "commands of one process conflicted";
  EXPECT_EQ(unexpected.load(), 0);
  // Every acknowledged command got its own version.
  EXPECT_EQ(std::set<int64_t>(versions.begin(), versions.end()).size(), versions.size());

  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = server->Client();
  auto res = client->Get(("/accounts/" + id + "/summary").c_str());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  Json summary = JsonBody(res);
  int64_t balance = summary["balance"];
  EXPECT_GE(balance, acked.load()) << "an acknowledged command was lost";
  EXPECT_LE(balance, attempted.load());
  EXPECT_EQ(summary["version"], balance);  // only +1 commands
  EXPECT_GE(balance, *std::max_element(versions.begin(), versions.end()));
  // The restarted server continues from the stored version.
  auto next = PostAmount(*client, id, 1, {{"If-Match", "\"" + std::to_string(balance) + "\""}});
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 204) << next->body;
  EXPECT_EQ(EtagVersion(next), balance + 1);
}

TEST_P(BankHotAccountTest, RefusalsAndIfMatchUnderHotLoadKeepTheirCodes) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::string id = NewAccountId();
  // Deposits of +1 and withdrawals of -3 from 16 clients, some with a stale
  // If-Match: the balance never goes negative, a 422 or a 412 appends nothing.
  std::atomic<int64_t> deposits{0}, withdrawals{0}, refused{0}, mismatched{0}, unexpected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      auto client = server->Client();
      for (int i = 0; i < 20; ++i) {
        httplib::Headers headers;
        if (i % 5 == 4) headers.emplace("If-Match", "\"1\"");  // stale after the first commands
        long long amount = (t + i) % 3 == 0 ? -3 : 1;
        auto res = PostAmount(*client, id, amount, headers);
        if (!res) {
          ++unexpected;
        } else if (res->status == 204) {
          ++(amount > 0 ? deposits : withdrawals);
        } else if (res->status == 422) {
          ++refused;
        } else if (res->status == 412) {
          ++mismatched;
        } else {
          ++unexpected;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_GT(mismatched.load(), 0);
  auto client = server->Client();
  auto res = client->Get(("/accounts/" + id + "/summary").c_str());
  ASSERT_TRUE(res);
  Json summary = JsonBody(res);
  EXPECT_EQ(summary["balance"], deposits.load() - 3 * withdrawals.load());
  EXPECT_EQ(summary["version"], deposits.load() + withdrawals.load());
  EXPECT_GE(summary["balance"].get<int64_t>(), 0);
}

BANK_INSTANTIATE(BankHotAccountTest);

}  // namespace
}  // namespace bank_test
