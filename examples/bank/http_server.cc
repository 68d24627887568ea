#include "http_server.h"

#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
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
    case 431:
      return "header_fields_too_large";
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

// Set on the accept thread while it refuses a connection beyond
// max_connections (see CappedTaskQueue).
thread_local bool t_over_capacity = false;
// Set on a worker when LimitedStream refused the request itself (408, 414, 431):
// httplib may still log a reply it could not write; the logger skips it.
thread_local bool t_refused_by_stream = false;

std::string RawReply(int status, std::string_view reason, std::string_view code, std::string_view message) {
  nlohmann::json body = {{"error", {{"code", code}, {"message", message}}}};
  std::string text = body.dump() + "\n";
  std::string reply = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
                      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(text.size()) +
                      "\r\nConnection: close\r\n";
  if (status == 503) reply += "Retry-After: 1\r\n";
  return reply + "\r\n" + text;
}

int PollMs(std::chrono::steady_clock::duration d) {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
  return static_cast<int>(std::clamp<int64_t>(ms, 0, 100));  // short slices: Stop() is noticed
}

struct ConnectionLimits {
  size_t max_request_line_bytes;
  size_t max_header_bytes;
  std::chrono::milliseconds request_timeout;
  std::chrono::milliseconds idle_timeout;
  std::chrono::milliseconds write_timeout;
};

// One connection's socket as httplib reads and writes it, with the limits of
// HttpServerOptions enforced on the bytes httplib consumes: the request line's
// and the header block's sizes (414, 431) and the whole request's deadline
// (408). Such a reply is written here, and the stream then fails every read and
// write, so httplib gives up on the request and the connection is closed.
class LimitedStream final : public httplib::Stream {
 public:
  LimitedStream(int sock, const ConnectionLimits& limits, const std::atomic<socket_t>& listening,
                std::function<void(int)> on_refused)
      : sock_(sock), limits_(limits), listening_(listening), on_refused_(std::move(on_refused)) {}

  // Waits for the next request's first byte, up to idle_timeout. False when the
  // connection should be closed: idle too long, closed by the peer, or the
  // server stopping.
  bool WaitForRequest() {
    if (pos_ < end_) return true;  // a pipelined request is buffered already
    const auto deadline = Clock::now() + limits_.idle_timeout;
    while (listening_.load() != INVALID_SOCKET) {
      auto now = Clock::now();
      if (now >= deadline) return false;
      pollfd p{sock_, POLLIN, 0};
      int n = ::poll(&p, 1, PollMs(deadline - now));
      if (n < 0 && errno != EINTR) return false;
      if (n > 0) return (p.revents & (POLLIN | POLLHUP)) != 0 && (p.revents & (POLLERR | POLLNVAL)) == 0;
    }
    return false;
  }

  // A request starts: its deadline runs from now.
  void BeginRequest() {
    deadline_ = Clock::now() + limits_.request_timeout;
    phase_ = Phase::kRequestLine;
    line_bytes_ = 0;
    header_bytes_ = 0;
    t_refused_by_stream = false;
  }

  bool refused() const { return refused_; }

  bool is_readable() const override { return !refused_ && (pos_ < end_ || Poll(POLLIN, deadline_ - Clock::now())); }
  bool is_writable() const override { return !refused_ && Poll(POLLOUT, limits_.write_timeout); }

  ssize_t read(char* ptr, size_t size) override {
    if (refused_) return -1;
    if (pos_ == end_ && !Fill()) return -1;
    size_t n = std::min(size, end_ - pos_);
    if (phase_ != Phase::kBody && !Scan(n)) return -1;
    std::memcpy(ptr, buffer_ + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (refused_) return -1;
    return Send(ptr, size);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { Address(true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { Address(false, ip, port); }
  socket_t socket() const override { return sock_; }

 private:
  enum class Phase { kRequestLine, kHeaders, kBody };

  bool Poll(short events, Clock::duration timeout) const {
    auto deadline = Clock::now() + timeout;
    while (true) {
      auto now = Clock::now();
      if (now >= deadline) return false;
      pollfd p{sock_, events, 0};
      int n = ::poll(&p, 1, PollMs(deadline - now));
      if (n > 0) return true;  // ready, or an error that the next call reports
      if (n < 0 && errno != EINTR) return false;
    }
  }

  // Reads more bytes before the request's deadline; on timeout answers 408.
  bool Fill() {
    if (!Poll(POLLIN, deadline_ - Clock::now())) {
      Refuse(408, "Request Timeout", "request_timeout",
             "the request was not received within " + std::to_string(limits_.request_timeout.count()) + " ms");
      return false;
    }
    ssize_t n;
    do {
      n = ::recv(sock_, buffer_, sizeof(buffer_), 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return false;  // closed by the peer, or an error
    pos_ = 0;
    end_ = static_cast<size_t>(n);
    return true;
  }

  // Checks the next n buffered bytes, those httplib is about to consume, against
  // the size limits; shortens n to end at the header block's end (what follows
  // is body, or the next request).
  bool Scan(size_t& n) {
    for (size_t i = 0; i < n; ++i) {
      char c = buffer_[pos_ + i];
      if (phase_ == Phase::kRequestLine) {
        if (c == '\n') {
          phase_ = Phase::kHeaders;
          line_bytes_ = 0;
        } else if (c != '\r' && ++line_bytes_ > limits_.max_request_line_bytes) {
          Refuse(414, "URI Too Long", "uri_too_long",
                 "the request line exceeds " + std::to_string(limits_.max_request_line_bytes) + " bytes");
          return false;
        }
        continue;
      }
      if (++header_bytes_ > limits_.max_header_bytes) {
        Refuse(431, "Request Header Fields Too Large", "header_fields_too_large",
               "the request headers exceed " + std::to_string(limits_.max_header_bytes) + " bytes");
        return false;
      }
      if (c == '\n') {
        if (line_bytes_ == 0) {  // the empty line: the headers end here
          phase_ = Phase::kBody;
          n = i + 1;
          return true;
        }
        line_bytes_ = 0;
      } else if (c != '\r') {
        ++line_bytes_;
      }
    }
    return true;
  }

  void Refuse(int status, std::string_view reason, std::string_view code, const std::string& message) {
    std::string reply = RawReply(status, reason, code, message);
    (void)Send(reply.data(), reply.size());
    refused_ = true;
    t_refused_by_stream = true;
    if (on_refused_) on_refused_(status);
  }

  ssize_t Send(const char* data, size_t size) {
    if (!Poll(POLLOUT, limits_.write_timeout)) return -1;
    ssize_t n;
    do {
      n = ::send(sock_, data, size, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
  }

  void Address(bool peer, std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    int rc = peer ? ::getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &len)
                  : ::getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &len);
    if (rc != 0) return;
    char host[NI_MAXHOST];
    char serv[NI_MAXSERV];
    if (::getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof(host), serv, sizeof(serv),
                      NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
      return;
    }
    ip = host;
    port = std::atoi(serv);
  }

  const int sock_;
  const ConnectionLimits& limits_;
  const std::atomic<socket_t>& listening_;
  std::function<void(int)> on_refused_;
  char buffer_[4096];
  size_t pos_ = 0;
  size_t end_ = 0;
  Clock::time_point deadline_{};
  Phase phase_ = Phase::kRequestLine;
  size_t line_bytes_ = 0;    // in the current line, CR and LF excluded
  size_t header_bytes_ = 0;  // in the header block so far
  bool refused_ = false;
};

// httplib's thread pool, counting the open connections (queued or served): one
// beyond max_connections is not queued but refused on the accept thread.
class CappedTaskQueue final : public httplib::TaskQueue {
 public:
  CappedTaskQueue(size_t threads, size_t max_connections) : pool_(threads), max_connections_(max_connections) {}

  void enqueue(std::function<void()> fn) override {
    if (open_.load() >= max_connections_) {
      t_over_capacity = true;  // process_and_close_socket answers 503 and closes
      fn();
      t_over_capacity = false;
      return;
    }
    open_.fetch_add(1);
    pool_.enqueue([this, fn = std::move(fn)] {
      fn();
      open_.fetch_sub(1);
    });
  }

  void shutdown() override { pool_.shutdown(); }

 private:
  httplib::ThreadPool pool_;
  const size_t max_connections_;
  std::atomic<size_t> open_{0};
};

// The httplib server with the connection handling of HttpServerOptions: each
// connection is served through a LimitedStream, and refused when over capacity.
class Server final : public httplib::Server {
 public:
  Server(ConnectionLimits limits, std::function<void(int)> on_refused)
      : limits_(limits), on_refused_(std::move(on_refused)) {}

  // httplib 0.11 listens with a backlog of 5, too small for bursts of new
  // connections (the kernel then resets some). listen() again on a listening
  // socket sets a new backlog.
  void SetBacklog(int backlog) {
    if (svr_sock_ != INVALID_SOCKET) ::listen(svr_sock_, backlog);
  }

 private:
  bool process_and_close_socket(socket_t sock) override {
    bool ok = false;
    if (t_over_capacity) {
      // On the accept thread: a fresh socket's send buffer is empty, so this
      // does not block. Reading what the client sent first avoids a reset that
      // could discard the reply before the client reads it.
      std::string reply = RawReply(503, "Service Unavailable", "unavailable", "too many open connections; retry");
      (void)::send(sock, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::shutdown(sock, SHUT_WR);
      char drain[1024];
      while (::recv(sock, drain, sizeof(drain), MSG_DONTWAIT) > 0) {
      }
      if (on_refused_) on_refused_(503);
    } else {
      LimitedStream stream(sock, limits_, svr_sock_, on_refused_);
      for (size_t left = keep_alive_max_count_; left > 0 && stream.WaitForRequest(); --left) {
        stream.BeginRequest();
        bool close_connection = left == 1 || svr_sock_ == INVALID_SOCKET;
        bool connection_closed = false;
        ok = process_request(stream, close_connection, connection_closed, nullptr);
        if (!ok || connection_closed || stream.refused()) break;
      }
      ::shutdown(sock, SHUT_RDWR);
    }
    ::close(sock);
    return ok;
  }

  const ConnectionLimits limits_;
  std::function<void(int)> on_refused_;
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

  // A request (or connection) refused by the connection limits, before any
  // handler: recorded without a route or method.
  void Refused(int status) {
    if (t_request_state == RequestState::kInFlight) metrics_.RequestFinished();
    t_request_state = RequestState::kIdle;
    metrics_.RecordRequest("unmatched", "", status, 0);
  }

  // httplib's logger: called after every reply is written.
  void Log(const httplib::Request& req, const httplib::Response& res) {
    if (t_refused_by_stream) {
      // LimitedStream answered (and Refused recorded) it; httplib's own reply
      // was not sent.
      t_refused_by_stream = false;
      t_request_state = RequestState::kIdle;
      return;
    }
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
    : bank_(std::move(bank)), options_(std::move(options)), metrics_(options_.metrics_registry) {
  ConnectionLimits limits{options_.max_request_line_bytes, options_.max_header_bytes, options_.request_timeout,
                          options_.idle_timeout, std::chrono::milliseconds(10000)};
  server_ = std::make_unique<Server>(limits, [this](int status) { handlers_->Refused(status); });
  handlers_ = std::make_unique<Handlers>(*bank_, options_, metrics_);
  size_t threads = options_.threads == 0 ? 1 : options_.threads;
  size_t max_connections = std::max<size_t>(options_.max_connections, 1);
  server_->new_task_queue = [threads, max_connections] { return new CappedTaskQueue(threads, max_connections); };
  server_->set_payload_max_length(options_.max_body_bytes);
  // (Idle and read deadlines are LimitedStream's; httplib's apply per recv.)
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
