// Helpers shared by the SQLite tests: temporary directories and files.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "estoria/testing/temp_dir.h"

namespace estoria::sqlite::testing {

using ::estoria::testing::TempDir;

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// One temporary directory for a whole test program, removed when the tests end
// (for suites whose factories make a fresh file per test).
inline TempDir& ProgramTempDir() {
  struct Remove : ::testing::Environment {
    explicit Remove(TempDir* dir) : dir(dir) {}
    void TearDown() override { delete dir; }
    TempDir* dir;
  };
  static TempDir* dir = [] {
    auto* d = new TempDir();
    ::testing::AddGlobalTestEnvironment(new Remove(d));
    return d;
  }();
  return *dir;
}

}  // namespace estoria::sqlite::testing
