// Shared helpers of the CLI tests: the binary, fresh stores per backend, output
// normalisation, waiting for a condition with a deadline.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "estoria/testing/temp_dir.h"
#include "subprocess.h"

namespace estoria_cli_test {

inline const std::string kBinary = ESTORIA_CLI_BINARY;

// The PostgreSQL server of the test run, or "" (then PostgreSQL tests skip).
inline std::string PostgresUri() {
  const char* uri = std::getenv("ESTORIA_TEST_POSTGRES");
  return uri ? uri : "";
}

// A PostgreSQL store URI in a schema of its own (tests run in parallel).
inline std::string PostgresStore(const std::string& name) {
  static std::atomic<int> counter{0};
  std::string uri = PostgresUri();
  std::string schema = "cli_" + name + "_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
  return uri + (uri.find('?') == std::string::npos ? "?" : "&") + "estoria_schema=" + schema;
}

// The single-node NATS server of the test run (set by scripts/with-nats), or ""
// (then NATS tests skip).
inline std::string NatsUrl() {
  const char* url = std::getenv("ESTORIA_NATS_URL");
  return url ? url : "";
}

// A NATS store URI on a new JetStream stream of its own: tests share the server,
// which may outlive this run (the random part keeps a reused pid apart).
inline std::string NatsStore(const std::string& name) {
  static std::atomic<int> counter{0};
  static const unsigned run = std::random_device{}() % 1000000;
  return NatsUrl() + "?stream=cli_" + name + "_" + std::to_string(getpid()) + "_" + std::to_string(run) + "_" +
         std::to_string(counter++);
}

// Why the per-backend repeat BACKEND ("postgres" or "nats") of a golden or
// export/import test does not run here, or "" when it runs: when the server is
// not set, and in sanitizer builds (ESTORIA_SANITIZER_BUILD=1, set by
// scripts/run-tests), which run these subprocess tests on SQLite only. The same
// CLI code runs in every repeat; the backends' own code runs under the
// sanitizers in their conformance suites.
inline std::string BackendSkipReason(const std::string& backend) {
  if (backend != "postgres" && backend != "nats") return "";
  const char* sanitizer = std::getenv("ESTORIA_SANITIZER_BUILD");
  if (sanitizer && std::string(sanitizer) == "1") {
    return "sanitizer builds run the CLI golden tests on SQLite only (the " + backend +
           " backend runs its conformance suite under the sanitizer)";
  }
  if (backend == "postgres" && PostgresUri().empty()) return "ESTORIA_TEST_POSTGRES is not set";
  if (backend == "nats" && NatsUrl().empty()) return "ESTORIA_NATS_URL is not set (run under scripts/with-nats)";
  return "";
}

using ::estoria::testing::TempDir;

// Replaces generated UUIDs (all but the tests' fixed 00000000-... ones) with
// <uuid> and RFC 3339 timestamps with <ts>.
inline std::string Normalize(const std::string& text) {
  static const std::regex kUuid("(?!00000000-)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  static const std::regex kTs(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)");
  return std::regex_replace(std::regex_replace(text, kUuid, "<uuid>"), kTs, "<ts>");
}

inline int CountLines(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

// Polls `condition` every 20 ms until it holds or `timeout` passes.
inline bool WaitFor(const std::function<bool()>& condition,
                    std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

}  // namespace estoria_cli_test
