// estoria cli: Progress reports the progress of a long operation (copy,
// import, export) on stderr: on a terminal, a bar redrawn in place with the
// events done, the rate and the time left; otherwise plain lines, at most one
// every 5 seconds, and a final line.
//
//   terminal: "\r[###############...............]  50.0% 500/1000 events  100 events/s  ETA 5s   "
//   plain:    "copy: 500/1000 events (50.0%), 100 events/s, ETA 5s\n"
// With an unknown total (0) the bar, percentage and ETA are left out:
//   terminal: "\rimport: 500 events  100 events/s   "
//   plain:    "import: 500 events, 100 events/s\n"
//
// Thread safety: one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

namespace estoria::cli {

class Progress {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // `label` names the operation ("copy"). `total` may be an estimate (0 =
  // unknown). `tty`: redraw a bar in place. `clock` is the time source
  // (default std::chrono::steady_clock::now; tests pass their own); the rate
  // counts from construction.
  Progress(std::FILE* out, std::string label, int64_t total, bool tty, Clock clock = {});
  // Changes the (estimated) total.
  void SetTotal(int64_t total) { total_ = total; }
  // Reports `done` units so far; draws at most every 100 ms (tty) or every 5 s
  // (plain lines).
  void Update(int64_t done);
  // Draws the final line (ETA 0s, then a newline on a terminal).
  void Finish(int64_t done);

  // The text a draw writes now for `done` (final: the last line).
  std::string Render(int64_t done, bool final) const;

 private:
  std::FILE* out_;
  std::string label_;
  int64_t total_;
  bool tty_;
  Clock clock_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace estoria::cli
