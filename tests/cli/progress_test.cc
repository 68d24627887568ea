// The rendering of the CLI's progress reports (src/cli/progress.h), with an
// injected clock: exact lines on a terminal and in plain mode, and how often
// each mode draws.
#include "progress.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace estoria::cli {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class ProgressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    out_ = std::tmpfile();
    ASSERT_NE(out_, nullptr);
  }
  void TearDown() override { std::fclose(out_); }
  Progress Make(std::string label, int64_t total, bool tty) {
    return Progress(out_, std::move(label), total, tty, [this] { return now_; });
  }
  // Everything written to the output so far.
  std::string Written() {
    std::fflush(out_);
    std::rewind(out_);
    std::string text;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, out_)) > 0) text.append(buf, n);
    return text;
  }

  std::FILE* out_ = nullptr;
  std::chrono::steady_clock::time_point now_{seconds(1000)};
};

TEST_F(ProgressTest, TerminalBarWithRateAndEta) {
  Progress p = Make("copy", 1000, true);
  now_ += seconds(5);
  EXPECT_EQ(p.Render(500, false), "\r[###############...............]  50.0% 500/1000 events  100 events/s  ETA 5s   ");
  now_ += seconds(5);
  EXPECT_EQ(p.Render(1000, true),
            "\r[##############################] 100.0% 1000/1000 events  100 events/s  ETA 0s   \n");
  // Minutes and hours; an estimate below what is done grows to it.
  Progress slow = Make("import", 100000, true);
  now_ += seconds(10);
  EXPECT_EQ(slow.Render(10, false),
            "\r[..............................]   0.0% 10/100000 events  1 events/s  ETA 27h46m   ");
  EXPECT_EQ(slow.Render(1000, false),
            "\r[..............................]   1.0% 1000/100000 events  100 events/s  ETA 16m30s   ");
  slow.SetTotal(500);
  EXPECT_EQ(slow.Render(1000, false),
            "\r[##############################] 100.0% 1000/1000 events  100 events/s  ETA 0s   ");
}

TEST_F(ProgressTest, PlainLines) {
  Progress p = Make("export", 400, false);
  EXPECT_EQ(p.Render(0, false), "export: 0/400 events (0.0%), 0 events/s, ETA ?\n");
  now_ += seconds(4);
  EXPECT_EQ(p.Render(100, false), "export: 100/400 events (25.0%), 25 events/s, ETA 12s\n");
  EXPECT_EQ(p.Render(400, true), "export: 400/400 events (100.0%), 100 events/s, ETA 0s\n");
}

TEST_F(ProgressTest, UnknownTotalShowsCountAndRateOnly) {
  Progress tty = Make("import", 0, true);
  Progress plain = Make("import", 0, false);
  now_ += seconds(2);
  EXPECT_EQ(tty.Render(300, false), "\rimport: 300 events  150 events/s   ");
  EXPECT_EQ(tty.Render(300, true), "\rimport: 300 events  150 events/s   \n");
  EXPECT_EQ(plain.Render(300, false), "import: 300 events, 150 events/s\n");
}

TEST_F(ProgressTest, PlainModeDrawsEveryFiveSecondsAndAlwaysFinishes) {
  Progress p = Make("copy", 100, false);
  p.Update(10);  // at start: not yet
  now_ += seconds(4);
  p.Update(20);  // 4 s: not yet
  now_ += seconds(1);
  p.Update(50);  // 5 s: drawn
  now_ += seconds(1);
  p.Update(60);  // 1 s after the last line: not drawn
  now_ += seconds(1);
  p.Finish(70);
  EXPECT_EQ(Written(),
            "copy: 50/100 events (50.0%), 10 events/s, ETA 5s\n"
            "copy: 70/100 events (70.0%), 10 events/s, ETA 0s\n");
}

TEST_F(ProgressTest, TerminalRedrawsAtMostEveryHundredMilliseconds) {
  Progress p = Make("copy", 0, true);
  now_ += milliseconds(100);
  p.Update(1);  // drawn
  now_ += milliseconds(50);
  p.Update(2);  // not drawn
  now_ += milliseconds(50);
  p.Update(3);  // drawn
  p.Finish(3);
  EXPECT_EQ(Written(),
            "\rcopy: 1 events  10 events/s   "
            "\rcopy: 3 events  15 events/s   "
            "\rcopy: 3 events  15 events/s   \n");
}

}  // namespace
}  // namespace estoria::cli
