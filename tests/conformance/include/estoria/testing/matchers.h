// estoria/testing/matchers.h: GoogleTest helpers for Status and Result.
//   ESTORIA_EXPECT_OK(expr), ESTORIA_ASSERT_OK(expr)  expr is a Status or a Result
//   ESTORIA_ASSERT_OK_AND_ASSIGN(lhs, expr)        unwraps a Result or fails the test
//   StatusIs(code)                         matcher for a Status or Result's error
//
// Thread safety: as GoogleTest's assertions (usable from test threads).
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "estoria/status.h"

namespace estoria::testing {

inline const Status& ToStatus(const Status& s) { return s; }
template <typename T>
const Status& ToStatus(const Result<T>& r) {
  return r.error();
}

MATCHER_P(StatusIs, code, std::string("has status code ") + std::string(::estoria::StatusCodeName(code))) {
  ::estoria::Status s = ::estoria::testing::ToStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code;
}

MATCHER(IsOk, "is OK") {
  ::estoria::Status s = ::estoria::testing::ToStatus(arg);
  *result_listener << "status is " << s;
  return s.ok();
}

}  // namespace estoria::testing

#define ESTORIA_EXPECT_OK(expr) EXPECT_THAT((expr), ::estoria::testing::IsOk())
#define ESTORIA_ASSERT_OK(expr) ASSERT_THAT((expr), ::estoria::testing::IsOk())
#define ESTORIA_TEST_CONCAT_INNER_(a, b) a##b
#define ESTORIA_TEST_CONCAT_(a, b) ESTORIA_TEST_CONCAT_INNER_(a, b)
#define ESTORIA_ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ESTORIA_ASSERT_OK_AND_ASSIGN_IMPL_(ESTORIA_TEST_CONCAT_(estoria_test_result_, __LINE__), lhs, expr)
#define ESTORIA_ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr)  \
  auto tmp = (expr);                                        \
  ASSERT_TRUE(tmp.has_value()) << "error: " << tmp.error(); \
  lhs = std::move(tmp).value()
