// estoria cli: Progress reports the progress of a long copy on stderr: a
// redrawn bar with events/s and ETA on a terminal, plain lines (at most one per
// second) otherwise.
//
// Thread safety: one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace estoria::cli {

class Progress {
 public:
  // `total` may be an estimate (0 = unknown). `tty`: redraw a bar in place.
  Progress(std::FILE* out, int64_t total, bool tty);
  // Reports `done` units so far; draws at most ~10 times a second (tty) or once
  // a second (plain lines).
  void Update(int64_t done);
  // Final line.
  void Finish(int64_t done);

 private:
  void Draw(int64_t done, bool final);

  std::FILE* out_;
  int64_t total_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace estoria::cli
