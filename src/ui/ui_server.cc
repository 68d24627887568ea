#include "ui_server.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "embedded_assets.h"
#include "estoria/backend/json_codec.h"
#include "estoria/open.h"
#include "read_model_info.h"

#ifndef ESTORIA_UI_VERSION
#define ESTORIA_UI_VERSION "dev"
#endif

namespace estoria::ui {
namespace {

using Json = nlohmann::ordered_json;

constexpr int64_t kDefaultLimit = 50;
constexpr int64_t kMaxLimit = 500;
constexpr int kMaxTails = 32;
constexpr int64_t kRateWindowPositions = 100000;
constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
constexpr const char* kCookieName = "estoria_ui_token";

// ---- helpers -----------------------------------------------------------------

bool IsLoopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host == "[::1]" || host.starts_with("127.");
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Compares every byte of the longer input so that the time does not depend on
  // where the first difference is (the length difference is folded in too).
  size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

std::string RandomHex(size_t bytes) {
  std::random_device rd;
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    unsigned v = rd() & 0xFF;
    out.push_back(kHex[v >> 4]);
    out.push_back(kHex[v & 0xF]);
  }
  return out;
}

std::string ToHex(std::string_view bytes) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
  }
  return out;
}

// A request error: HTTP status, message, code name.
struct HttpError {
  int status;
  std::string message;
  std::string code;
};

HttpError FromStatus(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
      return {400, s.message(), "InvalidArgument"};
    case StatusCode::kNotFound:
      return {404, s.message(), "NotFound"};
    case StatusCode::kUnavailable:
      return {503, s.message(), "Unavailable"};
    case StatusCode::kNotSupported:
      return {501, s.message(), "NotSupported"};
    default:
      return {500, s.ToString(), std::string(StatusCodeName(s.code()))};
  }
}

void SendJson(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace), "application/json; charset=utf-8");
}

void SendError(httplib::Response& res, const HttpError& e) {
  Json j;
  j["error"] = e.message;
  j["code"] = e.code;
  SendJson(res, e.status, j);
}

// The whole of `v` as a decimal integer; nullopt when it is anything else.
std::optional<int64_t> WholeInt(std::string_view v) {
  int64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
  return n;
}

// Parses an optional integer query parameter in [min, max].
std::optional<HttpError> IntParam(const httplib::Request& req, const char* name, int64_t* out, int64_t min,
                                  int64_t max) {
  if (!req.has_param(name)) return std::nullopt;
  std::string v = req.get_param_value(name);
  std::optional<int64_t> n = WholeInt(v);
  if (!n || *n < min || *n > max) {
    return HttpError{400,
                     std::string("parameter ") + name + " must be an integer in [" + std::to_string(min) + ", " +
                         std::to_string(max) + "], got \"" + v + "\"",
                     "InvalidArgument"};
  }
  *out = *n;
  return std::nullopt;
}

std::optional<HttpError> LimitParam(const httplib::Request& req, int64_t* limit) {
  *limit = kDefaultLimit;
  return IntParam(req, "limit", limit, 1, kMaxLimit);
}

std::optional<HttpError> ListParam(const httplib::Request& req, const char* name, std::vector<std::string>* out) {
  if (!req.has_param(name)) return std::nullopt;
  std::string v = req.get_param_value(name);
  size_t start = 0;
  while (start <= v.size()) {
    size_t comma = v.find(',', start);
    if (comma == std::string::npos) comma = v.size();
    std::string item = v.substr(start, comma - start);
    if (!item.empty()) {
      Status s = TypeId::ValidateTypeName(item);
      if (!s.ok()) return HttpError{400, std::string("parameter ") + name + ": " + s.message(), "InvalidArgument"};
      out->push_back(item);
    }
    start = comma + 1;
  }
  return std::nullopt;
}

// The greatest string below every stream text that starts with `prefix`
// (stream texts use [a-z0-9_.-] only, so appending 0x7f after the decremented
// last byte stays below the prefix and above every shorter match).
std::string LowerBound(std::string_view prefix) {
  if (prefix.empty()) return "";
  std::string s(prefix);
  s.back() = static_cast<char>(s.back() - 1);
  s.push_back('\x7f');
  return s;
}

Json EventJson(const Event& e) {
  Json j;
  j["position"] = e.global_position;
  j["stream"] = e.stream_id.ToString();
  j["stream_type"] = e.stream_id.type();
  j["stream_id"] = e.stream_id.uuid().ToString();
  j["version"] = e.stream_version;
  j["type"] = e.type();
  j["id"] = e.id.uuid().ToString();
  j["timestamp"] = FormatTimestamp(e.timestamp);
  j["content_type"] = e.content_type;
  bool done = false;
  if (backend::IsJsonContentType(e.content_type)) {
    Json data = Json::parse(e.data, nullptr, /*allow_exceptions=*/false);
    if (!data.is_discarded()) {
      j["data"] = std::move(data);
      done = true;
    }
  }
  if (!done) {
    if (backend::IsValidUtf8(e.data)) {
      j["data_text"] = e.data;
    } else {
      j["data_hex"] = ToHex(e.data);
    }
  }
  Json meta = Json::object();
  for (const auto& [k, v] : e.metadata) meta[k] = v;
  j["metadata"] = std::move(meta);
  return j;
}

// Removes the value of a password=... query parameter.
std::string RedactQueryPassword(std::string uri) {
  for (const char* key : {"?password=", "&password="}) {
    size_t p = uri.find(key);
    if (p == std::string::npos) continue;
    size_t start = p + std::char_traits<char>::length(key);
    size_t end = uri.find('&', start);
    uri.replace(start, (end == std::string::npos ? uri.size() : end) - start, "REDACTED");
  }
  return uri;
}

std::string RedactUri(const std::string& uri) {
  // scheme://user:password@host -> scheme://user@host
  size_t scheme = uri.find("://");
  if (scheme == std::string::npos) return uri;
  size_t at = uri.find('@', scheme + 3);
  size_t slash = uri.find('/', scheme + 3);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return RedactQueryPassword(uri);
  size_t colon = uri.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return RedactQueryPassword(uri);
  return RedactQueryPassword(uri.substr(0, colon) + uri.substr(at));
}

std::string BackendName(const std::string& uri) {
  if (uri.starts_with("sqlite:")) return "sqlite";
  if (uri.starts_with("postgres")) return "postgres";
  if (uri.starts_with("nats:")) return "nats";
  if (uri.starts_with("memory")) return "memory";
  return "unknown";
}

std::string DurabilityName(const std::string& uri) {
  if (uri.starts_with("memory")) return "none";
  if (uri.find("durability=relaxed") != std::string::npos) return "relaxed";
  return "strict";
}

// ---- the server ----------------------------------------------------------------

class Server : public UiServer {
 public:
  Server(UiOptions options, std::shared_ptr<EventStore> store, std::unique_ptr<ReadModelInfo> read_model)
      : options_(std::move(options)),
        store_(std::move(store)),
        read_model_(std::move(read_model)),
        csrf_(RandomHex(32)) {}

  ~Server() override { Stop(); }

  Status Bind() {
    svr_.new_task_queue = [] { return new httplib::ThreadPool(kMaxTails + 16); };
    svr_.set_keep_alive_timeout(1);
    svr_.set_default_headers({{"Content-Security-Policy", kCsp},
                              {"X-Content-Type-Options", "nosniff"},
                              {"Referrer-Policy", "no-referrer"},
                              {"X-Frame-Options", "DENY"}});
    svr_.set_pre_routing_handler(
        [this](const httplib::Request& req, httplib::Response& res) { return PreRoute(req, res); });
    svr_.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      SendError(res, HttpError{res.status, "no route for " + req.method + " " + req.path,
                               res.status == 404 ? "NotFound" : "InvalidArgument"});
    });
    svr_.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "unknown exception";
      try {
        if (ep) std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      SendError(res, HttpError{500, "internal error: " + what, "Internal"});
    });
    Routes();
    if (options_.port == 0) {
      port_ = svr_.bind_to_any_port(options_.host);
      if (port_ <= 0) return Status::Unavailable("cannot listen on " + options_.host + " (--listen)");
    } else {
      if (!svr_.bind_to_port(options_.host, options_.port)) {
        return Status::Unavailable("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                                   " (--listen)");
      }
      port_ = options_.port;
    }
    thread_ = std::thread([this] {
      svr_.listen_after_bind();
      std::lock_guard<std::mutex> lock(mu_);
      finished_ = true;
      cv_.notify_all();
    });
    return Status::Ok();
  }

  int port() const override { return port_; }
  std::string url() const override {
    std::string host = options_.host.find(':') != std::string::npos && !options_.host.starts_with("[")
                           ? "[" + options_.host + "]"
                           : options_.host;
    return "http://" + host + ":" + std::to_string(port_) + "/";
  }

  void Stop() override {
    std::lock_guard<std::mutex> stop_lock(stop_mu_);
    stopping_.store(true);
    {
      std::lock_guard<std::mutex> lock(mu_);  // wakes polling tails at once
      cv_.notify_all();
    }
    svr_.stop();
    if (thread_.joinable()) thread_.join();
  }

  void Wait() override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return finished_; });
  }

 private:
  // ---- security ----
  httplib::Server::HandlerResponse PreRoute(const httplib::Request& req, httplib::Response& res) {
    if (options_.token.empty()) return httplib::Server::HandlerResponse::Unhandled;
    // GET /?token=T sets the cookie and redirects to the page.
    if (req.method == "GET" && (req.path == "/" || req.path == "/index.html") && req.has_param("token")) {
      if (ConstantTimeEquals(req.get_param_value("token"), options_.token)) {
        res.status = 303;
        res.set_header("Location", "/");
        res.set_header("Set-Cookie",
                       std::string(kCookieName) + "=" + options_.token + "; HttpOnly; SameSite=Strict; Path=/");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    if (Authorized(req)) return httplib::Server::HandlerResponse::Unhandled;
    SendError(res, HttpError{401,
                             "missing or wrong access token (send Authorization: Bearer <token> or open "
                             "/?token=<token>)",
                             "Unauthenticated"});
    return httplib::Server::HandlerResponse::Handled;
  }

  bool Authorized(const httplib::Request& req) const {
    std::string auth = req.get_header_value("Authorization");
    if (auth.starts_with("Bearer ") && ConstantTimeEquals(auth.substr(7), options_.token)) return true;
    std::string cookies = req.get_header_value("Cookie");
    size_t pos = 0;
    while (pos < cookies.size()) {
      size_t end = cookies.find(';', pos);
      if (end == std::string::npos) end = cookies.size();
      std::string_view c(cookies.data() + pos, end - pos);
      while (!c.empty() && c.front() == ' ') c.remove_prefix(1);
      std::string key = std::string(kCookieName) + "=";
      if (c.starts_with(key) && ConstantTimeEquals(c.substr(key.size()), options_.token)) return true;
      pos = end + 1;
    }
    return false;
  }

  // OK, or the 403 to send for a write request.
  std::optional<HttpError> CheckWrite(const httplib::Request& req) const {
    if (!options_.allow_writes) {
      return HttpError{403, "write actions are disabled (start estoria ui with --allow-writes)", "Forbidden"};
    }
    if (!req.has_header("X-Estoria-CSRF") || !ConstantTimeEquals(req.get_header_value("X-Estoria-CSRF"), csrf_)) {
      return HttpError{403, "missing or wrong X-Estoria-CSRF header (get it from GET /api/session)", "Forbidden"};
    }
    if (req.has_header("Origin")) {
      std::string origin = req.get_header_value("Origin");
      std::string host = req.get_header_value("Host");
      if (host.empty() || origin != "http://" + host) {
        return HttpError{403, "cross-origin write refused (Origin " + origin + ")", "Forbidden"};
      }
    }
    return std::nullopt;
  }

  // ---- routes ----
  using Handler = std::function<std::optional<HttpError>(const httplib::Request&, httplib::Response&)>;

  // Wraps a handler: errors become JSON bodies.
  httplib::Server::Handler Wrap(Handler h) {
    return [h = std::move(h)](const httplib::Request& req, httplib::Response& res) {
      std::optional<HttpError> e = h(req, res);
      if (e) SendError(res, *e);
    };
  }

  void Routes() {
    auto index = [](const httplib::Request&, httplib::Response& res) { ServeAsset("index.html", res); };
    svr_.Get("/", index);
    svr_.Get("/index.html", index);
    svr_.Get(R"(/assets/(.+))", [](const httplib::Request& req, httplib::Response& res) {
      if (!ServeAsset(req.matches[1].str(), res)) {
        SendError(res, HttpError{404, "no asset " + req.matches[1].str(), "NotFound"});
      }
    });
    svr_.Get("/api/session", Wrap([this](const httplib::Request&, httplib::Response& res) {
               Json j;
               j["csrf"] = csrf_;
               j["allow_writes"] = options_.allow_writes;
               j["version"] = ESTORIA_UI_VERSION;
               SendJson(res, 200, j);
               return std::optional<HttpError>();
             }));
    svr_.Get("/api/overview",
             Wrap([this](const httplib::Request& req, httplib::Response& res) { return Overview(req, res); }));
    svr_.Get("/api/streams",
             Wrap([this](const httplib::Request& req, httplib::Response& res) { return Streams(req, res); }));
    svr_.Get(R"(/api/streams/([^/]+)/([^/]+))",
             Wrap([this](const httplib::Request& req, httplib::Response& res) { return Stream(req, res); }));
    svr_.Get("/api/all", Wrap([this](const httplib::Request& req, httplib::Response& res) { return All(req, res); }));
    svr_.Get("/api/all/tail",
             Wrap([this](const httplib::Request& req, httplib::Response& res) { return Tail(req, res); }));
    svr_.Get(R"(/api/events/([^/]+))",
             Wrap([this](const httplib::Request& req, httplib::Response& res) { return EventAt(req, res); }));
    svr_.Get("/api/projections", Wrap([this](const httplib::Request&, httplib::Response& res) {
               auto r = ProjectionsJson();
               if (!r) return std::optional<HttpError>(FromStatus(r.error()));
               SendJson(res, 200, *r);
               return std::optional<HttpError>();
             }));
    svr_.Get(R"(/api/projections/([^/]+)/dead-letters)",
             Wrap([this](const httplib::Request& req, httplib::Response& res) { return DeadLetters(req, res); }));
    svr_.Post(R"(/api/projections/([^/]+)/dead-letters/([^/]+)/(replay|skip))",
              Wrap([this](const httplib::Request& req, httplib::Response& res) { return DeadLetterAction(req, res); }));
    // Any other method on /api is refused with a JSON body (the error handler).
  }

  static bool ServeAsset(const std::string& name, httplib::Response& res) {
    for (const EmbeddedAsset& a : EmbeddedAssets()) {
      if (a.name == name) {
        res.set_content(std::string(a.bytes), std::string(a.content_type));
        res.set_header("Cache-Control", "no-cache");
        return true;
      }
    }
    return false;
  }

  GlobalReader* Reader() { return store_->global_reader(); }

  Result<Json> ProjectionsJson() {
    Json out;
    GlobalReader* reader = Reader();
    int64_t head = 0;
    if (reader) {
      ESTORIA_ASSIGN_OR_RETURN(head, reader->HeadPosition());
    }
    out["head"] = head;
    out["projections"] = Json::array();
    if (!read_model_) return out;
    ESTORIA_ASSIGN_OR_RETURN(std::vector<Checkpoint> list, read_model_->checkpoints().List());
    for (const Checkpoint& c : list) {
      Json p;
      p["name"] = c.name;
      p["position"] = c.position;
      int64_t lag_events = std::max<int64_t>(0, head - c.position);
      int64_t lag_ms = 0;
      if (lag_events > 0 && reader) {
        ESTORIA_ASSIGN_OR_RETURN(lag_ms, OldestUnhandledAgeMs(*reader, c.position));
      }
      p["lag_events"] = lag_events;
      p["lag_ms"] = lag_ms;
      p["updated_at"] = FormatTimestamp(c.updated_at);
      ESTORIA_ASSIGN_OR_RETURN(std::optional<LeaseInfo> lease, read_model_->Lease(c.name));
      if (lease) {
        Json l;
        l["holder"] = lease->holder;
        l["expires_at"] = lease->expires_at ? Json(FormatTimestamp(*lease->expires_at)) : Json(nullptr);
        p["lease"] = std::move(l);
      } else {
        p["lease"] = nullptr;
      }
      ESTORIA_ASSIGN_OR_RETURN(std::optional<std::string> policy, read_model_->FailurePolicy(c.name));
      p["failure_policy"] = policy ? Json(*policy) : Json(nullptr);
      ESTORIA_ASSIGN_OR_RETURN(p["dead_letters"], read_model_->CountDeadLetters(c.name));
      out["projections"].push_back(std::move(p));
    }
    return out;
  }

  // The first position >= lo whose event has timestamp >= t (head + 1 when
  // none): a binary search of single-event indexed reads.
  Result<int64_t> FirstPositionAtOrAfter(GlobalReader& reader, Timestamp t, int64_t lo, int64_t head) {
    int64_t hi = head + 1;  // invariant: answer in [lo, hi]
    while (lo < hi) {
      int64_t mid = lo + (hi - lo) / 2;
      ReadAllOptions o;
      o.after_position = mid - 1;
      o.count = 1;
      ESTORIA_ASSIGN_OR_RETURN(auto it, reader.ReadAll(o));
      ESTORIA_ASSIGN_OR_RETURN(std::optional<Event> e, it->Next());
      if (!e) {
        hi = mid;
        continue;
      }
      if (e->timestamp >= t) {
        hi = mid;
      } else {
        lo = e->global_position + 1;
      }
    }
    return lo;
  }

  std::optional<HttpError> Overview(const httplib::Request&, httplib::Response& res) {
    Json j;
    j["backend"] = BackendName(options_.store_uri);
    j["store"] = RedactUri(options_.store_uri);
    j["durability"] = DurabilityName(options_.store_uri);
    GlobalReader* reader = Reader();
    int64_t head = 0;
    if (reader) {
      auto h = reader->HeadPosition();
      if (!h) return FromStatus(h.error());
      head = *h;
    }
    j["head"] = head;
    // Streams: counted by paged ListStreams reads (an index range each), up to
    // stream_count_cap; null when the store cannot list streams.
    j["streams"] = nullptr;
    j["streams_capped"] = false;
    if (StreamLister* lister = store_->stream_lister()) {
      int64_t counted = 0;
      ListStreamsOptions o;
      while (counted < options_.stream_count_cap) {
        o.limit = std::min<int64_t>(1000, options_.stream_count_cap - counted + 1);
        auto page = lister->ListStreams(o);
        if (!page) return FromStatus(page.error());
        counted += static_cast<int64_t>(page->size());
        if (static_cast<int64_t>(page->size()) < o.limit) break;
        o.after = page->back().stream_id.ToString();
      }
      j["streams_capped"] = counted > options_.stream_count_cap;
      j["streams"] = std::min(counted, options_.stream_count_cap);
    }
    Json rate;
    rate["bucket_seconds"] = 60;
    rate["buckets"] = Json::array();
    auto now = std::chrono::floor<std::chrono::minutes>(Now());
    Timestamp start = now - std::chrono::minutes(14);
    int64_t lo = std::max<int64_t>(1, head - kRateWindowPositions + 1);
    std::vector<int64_t> bounds;
    for (int i = 0; i <= 15; ++i) {
      Timestamp t = start + std::chrono::minutes(i);
      if (!reader || head == 0) {
        bounds.push_back(0);
        continue;
      }
      auto p = FirstPositionAtOrAfter(*reader, t, bounds.empty() ? lo : bounds.back(), head);
      if (!p) return FromStatus(p.error());
      bounds.push_back(*p);
    }
    for (int i = 0; i < 15; ++i) {
      Json b;
      b["start"] = FormatTimestamp(start + std::chrono::minutes(i));
      b["events"] = bounds[i + 1] - bounds[i];
      rate["buckets"].push_back(std::move(b));
    }
    j["append_rate"] = std::move(rate);
    auto projections = ProjectionsJson();
    if (!projections) return FromStatus(projections.error());
    j["projections"] = (*projections)["projections"];
    SendJson(res, 200, j);
    return std::nullopt;
  }

  std::optional<HttpError> Streams(const httplib::Request& req, httplib::Response& res) {
    StreamLister* lister = store_->stream_lister();
    if (!lister) return HttpError{501, "this store cannot list streams", "NotSupported"};
    int64_t limit;
    if (auto e = LimitParam(req, &limit)) return e;
    std::string type = req.get_param_value("type");
    std::string prefix = req.get_param_value("prefix");
    std::string after = req.get_param_value("after");
    if (!type.empty()) {
      Status s = TypeId::ValidateTypeName(type);
      if (!s.ok()) return HttpError{400, "parameter type: " + s.message(), "InvalidArgument"};
    }
    for (char c : prefix) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')) {
        return HttpError{400, "parameter prefix: only [a-z0-9_.-] may appear in a stream id", "InvalidArgument"};
      }
    }
    // With a type, the prefix applies to the id (UUID text); without, to the
    // whole stream text "<type>_<uuid>". A type also bounds the range read:
    // its streams' texts all start with "<type>_", so the read starts there
    // (an index range on the stream text) rather than filtering from the start.
    std::string full_prefix = type.empty() ? prefix : type + "_" + prefix;
    ListStreamsOptions o;
    o.stream_type = type;
    o.after = std::max(after, LowerBound(full_prefix));
    o.limit = limit;
    auto list = lister->ListStreams(o);
    if (!list) return FromStatus(list.error());
    Json j;
    j["streams"] = Json::array();
    bool ended = static_cast<int64_t>(list->size()) < limit;
    std::string last;
    for (const StreamInfo& s : *list) {
      std::string text = s.stream_id.ToString();
      if (!full_prefix.empty() && !text.starts_with(full_prefix)) {
        ended = true;  // ordered by text: no later stream matches
        break;
      }
      Json r;
      r["stream"] = text;
      r["type"] = s.stream_id.type();
      r["id"] = s.stream_id.uuid().ToString();
      r["version"] = s.version;
      r["last_timestamp"] = FormatTimestamp(s.last_timestamp);
      j["streams"].push_back(std::move(r));
      last = text;
    }
    j["next"] = ended || last.empty() ? Json(nullptr) : Json(last);
    SendJson(res, 200, j);
    return std::nullopt;
  }

  std::optional<HttpError> Stream(const httplib::Request& req, httplib::Response& res) {
    std::string type = req.matches[1].str();
    std::string id_text = req.matches[2].str();
    auto uuid = Uuid::Parse(id_text);
    if (!uuid) return HttpError{400, "stream id: " + uuid.error().message(), "InvalidArgument"};
    auto id = TypeId::Make(type, *uuid);
    if (!id) return HttpError{400, "stream type: " + id.error().message(), "InvalidArgument"};
    int64_t limit;
    if (auto e = LimitParam(req, &limit)) return e;
    int64_t from = 0;
    if (auto e = IntParam(req, "from", &from, 0, std::numeric_limits<int64_t>::max())) return e;
    std::string text = id->ToString();
    Json j;
    j["stream"] = text;
    j["type"] = type;
    j["id"] = uuid->ToString();
    // The tip version: one indexed ListStreams read when the store can list.
    std::optional<int64_t> tip;
    if (StreamLister* lister = store_->stream_lister()) {
      ListStreamsOptions o;
      o.stream_type = type;
      o.after = LowerBound(text);
      o.limit = 1;
      auto list = lister->ListStreams(o);
      if (!list) return FromStatus(list.error());
      if (list->empty() || (*list)[0].stream_id != *id) {
        return HttpError{404, "stream " + text + " does not exist", "NotFound"};
      }
      tip = (*list)[0].version;
    }
    ReadStreamOptions ro;
    ro.after_version = from;
    ro.count = limit;
    auto it = store_->ReadStream(*id, ro);
    if (!it) {
      if (it.error().IsNotFound()) return HttpError{404, "stream " + text + " does not exist", "NotFound"};
      return FromStatus(it.error());
    }
    auto events = Collect(**it);
    if (!events) return FromStatus(events.error());
    j["version"] = tip ? Json(*tip) : (events->empty() ? Json(nullptr) : Json(events->back().stream_version));
    j["events"] = Json::array();
    for (const Event& e : *events) j["events"].push_back(EventJson(e));
    bool more = static_cast<int64_t>(events->size()) == limit && (!tip || events->back().stream_version < *tip);
    j["next"] = more ? Json(events->back().stream_version) : Json(nullptr);
    SendJson(res, 200, j);
    return std::nullopt;
  }

  std::optional<HttpError> AllFilters(const httplib::Request& req, ReadAllOptions* o) {
    if (auto e = ListParam(req, "stream_type", &o->stream_types)) return e;
    if (auto e = ListParam(req, "event_type", &o->event_types)) return e;
    return std::nullopt;
  }

  std::optional<HttpError> All(const httplib::Request& req, httplib::Response& res) {
    GlobalReader* reader = Reader();
    if (!reader) return HttpError{501, "this store has no global log", "NotSupported"};
    ReadAllOptions o;
    if (auto e = IntParam(req, "after", &o.after_position, 0, std::numeric_limits<int64_t>::max())) return e;
    if (auto e = LimitParam(req, &o.count)) return e;
    if (auto e = AllFilters(req, &o)) return e;
    auto head = reader->HeadPosition();
    if (!head) return FromStatus(head.error());
    auto it = reader->ReadAll(o);
    if (!it) return FromStatus(it.error());
    auto events = Collect(**it);
    if (!events) return FromStatus(events.error());
    Json j;
    j["events"] = Json::array();
    for (const Event& e : *events) j["events"].push_back(EventJson(e));
    bool full = static_cast<int64_t>(events->size()) == o.count;
    j["next"] = full ? Json(events->back().global_position) : Json(nullptr);
    j["head"] = std::max(*head, events->empty() ? 0 : events->back().global_position);
    SendJson(res, 200, j);
    return std::nullopt;
  }

  std::optional<HttpError> EventAt(const httplib::Request& req, httplib::Response& res) {
    GlobalReader* reader = Reader();
    if (!reader) return HttpError{501, "this store has no global log", "NotSupported"};
    std::string v = req.matches[1].str();
    std::optional<int64_t> parsed = WholeInt(v);
    if (!parsed || *parsed < 1) {
      return HttpError{400, "position must be a positive integer, got \"" + v + "\"", "InvalidArgument"};
    }
    const int64_t pos = *parsed;
    ReadAllOptions o;
    o.after_position = pos - 1;
    o.count = 1;
    auto it = reader->ReadAll(o);
    if (!it) return FromStatus(it.error());
    auto e = (*it)->Next();
    if (!e) return FromStatus(e.error());
    if (!*e || (*e)->global_position != pos) {
      return HttpError{404, "no event at position " + v, "NotFound"};
    }
    SendJson(res, 200, EventJson(**e));
    return std::nullopt;
  }

  std::optional<HttpError> Tail(const httplib::Request& req, httplib::Response& res) {
    GlobalReader* reader = Reader();
    if (!reader) return HttpError{501, "this store has no global log", "NotSupported"};
    auto filters = std::make_shared<ReadAllOptions>();
    int64_t after = -1;
    if (auto e = IntParam(req, "after", &after, 0, std::numeric_limits<int64_t>::max())) return e;
    if (req.has_header("Last-Event-ID")) {
      std::string v = req.get_header_value("Last-Event-ID");
      std::optional<int64_t> id = WholeInt(v);
      if (!id || *id < 0) {
        return HttpError{400, "header Last-Event-ID must be a position, got \"" + v + "\"", "InvalidArgument"};
      }
      after = *id;
    }
    if (auto e = AllFilters(req, filters.get())) return e;
    if (after < 0) {
      // No position given: start at the head (only new appends).
      auto head = reader->HeadPosition();
      if (!head) return FromStatus(head.error());
      after = *head;
    }
    if (tails_.fetch_add(1) >= kMaxTails) {
      tails_.fetch_sub(1);
      return HttpError{503, "too many live tails open (at most " + std::to_string(kMaxTails) + ")", "Unavailable"};
    }
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Accel-Buffering", "no");
    auto cursor = std::make_shared<int64_t>(after);
    auto last_write = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, reader, filters, cursor, last_write](size_t, httplib::DataSink& sink) {
          return TailStep(*reader, *filters, cursor.get(), last_write.get(), sink);
        },
        [this](bool) { tails_.fetch_sub(1); });
    return std::nullopt;
  }

  // One step of a live tail: waits up to 250 ms for appends, writes the new
  // events. false ends the response (client gone, server stopping, error).
  bool TailStep(GlobalReader& reader, const ReadAllOptions& filters, int64_t* cursor,
                std::chrono::steady_clock::time_point* last_write, httplib::DataSink& sink) {
    if (stopping_.load()) return false;
    if (sink.is_writable && !sink.is_writable()) return false;
    int64_t head = 0;
    constexpr auto kWait = std::chrono::milliseconds(250);
    if (AppendWatcher* w = store_->append_watcher()) {
      auto h = w->WaitForAppend(*cursor, kWait);
      if (!h) return false;
      head = *h;
    } else {
      auto h = reader.HeadPosition();
      if (!h) return false;
      head = *h;
      if (head <= *cursor) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, kWait, [&] { return stopping_.load(); });
      }
    }
    if (stopping_.load()) return false;
    if (head > *cursor) {
      ReadAllOptions o = filters;
      o.after_position = *cursor;
      o.count = kMaxLimit;
      auto it = reader.ReadAll(o);
      if (!it) return false;
      auto events = Collect(**it);
      if (!events) return false;
      std::string chunk;
      for (const Event& e : *events) {
        chunk += "id: " + std::to_string(e.global_position) +
                 "\nevent: event\ndata: " + EventJson(e).dump(-1, ' ', false, Json::error_handler_t::replace) + "\n\n";
      }
      // A filtered read may skip positions: move past the head seen, or past
      // the last event when the page was full.
      if (static_cast<int64_t>(events->size()) == o.count) {
        *cursor = events->back().global_position;
      } else {
        *cursor = std::max(head, events->empty() ? *cursor : events->back().global_position);
      }
      if (!chunk.empty()) {
        if (!sink.write(chunk.data(), chunk.size())) return false;
        *last_write = std::chrono::steady_clock::now();
      }
    }
    if (std::chrono::steady_clock::now() - *last_write >= std::chrono::seconds(15)) {
      static constexpr std::string_view kKeepAlive = ": keep-alive\n\n";
      if (!sink.write(kKeepAlive.data(), kKeepAlive.size())) return false;
      *last_write = std::chrono::steady_clock::now();
    }
    return true;
  }

  std::optional<HttpError> DeadLetters(const httplib::Request& req, httplib::Response& res) {
    if (!read_model_) return HttpError{404, "no read model (start estoria ui with --read-model URI)", "NotFound"};
    std::string name = req.matches[1].str();
    int64_t limit;
    if (auto e = LimitParam(req, &limit)) return e;
    int64_t after = 0;
    if (auto e = IntParam(req, "after", &after, 0, std::numeric_limits<int64_t>::max())) return e;
    auto page = read_model_->PageDeadLetters(name, after, limit);
    if (!page) return FromStatus(page.error());
    std::vector<int64_t> requested;
    auto r = read_model_->dead_letters().ListReplayRequests(name);
    if (r) {
      requested = std::move(*r);
    } else if (!r.error().IsNotSupported()) {
      return FromStatus(r.error());
    }
    Json j;
    j["dead_letters"] = Json::array();
    for (const DeadLetter& d : *page) {
      Json l;
      l["position"] = d.event.global_position;
      l["error"] = d.error;
      l["attempts"] = d.attempts;
      l["parked_at"] = FormatTimestamp(d.parked_at);
      l["replay_requested"] = std::binary_search(requested.begin(), requested.end(), d.event.global_position);
      l["event"] = EventJson(d.event);
      j["dead_letters"].push_back(std::move(l));
    }
    bool full = static_cast<int64_t>(page->size()) == limit;
    j["next"] = full ? Json(page->back().event.global_position) : Json(nullptr);
    SendJson(res, 200, j);
    return std::nullopt;
  }

  std::optional<HttpError> DeadLetterAction(const httplib::Request& req, httplib::Response& res) {
    if (auto e = CheckWrite(req)) return e;
    if (!read_model_) return HttpError{404, "no read model (start estoria ui with --read-model URI)", "NotFound"};
    std::string name = req.matches[1].str();
    std::string v = req.matches[2].str();
    std::optional<int64_t> parsed = WholeInt(v);
    if (!parsed || *parsed < 1) {
      return HttpError{400, "position must be a positive integer, got \"" + v + "\"", "InvalidArgument"};
    }
    const int64_t pos = *parsed;
    Json j;
    if (req.matches[3].str() == "replay") {
      auto n = read_model_->dead_letters().RequestReplay(name, pos);
      if (!n) return FromStatus(n.error());
      j["requested"] = *n;
    } else {
      Status s = read_model_->dead_letters().Discard(name, pos);
      if (!s.ok()) return FromStatus(s);
      j["discarded"] = 1;
    }
    SendJson(res, 200, j);
    return std::nullopt;
  }

  UiOptions options_;
  std::shared_ptr<EventStore> store_;
  std::unique_ptr<ReadModelInfo> read_model_;
  const std::string csrf_;
  httplib::Server svr_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> tails_{0};
  std::mutex stop_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool finished_ = false;
};

}  // namespace

Result<std::unique_ptr<UiServer>> UiServer::Start(const UiOptions& options, std::shared_ptr<EventStore> store) {
  if (options.port < 0 || options.port > 65535) {
    return Status::InvalidArgument("--listen: port must be in 0..65535, got " + std::to_string(options.port));
  }
  if (options.host.empty()) return Status::InvalidArgument("--listen: empty host");
  if (!IsLoopback(options.host) && options.token.empty()) {
    return Status::InvalidArgument("--listen " + options.host +
                                   " is not a loopback address: set an access token with --token or "
                                   "ESTORIA_UI_TOKEN");
  }
  for (char c : options.token) {
    // The token travels in a header and a cookie: visible ASCII, no cookie
    // separators.
    if (c <= ' ' || c > '~' || c == ';' || c == ',' || c == '"' || c == '\\') {
      return Status::InvalidArgument(
          "--token: only visible ASCII characters other than ; , \" \\ may appear in the token");
    }
  }
  if (!store) {
    if (options.store_uri.empty()) return Status::InvalidArgument("--store URI is required");
    ESTORIA_ASSIGN_OR_RETURN(store, OpenEventStore(options.store_uri));
  }
  std::string rm_uri = options.read_model_uri;
  if (rm_uri.empty() && (options.store_uri.starts_with("sqlite:") || options.store_uri.starts_with("postgres"))) {
    rm_uri = options.store_uri;
  }
  std::unique_ptr<ReadModelInfo> read_model;
  if (!rm_uri.empty()) {
    ESTORIA_ASSIGN_OR_RETURN(read_model, ReadModelInfo::Open(rm_uri));
  }
  auto server = std::make_unique<Server>(options, std::move(store), std::move(read_model));
  ESTORIA_RETURN_IF_ERROR(server->Bind());
  return std::unique_ptr<UiServer>(std::move(server));
}

}  // namespace estoria::ui
