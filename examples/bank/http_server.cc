#include "http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <vector>

#include "request_parsing.h"

namespace bank {
namespace {

using Clock = std::chrono::steady_clock;

// Start of the request being served by this worker thread (set before routing,
// read by the logger once the response is written).
thread_local Clock::time_point t_request_start;
// Where that request is in its metrics life: counted in the in-flight gauge
// from the pre-routing handler on, recorded (count, latency) and uncounted when
// its handler returns, before httplib writes the reply (so that a client
// holding its reply sees it counted), or by the logger for replies produced
// without a handler (404/405 before routing, 413, ...).
enum class RequestState { kIdle, kInFlight, kRecorded };
thread_local RequestState t_request_state = RequestState::kIdle;

enum class RouteKind { kNone, kList, kAccount, kSummary, kBalance, kHealth, kMetrics };

struct Route {
  RouteKind kind = RouteKind::kNone;
  std::string_view label = "unmatched";  // the route template, for metrics
  std::string_view id;                   // {id} as sent
};

Route MatchRoute(std::string_view path) {
  if (path == "/healthz") return {RouteKind::kHealth, "/healthz", {}};
  if (path == "/metrics") return {RouteKind::kMetrics, "/metrics", {}};
  if (path == "/accounts") return {RouteKind::kList, "/accounts", {}};
  constexpr std::string_view kPrefix = "/accounts/";
  if (!path.starts_with(kPrefix)) return {};
  std::string_view rest = path.substr(kPrefix.size());
  size_t slash = rest.find('/');
  std::string_view id = rest.substr(0, slash);
  if (id.empty()) return {};
  if (slash == std::string_view::npos) return {RouteKind::kAccount, "/accounts/{id}", id};
  std::string_view tail = rest.substr(slash);
  if (tail == "/summary") return {RouteKind::kSummary, "/accounts/{id}/summary", id};
  if (tail == "/balance") return {RouteKind::kBalance, "/accounts/{id}/balance", id};
  return {};
}

std::string_view DefaultCode(int status) {
  switch (status) {
    case 400:
      return "bad_request";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 408:
      return "request_timeout";
    case 413:
      return "payload_too_large";
    case 414:
      return "uri_too_long";
    case 503:
      return "unavailable";
    default:
      return status >= 500 ? "internal" : "error";
  }
}

void SetError(httplib::Response& res, int status, std::string_view code, std::string_view message) {
  res.status = status;
  nlohmann::json body = {{"error", {{"code", code}, {"message", message}}}};
  // Messages may quote the request (a percent-decoded path need not be UTF-8):
  // invalid bytes become U+FFFD instead of an exception.
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", "application/json");
}

void SetError(httplib::Response& res, const ApiError& error) { SetError(res, error.status, error.code, error.message); }

void SetStatusError(httplib::Response& res, const estoria::Status& status) {
  if (status.IsUnavailable()) {
    res.set_header("Retry-After", "1");
    SetError(res, 503, "unavailable", status.message());
  } else {
    SetError(res, 500, "internal", status.ToString());
  }
}

void SetJson(httplib::Response& res, const nlohmann::json& body) {
  res.status = 200;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", "application/json");
}

std::string ETag(int64_t version) { return "\"" + std::to_string(version) + "\""; }

// Answers 404 (unknown path) or 405 (known path, wrong method); false when the
// request is routable.
bool RejectUnroutable(const Route& route, const httplib::Request& req, httplib::Response& res) {
  if (route.kind == RouteKind::kNone) {
    SetError(res, 404, "not_found", "no route for " + req.path);
    return true;
  }
  bool post_only = route.kind == RouteKind::kBalance;
  bool allowed = post_only ? req.method == "POST" : (req.method == "GET" || req.method == "HEAD");
  if (allowed) return false;
  res.set_header("Allow", post_only ? "POST" : "GET, HEAD");
  SetError(
      res, 405, "method_not_allowed",
      req.method + " is not allowed on " + std::string(route.label) + " (use " + (post_only ? "POST" : "GET") + ")");
  return true;
}

bool HasBody(const httplib::Request& req) {
  return req.has_header("Transfer-Encoding") ||
         (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0");
}

// A subclass only to reach the listening socket: httplib 0.11 listens with a
// backlog of 5, too small for bursts of new connections (the kernel then
// resets some). listen() again on a listening socket sets a new backlog.
class Server final : public httplib::Server {
 public:
  void SetBacklog(int backlog) {
    if (svr_sock_ != INVALID_SOCKET) ::listen(svr_sock_, backlog);
  }
};

}  // namespace

class BankHttpServer::Handlers {
 public:
  Handlers(Bank& bank, const HttpServerOptions& options, Metrics& metrics)
      : bank_(bank), options_(options), metrics_(metrics) {}

  void Dispatch(const httplib::Request& req, httplib::Response& res) {
    // Recorded when the handler returns, before httplib writes the reply.
    struct Recorder {
      Handlers* self;
      const httplib::Request& req;
      const httplib::Response& res;
      ~Recorder() { self->Complete(req, res); }
    } recorder{this, req, res};
    Route route = MatchRoute(req.path);
    if (RejectUnroutable(route, req, res)) return;
    switch (route.kind) {
      case RouteKind::kBalance:
        return ModifyBalance(route.id, req, res);
      case RouteKind::kSummary:
        return Summary(route.id, res);
      case RouteKind::kAccount:
        return GetAccount(route.id, req, res);
      case RouteKind::kList:
        return ListAccounts(req, res);
      case RouteKind::kHealth:
        return Health(res);
      case RouteKind::kMetrics:
        res.status = 200;
        res.set_content(metrics_.Render(bank_.Stats()), "text/plain; version=0.0.4; charset=utf-8");
        return;
      case RouteKind::kNone:
        SetError(res, 404, "not_found", "no route for " + req.path);
        return;
    }
  }

  // A request entered the server (before routing).
  void Start() {
    if (t_request_state != RequestState::kInFlight) metrics_.RequestStarted();
    t_request_state = RequestState::kInFlight;
    t_request_start = Clock::now();
  }

  // Records the request once (see RequestState).
  void Complete(const httplib::Request& req, const httplib::Response& res) {
    if (t_request_state != RequestState::kInFlight) return;
    t_request_state = RequestState::kRecorded;
    double seconds = std::chrono::duration<double>(Clock::now() - t_request_start).count();
    // -1: the handler threw; the exception handler answers 500.
    metrics_.RecordRequest(MatchRoute(req.path).label, req.method, res.status == -1 ? 500 : res.status, seconds);
    metrics_.RequestFinished();
  }

  // httplib's logger: called after every reply is written.
  void Log(const httplib::Request& req, const httplib::Response& res) {
    if (t_request_state == RequestState::kInFlight) {
      Complete(req, res);
    } else if (t_request_state == RequestState::kIdle) {
      // Refused before routing started (e.g. a malformed request line).
      metrics_.RecordRequest(MatchRoute(req.path).label, req.method, res.status, 0);
    }
    t_request_state = RequestState::kIdle;
  }

 private:
  void ModifyBalance(std::string_view id_text, const httplib::Request& req, httplib::Response& res) {
    ApiError error;
    auto id = ParseAccountId(id_text, &error);
    if (!id) return SetError(res, error);
    auto amount = ParseAmountBody(req.body, &error);
    if (!amount) return SetError(res, error);
    ModifyBalanceCommand command{*id, *amount, std::nullopt, false};
    if (req.has_header("If-Match")) {
      auto if_match = ParseIfMatch(req.get_header_value("If-Match"), &error);
      if (!if_match) return SetError(res, error);
      command.expected_version = if_match->version;
      command.expect_exists = if_match->any;
    }
    auto result = bank_.ModifyBalance(command);
    if (!result.has_value()) return SetStatusError(res, result.error());
    metrics_.RecordCommand(*result);
    switch (result->outcome) {
      case CommandOutcome::kApplied:
        res.status = 204;
        res.set_header("ETag", ETag(result->version));
        res.set_header("X-Global-Position", std::to_string(result->position));
        return;
      case CommandOutcome::kVersionMismatch:
        res.set_header("ETag", ETag(result->version));
        return SetError(
            res, 412, "precondition_failed",
            "the account is at version " + std::to_string(result->version) +
                (command.expected_version ? ", If-Match asked for " + std::to_string(*command.expected_version)
                                          : ", If-Match: * needs an existing account"));
      case CommandOutcome::kInsufficientFunds:
        res.set_header("ETag", ETag(result->version));
        return SetError(res, 422, "insufficient_funds",
                        "the command would make the balance negative (or overflow it); nothing was appended");
      case CommandOutcome::kTooManyConflicts:
        return SetError(res, 409, "conflict",
                        "concurrent commands kept changing the account (" + std::to_string(result->conflicts) +
                            " version conflicts); nothing was appended, retry");
    }
  }

  void Summary(std::string_view id_text, httplib::Response& res) {
    ApiError error;
    auto id = ParseAccountId(id_text, &error);
    if (!id) return SetError(res, error);
    auto summary = bank_.Summary(*id);
    if (!summary.has_value()) return SetStatusError(res, summary.error());
    if (!summary->has_value())
      return SetError(res, 404, "account_not_found", "account " + id->ToString() + " has no events");
    res.set_header("ETag", ETag((*summary)->version));
    SetJson(res, ToJson(**summary));
  }

  // Honours min_position; false when a reply (400 or 503) was set instead.
  bool AwaitMinPosition(const httplib::Request& req, httplib::Response& res) {
    if (!req.has_param("min_position")) return true;
    ApiError error;
    auto position = ParseIntegerParameter("min_position", req.get_param_value("min_position"), 0,
                                          std::numeric_limits<int64_t>::max(), &error);
    if (!position) {
      SetError(res, error);
      return false;
    }
    auto reached = bank_.WaitForReadModel(*position, options_.min_position_timeout);
    if (!reached.has_value()) {
      SetStatusError(res, reached.error());
      return false;
    }
    if (*reached < *position) {
      res.set_header("Retry-After", "1");
      SetError(res, 503, "read_model_behind",
               "the read model reached position " + std::to_string(*reached) + ", not " + std::to_string(*position) +
                   ", within " + std::to_string(options_.min_position_timeout.count()) + " ms");
      return false;
    }
    return true;
  }

  void GetAccount(std::string_view id_text, const httplib::Request& req, httplib::Response& res) {
    ApiError error;
    auto id = ParseAccountId(id_text, &error);
    if (!id) return SetError(res, error);
    if (!AwaitMinPosition(req, res)) return;
    auto lookup = bank_.GetAccount(*id);
    if (!lookup.has_value()) return SetStatusError(res, lookup.error());
    res.set_header("X-Global-Position", std::to_string(lookup->position));
    if (!lookup->account) {
      return SetError(res, 404, "account_not_found",
                      "account " + id->ToString() + " is not in the read model (at position " +
                          std::to_string(lookup->position) + ")");
    }
    nlohmann::json body = ToJson(*lookup->account);
    body["position"] = lookup->position;
    res.set_header("ETag", ETag(lookup->account->version));
    SetJson(res, body);
  }

  void ListAccounts(const httplib::Request& req, httplib::Response& res) {
    ApiError error;
    ListQuery query;
    if (req.has_param("limit")) {
      auto limit = ParseIntegerParameter("limit", req.get_param_value("limit"), 1, 1000, &error);
      if (!limit) return SetError(res, error);
      query.limit = *limit;
    }
    if (req.has_param("after")) {
      auto after = ParseAccountId(req.get_param_value("after"), &error);
      if (!after) return SetError(res, error);
      query.after = *after;
    }
    if (req.has_param("min_balance")) {
      auto min_balance =
          ParseIntegerParameter("min_balance", req.get_param_value("min_balance"), std::numeric_limits<int64_t>::min(),
                                std::numeric_limits<int64_t>::max(), &error);
      if (!min_balance) return SetError(res, error);
      query.min_balance = *min_balance;
    }
    if (!AwaitMinPosition(req, res)) return;
    auto page = bank_.ListAccounts(query);
    if (!page.has_value()) return SetStatusError(res, page.error());
    nlohmann::json accounts = nlohmann::json::array();
    for (const AccountView& view : page->accounts) accounts.push_back(ToJson(view));
    res.set_header("X-Global-Position", std::to_string(page->position));
    SetJson(res, {{"accounts", std::move(accounts)}, {"position", page->position}});
  }

  void Health(httplib::Response& res) {
    estoria::Status status = bank_.Health();
    if (!status.ok()) return SetError(res, 503, "unhealthy", status.ToString());
    ProjectionStats stats = bank_.Stats();
    SetJson(res, {{"status", "ok"},
                  {"position", stats.position},
                  {"head_position", stats.head_position},
                  {"read_model", stats.phase}});
  }

  Bank& bank_;
  const HttpServerOptions& options_;
  Metrics& metrics_;
};

BankHttpServer::BankHttpServer(std::shared_ptr<Bank> bank, HttpServerOptions options)
    : bank_(std::move(bank)), options_(std::move(options)), server_(std::make_unique<Server>()) {
  handlers_ = std::make_unique<Handlers>(*bank_, options_, metrics_);
  size_t threads = options_.threads == 0 ? 1 : options_.threads;
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_->set_payload_max_length(options_.max_body_bytes);
  server_->set_keep_alive_timeout(2);
  server_->set_read_timeout(10);
  server_->set_write_timeout(10);
  // 404 and 405 are decided here, before routing, for requests without a body;
  // with a body, httplib reads it first (so that the connection stays in sync)
  // and Dispatch decides.
  server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    handlers_->Start();
    static const std::vector<std::string_view> kTableMethods = {"GET",    "HEAD",    "POST", "PUT",
                                                                "DELETE", "OPTIONS", "PATCH"};
    bool has_table = std::find(kTableMethods.begin(), kTableMethods.end(), req.method) != kTableMethods.end();
    if (has_table && HasBody(req)) return httplib::Server::HandlerResponse::Unhandled;
    if (!RejectUnroutable(MatchRoute(req.path), req, res)) return httplib::Server::HandlerResponse::Unhandled;
    handlers_->Complete(req, res);  // answered here: record it now, before the write
    return httplib::Server::HandlerResponse::Handled;
  });
  auto dispatch = [this](const httplib::Request& req, httplib::Response& res) { handlers_->Dispatch(req, res); };
  server_->Get(".*", dispatch);
  server_->Post(".*", dispatch);
  server_->Put(".*", dispatch);
  server_->Patch(".*", dispatch);
  server_->Delete(".*", dispatch);
  server_->Options(".*", dispatch);
  // Replies that httplib produces itself (413, 400 for a bad request line, ...)
  // get the JSON error body too.
  server_->set_error_handler(
      httplib::Server::HandlerWithResponse([this](const httplib::Request&, httplib::Response& res) {
        if (res.body.empty()) {
          std::string message = res.status == 413
                                    ? "the request body exceeds " + std::to_string(options_.max_body_bytes) + " bytes"
                                    : "request refused (HTTP " + std::to_string(res.status) + ")";
          SetError(res, res.status, DefaultCode(res.status), message);
        }
        return httplib::Server::HandlerResponse::Handled;
      }));
  server_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    SetError(res, 500, "internal", what);
  });
  server_->set_logger([this](const httplib::Request& req, const httplib::Response& res) { handlers_->Log(req, res); });
}

BankHttpServer::~BankHttpServer() = default;

estoria::Result<int> BankHttpServer::Bind() {
  int port = options_.port;
  if (port == 0) {
    port = server_->bind_to_any_port(options_.host);
    if (port < 0) return estoria::Status::Unavailable("cannot bind " + options_.host + ":0");
  } else if (!server_->bind_to_port(options_.host, port)) {
    return estoria::Status::Unavailable("cannot bind " + options_.host + ":" + std::to_string(port));
  }
  static_cast<Server*>(server_.get())->SetBacklog(1024);
  return port;
}

estoria::Status BankHttpServer::Serve() {
  if (!server_->listen_after_bind()) return estoria::Status::Internal("the HTTP accept loop failed");
  return estoria::Status::Ok();
}

void BankHttpServer::Stop() { server_->stop(); }

}  // namespace bank
