// bank_fixture.h: the parameterised fixture of the bank black-box tests: one
// fresh backend (SQLite file, PostgreSQL database or NATS JetStream stream) per
// test, servers started on it on demand.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "bank_process.h"

namespace bank_test {

class BankTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string skip;
    backend_ = BankBackend::Create(GetParam(), &skip);
    if (!backend_) GTEST_SKIP() << skip;
  }

  // Starts a server on this test's backend; null (with a test failure) when it
  // cannot start.
  std::unique_ptr<BankProcess> StartServer(const std::vector<std::string>& args = {}) {
    std::string error;
    auto server = BankProcess::Start(backend_->uri(), args, &error, backend_->dir());
    if (!server) ADD_FAILURE() << error;
    return server;
  }

  std::unique_ptr<BankBackend> backend_;
};

inline std::string BackendName(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

}  // namespace bank_test

#define BANK_INSTANTIATE(suite) \
  INSTANTIATE_TEST_SUITE_P(Backends, suite, ::testing::Values("sqlite", "postgres", "nats"), ::bank_test::BackendName)
