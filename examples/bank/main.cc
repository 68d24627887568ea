// estoria-bank: the CQRS example service. Bank accounts over HTTP on top of
// Estoria: commands append BalanceChanged events, queries read an on-demand fold
// or a read model kept by a projection processor. Run with --help.
#include <prometheus/registry.h>
#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <iostream>
#include <string>
#include <thread>

#include "estoria_bank.h"
#include "http_server.h"

#if defined(__SANITIZE_THREAD__)
// ThreadSanitizer builds: Debian's libcpp-httplib.so is not instrumented, so the
// synchronisation inside it (e.g. the guard of a function-local static first
// initialised on one worker thread) is invisible, and its reads on other workers
// are reported as races. Only frames in that library are suppressed.
extern "C" const char* __tsan_default_suppressions() { return "race:libcpp-httplib.so\n"; }
#endif

namespace {

bool ParseListen(const std::string& text, std::string* host, int* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return false;
  *host = text.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') *host = host->substr(1, host->size() - 2);
  try {
    size_t used = 0;
    int p = std::stoi(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1 || p < 0 || p > 65535) return false;
    *port = p;
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

void PrintHowTo(const std::string& base, const bank::BankOptions& options) {
  std::string id = estoria::Uuid::NewV7().ToString();
  std::cout << "estoria-bank: listening on " << base << "\n"
            << "  event store: " << options.store_uri << "\n"
            << "  read model:  " << bank::ReadModelUri(options).value_or(options.read_model_uri) << "\n\n"
            << "How to use (an account id is any UUID; this one is fresh):\n"
            << "  # deposit 100, then withdraw 30 (204, with ETag = version, X-Global-Position)\n"
            << "  curl -i -X POST " << base << "/accounts/" << id << "/balance -d '{\"amount\": 100}'\n"
            << "  curl -i -X POST " << base << "/accounts/" << id
            << "/balance -H 'If-Match: \"1\"' -d '{\"amount\": -30}'\n"
            << "  # the on-demand projection, folded from the account's events\n"
            << "  curl -s " << base << "/accounts/" << id << "/summary\n"
            << "  # the read model (min_position waits until the read model has reached it)\n"
            << "  curl -s '" << base << "/accounts/" << id << "?min_position=1'\n"
            << "  curl -s '" << base << "/accounts?limit=10&min_balance=50'\n"
            << "  # operations\n"
            << "  curl -s " << base << "/healthz\n"
            << "  curl -s " << base << "/metrics\n"
            << "Stop with Ctrl-C (SIGINT) or SIGTERM: in-flight requests finish, the read model checkpoints.\n"
            << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  bank::BankOptions bank_options;
  bank::HttpServerOptions http_options;
  std::string listen = "127.0.0.1:8080";
  int64_t min_position_timeout_ms = http_options.min_position_timeout.count();
  int64_t request_timeout_ms = http_options.request_timeout.count();
  int64_t idle_timeout_ms = http_options.idle_timeout.count();

  CLI::App app{
      "estoria-bank: bank accounts over HTTP, the CQRS example of Estoria C++.\n"
      "Commands (POST /accounts/{id}/balance) append events; GET /accounts/{id}/summary folds them on demand;\n"
      "GET /accounts/{id} and GET /accounts read a SQL read model kept by a projection processor.\n"
      "GET /healthz and GET /metrics (Prometheus) for operations. SIGINT/SIGTERM stop it gracefully."};
  app.footer(
      "Routes:\n"
      "  POST /accounts/{id}/balance  {\"amount\": N}   204 + ETag + X-Global-Position; If-Match: \"<version>\" -> "
      "412;\n"
      "                               overdraft -> 422; conflicts retried --max-attempts times, then 409\n"
      "  GET  /accounts/{id}/summary                  on-demand fold of the account's events (404 if none)\n"
      "  GET  /accounts/{id}[?min_position=P]         the read model (waits for P, else 503)\n"
      "  GET  /accounts[?limit=N&after=ID&min_balance=X&min_position=P]\n"
      "  GET  /healthz, GET /metrics (Prometheus text format)\n"
      "Errors are JSON {\"error\": {\"code\", \"message\"}}: 400, 404, 405, 409, 412, 413 (body > 64 KiB), 422, 503.\n"
      "Limits: a request line over --max-request-line-bytes -> 414, headers over --max-header-bytes -> 431, a\n"
      "request not received within --request-timeout-ms of its first byte -> 408 (each closes the connection);\n"
      "a connection idle for --idle-timeout-ms is closed; beyond --max-connections a new connection gets 503.\n"
      "Example: estoria-bank --store postgres://user@localhost/bank --listen 0.0.0.0:8080");
  app.add_option("--store", bank_options.store_uri,
                 "Event store URI: sqlite:PATH, sqlite::memory:, memory:, postgres://... or postgresql://... "
                 "(PostgreSQL: estoria_pool_size defaults to 16 here), or "
                 "nats://HOST:PORT[,HOST:PORT...]?stream=NAME (a NATS JetStream stream)")
      ->capture_default_str();
  app.add_option("--read-model", bank_options.read_model_uri,
                 "Read model URI: sqlite:PATH, postgres://... or memory: (rebuilt at each start); it holds the "
                 "projection's checkpoint too. Default: the event store's database (memory: for a memory: store; "
                 "for a nats: store, which has none, sqlite:data/nats-<stream>-read-model.db)");
  app.add_option("--listen", listen, "Address to serve HTTP on, HOST:PORT (port 0 = any free port)")
      ->capture_default_str();
  app.add_option("--threads", http_options.threads, "HTTP worker threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--max-attempts", bank_options.max_attempts,
                 "Attempts per command when concurrent commands conflict, before answering 409")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--min-position-timeout-ms", min_position_timeout_ms,
                 "How long a read-model query with min_position waits before answering 503")
      ->capture_default_str()
      ->check(CLI::Range(0, 600000));
  app.add_option("--max-request-line-bytes", http_options.max_request_line_bytes,
                 "Longest request line (method, target, version); longer requests get 414")
      ->capture_default_str()
      ->check(CLI::Range(64, 8192));
  app.add_option("--max-header-bytes", http_options.max_header_bytes,
                 "Largest header block of a request; larger ones get 431")
      ->capture_default_str()
      ->check(CLI::Range(256, 1024 * 1024));
  app.add_option("--request-timeout-ms", request_timeout_ms,
                 "Time to receive a whole request from its first byte; a slower client gets 408 and is disconnected")
      ->capture_default_str()
      ->check(CLI::Range(100, 600000));
  app.add_option("--idle-timeout-ms", idle_timeout_ms,
                 "How long a connection may wait for its next request before the server closes it")
      ->capture_default_str()
      ->check(CLI::Range(100, 600000));
  app.add_option("--max-connections", http_options.max_connections,
                 "Open connections (served or waiting for a worker); a new one beyond this gets 503 and is closed")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  CLI11_PARSE(app, argc, argv);
  http_options.min_position_timeout = std::chrono::milliseconds(min_position_timeout_ms);
  http_options.request_timeout = std::chrono::milliseconds(request_timeout_ms);
  http_options.idle_timeout = std::chrono::milliseconds(idle_timeout_ms);
  if (!ParseListen(listen, &http_options.host, &http_options.port)) {
    std::cerr << "estoria-bank: --listen must be HOST:PORT, got \"" << listen << "\"\n";
    return 2;
  }

  // SIGINT/SIGTERM are taken by a signal thread (sigwait); block them in every
  // thread, which inherit this mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // One registry for the library's store metrics and the server's HTTP metrics.
  auto registry = std::make_shared<prometheus::Registry>();
  bank_options.metrics_registry = registry;
  http_options.metrics_registry = registry;
  auto opened = bank::OpenBank(bank_options);
  if (!opened.has_value()) {
    std::cerr << "estoria-bank: cannot open: " << opened.error() << "\n";
    return 1;
  }
  std::shared_ptr<bank::EstoriaBank> service = *opened;
  bank::BankHttpServer server(service, http_options);
  auto port = server.Bind();
  if (!port.has_value()) {
    std::cerr << "estoria-bank: " << port.error() << "\n";
    (void)service->Close();
    return 1;
  }
  std::string host =
      http_options.host.find(':') != std::string::npos ? "[" + http_options.host + "]" : http_options.host;
  PrintHowTo("http://" + host + ":" + std::to_string(*port), bank_options);

  std::promise<void> served_promise;
  std::shared_future<void> served = served_promise.get_future().share();
  std::atomic<bool> signalled{false};
  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    signalled = true;
    std::cout << "estoria-bank: " << (sig == SIGINT ? "SIGINT" : "SIGTERM")
              << ": stopping (finishing in-flight requests)" << std::endl;
    // Stop() is a no-op until the accept loop runs: repeat until it returned.
    do {
      server.Stop();
    } while (served.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready);
  });

  estoria::Status serve_status = server.Serve();
  served_promise.set_value();
  if (!signalled) kill(getpid(), SIGTERM);  // wake the signal thread
  signal_thread.join();

  estoria::Status close_status = service->Close();
  if (!serve_status.ok() || !close_status.ok()) {
    std::cerr << "estoria-bank: " << (!serve_status.ok() ? serve_status : close_status) << "\n";
    return 1;
  }
  std::cout << "estoria-bank: stopped; read model checkpointed at position " << service->Stats().position << std::endl;
  return 0;
}
