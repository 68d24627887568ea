// `estoria ui` as a subprocess: the start line, serving, and the refusal of a
// non-loopback listener without a token (exit status 2).
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "cli/subprocess.h"

namespace {

using estoria_cli_test::Child;
using estoria_cli_test::RunCommand;

TEST(UiCli, PrintsItsAddressAndServes) {
  std::string path = std::filesystem::temp_directory_path() / ("estoria_ui_cli_" + std::to_string(getpid()) + ".db");
  std::filesystem::remove(path);
  ASSERT_EQ(RunCommand({ESTORIA_CLI_BINARY, "--store", "sqlite:" + path, "append",
                        "order_0190f5a0-0000-7000-8000-000000000001", "--type", "placed", "--data", "{}"})
                .exit_code,
            0);
  Child child({ESTORIA_CLI_BINARY, "ui", "--store", "sqlite:" + path, "--listen", "127.0.0.1:0"});
  // Wait (with a deadline) for the one start line.
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (out.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline && !child.Exited()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling the child's output file
    out = child.OutSoFar();
  }
  const std::string prefix = "estoria ui listening on http://127.0.0.1:";
  ASSERT_TRUE(out.starts_with(prefix)) << out;
  int port = std::stoi(out.substr(prefix.size()));
  EXPECT_EQ(out.substr(out.find('/', prefix.size())), "/\n");
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get("/api/all");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("\"type\":\"placed\""), std::string::npos) << r->body;
  child.Kill();
  child.Wait();
  for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path + s);
}

TEST(UiCli, NonLoopbackWithoutTokenExitsTwo) {
  auto r = RunCommand({ESTORIA_CLI_BINARY, "ui", "--store", "memory:", "--listen", "0.0.0.0:0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--token"), std::string::npos) << r.err;
  r = RunCommand({ESTORIA_CLI_BINARY, "ui", "--store", "memory:", "--listen", "localhost"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--listen"), std::string::npos) << r.err;
}

}  // namespace
