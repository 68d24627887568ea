// estoria/testing/temp_dir.h: TempDir, a fresh directory under $TMPDIR removed
// with its contents on destruction, for tests that need real files.
//
// Thread safety: NewFile may be called from many threads; the rest is const.
#pragma once

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <system_error>

namespace estoria::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "estoria-test-XXXXXX").string();
    const char* made = mkdtemp(tmpl.data());
    path_ = made ? made : "";
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return (std::filesystem::path(path_) / name).string(); }
  // A new unique file name in this directory: "<prefix>-<n>.db".
  std::string NewFile(const std::string& prefix = "db") {
    return File(prefix + "-" + std::to_string(counter_++) + ".db");
  }

 private:
  std::string path_;
  std::atomic<int> counter_{0};
};

}  // namespace estoria::testing
