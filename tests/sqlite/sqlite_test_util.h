// Helpers shared by the SQLite tests: temporary directories and files.
#pragma once

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

}  // namespace estoria::sqlite::testing
