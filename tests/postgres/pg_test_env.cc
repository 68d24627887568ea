// Linked into every PostgreSQL test binary: skips all its tests when
// ESTORIA_TEST_POSTGRES is unset (GTEST_SKIP in a global environment's SetUp).
#include "pg_test_util.h"

namespace {

class RequirePostgres : public ::testing::Environment {
 public:
  void SetUp() override {
    if (estoria::postgres::testing::ServerUri().empty()) {
      GTEST_SKIP() << "ESTORIA_TEST_POSTGRES is unset: no PostgreSQL server to test";
    }
  }
};

const auto* const kRequirePostgres = ::testing::AddGlobalTestEnvironment(new RequirePostgres);

}  // namespace
