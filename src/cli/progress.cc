#include "progress.h"

#include <algorithm>

namespace estoria::cli {
namespace {

std::string FormatSeconds(double s) {
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%dh%02dm", int(s / 3600), int(s / 60) % 60);
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", int(s / 60), int(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%.0fs", s);
  }
  return buf;
}

}  // namespace

Progress::Progress(std::FILE* out, int64_t total, bool tty)
    : out_(out), total_(total), tty_(tty), start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

void Progress::Update(int64_t done) {
  auto now = std::chrono::steady_clock::now();
  auto interval = tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(1000);
  if (now - last_draw_ < interval) return;
  last_draw_ = now;
  Draw(done, false);
}

void Progress::Finish(int64_t done) { Draw(done, true); }

void Progress::Draw(int64_t done, bool final) {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = elapsed > 0 ? done / elapsed : 0;
  int64_t total = std::max(total_, done);
  const std::string eta =
      final ? std::string("0s") : (rate > 0 && total > 0 ? FormatSeconds((total - done) / rate) : std::string("?"));
  double pct = total > 0 ? 100.0 * done / total : 100.0;
  if (tty_) {
    constexpr int kWidth = 30;
    int filled = static_cast<int>(pct / 100.0 * kWidth);
    std::string bar(filled, '#');
    bar.append(kWidth - filled, '.');
    std::fprintf(out_, "\r[%s] %5.1f%% %lld/%lld events  %.0f events/s  ETA %s   ", bar.c_str(), pct,
                 static_cast<long long>(done), static_cast<long long>(total), rate, eta.c_str());
    if (final) std::fputc('\n', out_);
  } else {
    std::fprintf(out_, "copy: %lld/%lld events (%.1f%%), %.0f events/s, ETA %s\n", static_cast<long long>(done),
                 static_cast<long long>(total), pct, rate, eta.c_str());
  }
  std::fflush(out_);
}

}  // namespace estoria::cli
