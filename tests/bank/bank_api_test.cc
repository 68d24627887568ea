// Black-box tests of estoria-bank's HTTP interface: every route and every error
// code of issue 7, and that no rejected request appends anything.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bank_fixture.h"

namespace bank_test {
namespace {

using Json = nlohmann::json;

class BankApiTest : public BankTest {};

void ExpectError(const httplib::Result& res, int status, const std::string& code) {
  ASSERT_TRUE(res) << "no reply: " << httplib::to_string(res.error());
  EXPECT_EQ(res->status, status) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  Json body = JsonBody(res);
  ASSERT_TRUE(body.is_object()) << res->body;
  ASSERT_TRUE(body.contains("error")) << res->body;
  EXPECT_EQ(body["error"]["code"], code) << res->body;
  EXPECT_TRUE(body["error"]["message"].is_string()) << res->body;
  EXPECT_FALSE(body["error"]["message"].get<std::string>().empty());
}

int64_t HeadPosition(httplib::Client& client) {
  auto res = client.Get("/healthz");
  if (!res || res->status != 200) return -1;
  return JsonBody(res)["head_position"].get<int64_t>();
}

TEST_P(BankApiTest, CommandsAndQueriesHappyPath) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = server->Client();
  std::string id = NewAccountId();

  auto res = PostAmount(*client, id, 100);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 204) << res->body;
  EXPECT_EQ(res->get_header_value("ETag"), "\"1\"");
  int64_t p1 = std::stoll(res->get_header_value("X-Global-Position"));
  EXPECT_GE(p1, 1);

  res = PostAmount(*client, id, -30, {{"If-Match", "\"1\""}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 204) << res->body;
  EXPECT_EQ(res->get_header_value("ETag"), "\"2\"");
  int64_t p2 = std::stoll(res->get_header_value("X-Global-Position"));
  EXPECT_GT(p2, p1);

  // If-Match: * on an existing account.
  res = PostAmount(*client, id, 5, {{"If-Match", "*"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 204) << res->body;
  EXPECT_EQ(res->get_header_value("ETag"), "\"3\"");
  int64_t p3 = std::stoll(res->get_header_value("X-Global-Position"));

  res = client->Get(("/accounts/" + id + "/summary").c_str());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("ETag"), "\"3\"");
  Json summary = JsonBody(res);
  EXPECT_EQ(summary["id"], id);
  EXPECT_EQ(summary["balance"], 75);
  EXPECT_EQ(summary["version"], 3);
  std::string last_updated = summary["last_updated"];
  EXPECT_EQ(last_updated.size(), std::string("2026-11-26T02:32:13.123456Z").size()) << last_updated;
  EXPECT_EQ(last_updated.back(), 'Z');

  res = client->Get(("/accounts/" + id + "?min_position=" + std::to_string(p3)).c_str());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  Json row = JsonBody(res);
  EXPECT_EQ(row["id"], id);
  EXPECT_EQ(row["balance"], 75);
  EXPECT_EQ(row["version"], 3);
  EXPECT_EQ(row["last_updated"], last_updated);
  EXPECT_GE(row["position"].get<int64_t>(), p3);

  res = client->Get("/accounts");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  Json list = JsonBody(res);
  ASSERT_EQ(list["accounts"].size(), 1u) << res->body;
  EXPECT_EQ(list["accounts"][0]["id"], id);
  EXPECT_EQ(list["accounts"][0]["balance"], 75);
  EXPECT_GE(list["position"].get<int64_t>(), p3);

  // HEAD is served like GET, without a body.
  res = client->Head(("/accounts/" + id + "/summary").c_str());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_TRUE(res->body.empty());
}

TEST_P(BankApiTest, RejectedCommandsAppendNothing) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = server->Client();
  std::string id = NewAccountId();

  // 422: a first withdrawal would make the balance negative.
  ExpectError(PostAmount(*client, id, -1), 422, "insufficient_funds");
  // 412: If-Match on a version the account is not at; * on a new account.
  ExpectError(PostAmount(*client, id, 10, {{"If-Match", "\"3\""}}), 412, "precondition_failed");
  ExpectError(PostAmount(*client, id, 10, {{"If-Match", "*"}}), 412, "precondition_failed");
  ExpectError(client->Get(("/accounts/" + id + "/summary").c_str()), 404, "account_not_found");

  ASSERT_EQ(PostAmount(*client, id, 10)->status, 204);
  ExpectError(PostAmount(*client, id, -11), 422, "insufficient_funds");
  ExpectError(PostAmount(*client, id, 9223372036854775807LL), 422, "insufficient_funds");  // overflow
  auto res = PostAmount(*client, id, 10, {{"If-Match", "\"0\""}});
  ExpectError(res, 412, "precondition_failed");
  EXPECT_EQ(res->get_header_value("ETag"), "\"1\"");

  // 400s: malformed JSON, missing or wrong-typed fields, zero, non-integer,
  // outside int64, bad If-Match.
  const std::vector<std::pair<std::string, std::string>> bad_bodies = {
      {"", "malformed_json"},
      {"{", "malformed_json"},
      {"amount=5", "malformed_json"},
      {"[5]", "invalid_body"},
      {"5", "invalid_body"},
      {"{}", "invalid_body"},
      {"{\"amount\": \"5\"}", "invalid_body"},
      {"{\"amount\": null}", "invalid_body"},
      {"{\"amount\": true}", "invalid_body"},
      {"{\"amount\": {\"value\": 5}}", "invalid_body"},
      {"{\"amont\": 5}", "invalid_body"},
      {"{\"amount\": 0}", "invalid_amount"},
      {"{\"amount\": -0}", "invalid_amount"},
      {"{\"amount\": 1.5}", "invalid_amount"},
      {"{\"amount\": 1.0}", "invalid_amount"},
      {"{\"amount\": 1e3}", "invalid_amount"},
      {"{\"amount\": 9223372036854775808}", "invalid_amount"},
      {"{\"amount\": -9223372036854775809}", "invalid_amount"},
      {"{\"amount\": 99999999999999999999999}", "invalid_amount"},
  };
  for (const auto& [body, code] : bad_bodies) {
    SCOPED_TRACE("body: " + body);
    ExpectError(client->Post(("/accounts/" + id + "/balance").c_str(), body, "application/json"), 400, code);
  }
  for (const std::string& if_match : std::vector<std::string>{"\"abc\"", "-1", "\"1", "W/\"1\"", "1.0"}) {
    SCOPED_TRACE("If-Match: " + if_match);
    ExpectError(PostAmount(*client, id, 5, {{"If-Match", if_match}}), 400, "invalid_if_match");
  }
  for (const std::string& bad_id : std::vector<std::string>{"not-a-uuid", "0190f1c2-8d5e-7a3b-9c1d-2e3f4a5b6c7",
                                                            "account_1", "0190f1c2-8d5e-7a3b-9c1d-2e3f4a5b6c7dx"}) {
    SCOPED_TRACE("id: " + bad_id);
    ExpectError(PostAmount(*client, bad_id, 5), 400, "invalid_id");
    ExpectError(client->Get(("/accounts/" + bad_id + "/summary").c_str()), 400, "invalid_id");
    ExpectError(client->Get(("/accounts/" + bad_id).c_str()), 400, "invalid_id");
  }

  // Only the one accepted command was appended.
  res = client->Get(("/accounts/" + id + "/summary").c_str());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(JsonBody(res)["balance"], 10);
  EXPECT_EQ(JsonBody(res)["version"], 1);
  EXPECT_EQ(HeadPosition(*client), 1);
}

TEST_P(BankApiTest, QueryParametersAreValidated) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = server->Client();
  for (const std::string& query : std::vector<std::string>{
           "limit=0", "limit=1001", "limit=x", "limit=-1", "limit=", "min_balance=1.5", "min_balance=abc",
           "min_position=-1", "min_position=x", "min_position=99999999999999999999"}) {
    SCOPED_TRACE(query);
    ExpectError(client->Get(("/accounts?" + query).c_str()), 400, "invalid_parameter");
  }
  ExpectError(client->Get("/accounts?after=nope"), 400, "invalid_id");
  ExpectError(client->Get(("/accounts/" + NewAccountId() + "?min_position=x").c_str()), 400, "invalid_parameter");
  auto res = client->Get("/accounts?limit=1000&min_balance=-5&min_position=0");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
}

TEST_P(BankApiTest, UnknownRoutesAre404AndWrongMethods405) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = server->Client();
  std::string id = NewAccountId();
  for (const std::string& path :
       std::vector<std::string>{"/", "/nope", "/accounts/", "/accounts/" + id + "/", "/accounts/" + id + "/other",
                                "/accounts/" + id + "/balance/x", "/healthz/x", "/account"}) {
    SCOPED_TRACE(path);
    ExpectError(client->Get(path.c_str()), 404, "not_found");
    ExpectError(client->Post(path.c_str(), "{\"amount\": 1}", "application/json"), 404, "not_found");
  }
  ExpectError(client->Get(("/accounts/" + id + "/summary").c_str()), 404, "account_not_found");
  ExpectError(client->Get(("/accounts/" + id).c_str()), 404, "account_not_found");

  auto res = client->Get(("/accounts/" + id + "/balance").c_str());
  ExpectError(res, 405, "method_not_allowed");
  EXPECT_EQ(res->get_header_value("Allow"), "POST");
  res = client->Put(("/accounts/" + id + "/balance").c_str(), "{\"amount\": 1}", "application/json");
  ExpectError(res, 405, "method_not_allowed");
  res = client->Post(("/accounts/" + id + "/summary").c_str(), "{\"amount\": 1}", "application/json");
  ExpectError(res, 405, "method_not_allowed");
  EXPECT_EQ(res->get_header_value("Allow"), "GET, HEAD");
  ExpectError(client->Put(("/accounts/" + id).c_str(), "{}", "application/json"), 405, "method_not_allowed");
  ExpectError(client->Delete("/accounts"), 405, "method_not_allowed");
  ExpectError(client->Patch("/metrics", "{}", "application/json"), 405, "method_not_allowed");
  ExpectError(client->Post("/healthz", "", "text/plain"), 405, "method_not_allowed");
  ExpectError(client->Options(("/accounts/" + id).c_str()), 405, "method_not_allowed");
  EXPECT_EQ(HeadPosition(*client), 0);  // nothing appended
}

TEST_P(BankApiTest, BodiesOver64KiBAre413) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = server->Client();
  std::string id = NewAccountId();
  std::string body = "{\"amount\": 7}";
  std::string padded = body + std::string(64 * 1024 - body.size(), ' ');  // exactly 64 KiB: accepted
  auto res = client->Post(("/accounts/" + id + "/balance").c_str(), padded, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 204) << res->body;
  ExpectError(client->Post(("/accounts/" + id + "/balance").c_str(), padded + " ", "application/json"), 413,
              "payload_too_large");
  ExpectError(client->Post(("/accounts/" + id + "/balance").c_str(), std::string(1 << 20, ' '), "application/json"),
              413, "payload_too_large");
  res = client->Get(("/accounts/" + id + "/summary").c_str());
  ASSERT_TRUE(res);
  EXPECT_EQ(JsonBody(res)["version"], 1);
  EXPECT_EQ(HeadPosition(*client), 1);
}

TEST_P(BankApiTest, MinPositionNotReachedIs503) {
  auto server = StartServer({"--min-position-timeout-ms", "300"});
  ASSERT_NE(server, nullptr);
  auto client = server->Client();
  std::string id = NewAccountId();
  ASSERT_EQ(PostAmount(*client, id, 1)->status, 204);
  auto res = client->Get("/accounts?min_position=1000");
  ExpectError(res, 503, "read_model_behind");
  EXPECT_EQ(res->get_header_value("Retry-After"), "1");
  ExpectError(client->Get(("/accounts/" + id + "?min_position=1000").c_str()), 503, "read_model_behind");
  res = client->Get(("/accounts/" + id + "?min_position=1").c_str());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
}

TEST_P(BankApiTest, ConflictsBeyondTheRetryBoundAre409) {
  // Commands of one process never conflict with each other (the command
  // executor serializes them), so the conflicts come from a second server
  // process on the same store (with a read model of its own in memory).
  auto server = StartServer({"--max-attempts", "1"});
  ASSERT_NE(server, nullptr);
  auto other = StartServer({"--max-attempts", "1", "--read-model", "memory:"});
  ASSERT_NE(other, nullptr);
  std::string id = NewAccountId();
  std::atomic<int> ok{0}, conflicts{0}, other_status{0};
  for (int round = 0; round < 50 && conflicts == 0; ++round) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t) {
      threads.emplace_back([&, t] {
        auto client = (t % 2 == 0 ? server : other)->Client();
        auto res = PostAmount(*client, id, 1);
        if (res && res->status == 204) {
          ++ok;
        } else if (res && res->status == 409 && JsonBody(res)["error"]["code"] == "conflict") {
          ++conflicts;
        } else {
          ++other_status;
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  EXPECT_GT(conflicts.load(), 0) << "two servers with one attempt per command never conflicted";
  EXPECT_EQ(other_status.load(), 0);
  auto client = server->Client();
  auto res = client->Get(("/accounts/" + id + "/summary").c_str());
  ASSERT_TRUE(res);
  EXPECT_EQ(JsonBody(res)["balance"], ok.load());  // a 409 appended nothing
}

TEST_P(BankApiTest, HealthAndMetrics) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = server->Client();
  auto res = client->Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(JsonBody(res)["status"], "ok");
  std::string id = NewAccountId();
  ASSERT_EQ(PostAmount(*client, id, 3)->status, 204);
  ASSERT_EQ(PostAmount(*client, id, -4)->status, 422);
  ASSERT_EQ(client->Get("/nope")->status, 404);
  ASSERT_EQ(client->Get("/accounts?min_position=1")->status, 200);
  res = client->Get("/metrics");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = res->body;
  for (const std::string& line : std::vector<std::string>{
           "# TYPE estoria_bank_http_requests_total counter",
           "estoria_bank_http_requests_total{method=\"POST\",route=\"/accounts/{id}/balance\",status=\"204\"} 1",
           "estoria_bank_http_requests_total{method=\"POST\",route=\"/accounts/{id}/balance\",status=\"422\"} 1",
           "estoria_bank_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1",
           "estoria_bank_http_requests_total{method=\"GET\",route=\"/accounts\",status=\"200\"} 1",
           "# TYPE estoria_bank_http_request_duration_seconds histogram",
           "estoria_bank_http_request_duration_seconds_count{route=\"/accounts/{id}/balance\",status=\"204\"} 1",
           "estoria_bank_http_request_duration_seconds_bucket{route=\"/accounts/{id}/"
           "balance\",status=\"422\",le=\"+Inf\"} 1",
           "estoria_bank_appends_total 1",
           "estoria_bank_commands_total{outcome=\"insufficient_funds\"} 1",
           "# TYPE estoria_bank_conflicts_total counter",
           "estoria_bank_projection_position 1",
           "estoria_bank_store_head_position 1",
           "estoria_bank_projection_lag_events 0",
           "estoria_bank_projection_events_handled_total 1",
           "# TYPE estoria_bank_projection_lag_seconds gauge",
           "estoria_bank_http_requests_in_flight 1",
           // The library's metrics of the event store, in the same registry.
           "# TYPE estoria_event_store_append_duration_seconds histogram",
           "estoria_event_store_appends_total{backend=\"" + GetParam() + "\",store=\"events\"} 1",
           "estoria_event_store_events_appended_total{backend=\"" + GetParam() + "\",store=\"events\"} 1",
           "estoria_event_store_append_conflicts_total{backend=\"" + GetParam() + "\",store=\"events\"} 0",
       }) {
    EXPECT_NE(text.find(line + "\n"), std::string::npos) << "missing: " << line << "\nin:\n" << text;
  }
#ifdef ESTORIA_PROMTOOL
  // promtool (Debian package prometheus) accepts the whole exposition.
  std::string file = ::testing::TempDir() + "bank_metrics_" + std::to_string(getpid()) + ".prom";
  std::ofstream(file) << text;
  std::string command = std::string(ESTORIA_PROMTOOL) + " check metrics < " + file + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  EXPECT_EQ(pclose(pipe), 0) << output;
  EXPECT_EQ(output, "");
  std::remove(file.c_str());
#endif
}

BANK_INSTANTIATE(BankApiTest);

// --help documents every flag (and exits 0 without starting anything).
TEST(BankCliTest, HelpDocumentsEveryFlag) {
  std::string command = std::string(ESTORIA_BANK_BINARY) + " --help 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string help;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) help.append(buffer, n);
  int status = pclose(pipe);
  EXPECT_EQ(status, 0) << help;
  for (const std::string& flag : std::vector<std::string>{"--store", "--read-model", "--listen", "--threads",
                                                          "--max-attempts", "--min-position-timeout-ms", "--help"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << "--help does not mention " << flag << ":\n" << help;
  }
  EXPECT_NE(help.find("sqlite:data/bank.db"), std::string::npos);
  EXPECT_NE(help.find("127.0.0.1:8080"), std::string::npos);
  EXPECT_NE(help.find("nats://"), std::string::npos);
  EXPECT_NE(help.find("sqlite:data/nats-<stream>-read-model.db"), std::string::npos);
}

// Bad flags are refused before anything is opened.
TEST(BankCliTest, BadListenAddressIsRefused) {
  std::string command = std::string(ESTORIA_BANK_BINARY) + " --store memory: --listen nonsense 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buffer[4096];
  while (fread(buffer, 1, sizeof buffer, pipe) > 0) {
  }
  int status = pclose(pipe);
  EXPECT_NE(status, 0);
}

}  // namespace
}  // namespace bank_test
