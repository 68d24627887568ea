#include "progress.h"

#include <algorithm>
#include <utility>

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

std::string Printf(const char* format, auto... args) {
  int n = std::snprintf(nullptr, 0, format, args...);
  std::string out(static_cast<size_t>(std::max(n, 0)) + 1, '\0');
  std::snprintf(out.data(), out.size(), format, args...);
  out.resize(static_cast<size_t>(std::max(n, 0)));
  return out;
}

}  // namespace

Progress::Progress(std::FILE* out, std::string label, int64_t total, bool tty, Clock clock)
    : out_(out),
      label_(std::move(label)),
      total_(total),
      tty_(tty),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })),
      start_(clock_()),
      last_draw_(start_) {}

void Progress::Update(int64_t done) {
  auto now = clock_();
  auto interval = tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5000);
  if (now - last_draw_ < interval) return;
  last_draw_ = now;
  std::fputs(Render(done, false).c_str(), out_);
  std::fflush(out_);
}

void Progress::Finish(int64_t done) {
  std::fputs(Render(done, true).c_str(), out_);
  std::fflush(out_);
}

std::string Progress::Render(int64_t done, bool final) const {
  double elapsed = std::chrono::duration<double>(clock_() - start_).count();
  double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  const auto events = static_cast<long long>(done);
  if (total_ <= 0) {  // unknown total: no bar, percentage or ETA
    if (tty_) return Printf("\r%s: %lld events  %.0f events/s   %s", label_.c_str(), events, rate, final ? "\n" : "");
    return Printf("%s: %lld events, %.0f events/s\n", label_.c_str(), events, rate);
  }
  int64_t total = std::max(total_, done);
  const std::string eta = final
                              ? std::string("0s")
                              : (rate > 0 ? FormatSeconds(static_cast<double>(total - done) / rate) : std::string("?"));
  double pct = 100.0 * static_cast<double>(done) / static_cast<double>(total);
  if (tty_) {
    constexpr int kWidth = 30;
    int filled = static_cast<int>(pct / 100.0 * kWidth);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.append(static_cast<size_t>(kWidth - filled), '.');
    return Printf("\r[%s] %5.1f%% %lld/%lld events  %.0f events/s  ETA %s   %s", bar.c_str(), pct, events,
                  static_cast<long long>(total), rate, eta.c_str(), final ? "\n" : "");
  }
  return Printf("%s: %lld/%lld events (%.1f%%), %.0f events/s, ETA %s\n", label_.c_str(), events,
                static_cast<long long>(total), pct, rate, eta.c_str());
}

}  // namespace estoria::cli
