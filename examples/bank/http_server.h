// http_server.h: BankHttpServer, the HTTP face of the bank example: routes,
// validation, JSON errors, metrics and graceful shutdown, over a Bank.
//
//   POST /accounts/{id}/balance   ModifyBalance            204, 400, 409, 412, 422
//   GET  /accounts/{id}/summary   on-demand fold           200, 400, 404
//   GET  /accounts/{id}           read model (min_position) 200, 400, 404, 503
//   GET  /accounts                read model list          200, 400, 503
//   GET  /healthz, GET /metrics
//   anything else: 404 (unknown path) or 405 (known path, wrong method); bodies
//   over the limit: 413. Every error is {"error": {"code", "message"}}.
//
// Limits against slow, idle and hostile clients (HttpServerOptions): a request
// line over max_request_line_bytes is answered 414, a header block over
// max_header_bytes 431, a request not fully received within request_timeout
// (from its first byte) 408; each closes the connection. A connection with no
// request started within idle_timeout is closed without a reply. Beyond
// max_connections open connections (being served or waiting for a worker), a
// new one is answered 503 at once and closed. So a worker is held by one
// connection for at most idle_timeout + request_timeout + the handler's time
// per request.
//
// Thread safety: Stop() may be called from any thread (e.g. a signal thread)
// while Serve() runs; other methods are called by one thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "bank.h"
#include "estoria/status.h"
#include "metrics.h"

namespace httplib {
class Server;
}
namespace prometheus {
class Registry;
}

namespace bank {

struct HttpServerOptions {
  // Address to listen on. Default 127.0.0.1.
  std::string host = "127.0.0.1";
  // Port; 0 picks a free one (see Bind). Default 8080.
  int port = 8080;
  // Worker threads serving connections. Default 32.
  size_t threads = 32;
  // Larger request bodies are refused with 413. Default 64 KiB.
  size_t max_body_bytes = 64 * 1024;
  // How long a read-model query with min_position waits. Default 5 s.
  std::chrono::milliseconds min_position_timeout{5000};
  // Longest request line (method, target and version, CRLF excluded); longer:
  // 414. Default 8 KiB, which is also the most httplib accepts.
  size_t max_request_line_bytes = 8 * 1024;
  // Largest header block (every header line after the request line, CRLFs and
  // the final empty line included); larger: 431. Default 16 KiB.
  size_t max_header_bytes = 16 * 1024;
  // Time to receive a whole request (line, headers and body) from its first
  // byte; slower: 408 and the connection is closed. Default 10 s.
  std::chrono::milliseconds request_timeout{10000};
  // How long a connection may wait for its next (or first) request before it is
  // closed. Default 5 s.
  std::chrono::milliseconds idle_timeout{5000};
  // Open connections (served or waiting for a free worker); one more is
  // answered 503 and closed. Default 512.
  size_t max_connections = 512;
  // Where the HTTP and command metrics are recorded, and what GET /metrics
  // serves (the whole registry). Default null: a registry of the server's own.
  std::shared_ptr<prometheus::Registry> metrics_registry = nullptr;
};

class BankHttpServer {
 public:
  BankHttpServer(std::shared_ptr<Bank> bank, HttpServerOptions options);
  ~BankHttpServer();
  BankHttpServer(const BankHttpServer&) = delete;
  BankHttpServer& operator=(const BankHttpServer&) = delete;

  // Binds the listening socket. Returns the bound port. Unavailable when the
  // address cannot be bound.
  estoria::Result<int> Bind();

  // Accepts and serves connections until Stop(); then finishes the requests in
  // flight and returns. Internal when the accept loop fails.
  estoria::Status Serve();

  // Stops accepting; Serve() returns once in-flight requests are done.
  void Stop();

  const Metrics& metrics() const { return metrics_; }

  // Serves one request given as the bytes a client sends on a connection
  // (request line, headers, body) through the same parsing, limits, routing and
  // handlers as Serve(), without a socket, and returns the bytes of the reply
  // (the connection is treated as closed after it). Used by the tests and the
  // fuzz target; any thread, while Serve() runs or not.
  std::string HandleRawRequest(std::string_view request);

 private:
  class Handlers;
  std::shared_ptr<Bank> bank_;
  HttpServerOptions options_;
  Metrics metrics_;
  std::unique_ptr<httplib::Server> server_;
  std::unique_ptr<Handlers> handlers_;
};

}  // namespace bank
