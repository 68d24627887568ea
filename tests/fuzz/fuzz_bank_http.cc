// Fuzz target: a whole HTTP request through the bank example's server
// (BankHttpServer::HandleRawRequest: httplib's request parsing and limits, the
// routing, the handlers and the JSON error replies) over an in-memory store and
// read model, no socket. The input is the raw request bytes.
// Invariants: no crash; every reply is a well-formed HTTP/1.1 status line; no
// request makes the healthy service answer 500; every error reply to a
// request whose method token is not HEAD carries the JSON body {"error": {"code", "message"}}.
#include <nlohmann/json.hpp>

#include "estoria_bank.h"
#include "fuzz_util.h"
#include "http_server.h"

using namespace estoria;

namespace {

bank::BankHttpServer& Server() {
  static bank::BankHttpServer* server = [] {
    bank::BankOptions options;
    options.store_uri = "memory:";
    options.read_model_uri = "memory:";
    auto opened = bank::OpenBank(options);
    FUZZ_CHECK_MSG(opened.has_value(), opened.error().ToString());
    bank::HttpServerOptions http;
    http.port = 0;
    http.threads = 1;
    http.min_position_timeout = std::chrono::milliseconds(1);
    return new bank::BankHttpServer(*opened, http);
  }();
  return *server;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view request = fuzz::AsText(data, size);
  const std::string reply = Server().HandleRawRequest(request);
  if (reply.empty()) return 0;  // httplib dropped the connection (nothing parsable)
  FUZZ_CHECK_MSG(reply.starts_with("HTTP/1.1 ") && reply.size() >= 12, reply);
  const int status = std::atoi(reply.substr(9, 3).c_str());
  FUZZ_CHECK_MSG(status >= 100 && status <= 599, reply);
  FUZZ_CHECK_MSG(status != 500, reply);
  // httplib takes the method from the first space-separated token of the
  // request line even when the rest of the line is malformed, and then
  // answers without a body, as for any HEAD request ("HEAD\r\n" gets a 400
  // with no body).
  const std::string_view line = request.substr(0, request.find('\n'));
  const bool head = line.substr(0, line.find_first_of(" \r")) == "HEAD";
  if (status >= 400 && !head) {
    size_t body_at = reply.find("\r\n\r\n");
    FUZZ_CHECK_MSG(body_at != std::string::npos, reply);
    auto body = nlohmann::json::parse(reply.substr(body_at + 4), nullptr, /*allow_exceptions=*/false);
    FUZZ_CHECK_MSG(body.is_object() && body.contains("error") && body["error"].contains("code"), reply);
  }
  return 0;
}
