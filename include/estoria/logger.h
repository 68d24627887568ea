// estoria/logger.h: the Logger interface through which Estoria reports what it
// cannot return (a skipped snapshot, a retried connection). There is no global
// logger: components take a std::shared_ptr<Logger> in their options.
//
// Thread safety: Log() may be called from many threads at once; implementations
// must be thread safe. The built-in loggers are.
#pragma once

#include <memory>
#include <string_view>

namespace estoria {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

class Logger {
 public:
  virtual ~Logger() = default;
  virtual void Log(LogLevel level, std::string_view message) = 0;
};

// Writes warnings and errors to stderr, one line each, prefixed "estoria: ".
// Shared and stateless; the default of every options struct.
std::shared_ptr<Logger> StderrLogger(LogLevel min_level = LogLevel::kWarning);
// Discards everything.
std::shared_ptr<Logger> NullLogger();

}  // namespace estoria
