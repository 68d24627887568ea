#include "estoria/logger.h"

#include <cstdio>
#include <string>

namespace estoria {
namespace {

class StderrLoggerImpl : public Logger {
 public:
  explicit StderrLoggerImpl(LogLevel min) : min_(min) {}
  void Log(LogLevel level, std::string_view message) override {
    if (level < min_) return;
    static const char* kNames[] = {"debug", "info", "warning", "error"};
    std::string line = "estoria: ";
    line += kNames[static_cast<int>(level)];
    line += ": ";
    line += message;
    line += "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);  // one write: lines never interleave
  }

 private:
  LogLevel min_;
};

class NullLoggerImpl : public Logger {
 public:
  void Log(LogLevel, std::string_view) override {}
};

}  // namespace

std::shared_ptr<Logger> StderrLogger(LogLevel min_level) { return std::make_shared<StderrLoggerImpl>(min_level); }
std::shared_ptr<Logger> NullLogger() { return std::make_shared<NullLoggerImpl>(); }

}  // namespace estoria
