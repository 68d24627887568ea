// A processor in another process is woken by PostgreSQL NOTIFY, not by its
// poll interval: estoria_projection_child pg-tail runs a processor (PostgreSQL
// store and read model, no lock) whose poll interval is one hour, so once it
// has caught up nothing but a NOTIFY on the store's channel can make it read
// the log again. The parent appends and the child applies within seconds.
// Control: an append whose NOTIFY goes to another channel (the test-only sync
// point PostgresStore::NotifyChannel) commits but is not applied; the next,
// normally notified, append wakes the child, which then applies both.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "estoria/postgres/postgres_event_store.h"
#include "estoria/testing/matchers.h"
#include "pg_projection_util.h"
#include "sync_point.h"

#ifndef ESTORIA_PROJECTION_CHILD
#error "ESTORIA_PROJECTION_CHILD must name the child binary"
#endif

namespace estoria::testing {
namespace {

#ifdef ESTORIA_ENABLE_SYNC_POINTS

using namespace std::chrono_literals;

// The child process, with its stdout pipe kept open for its progress lines.
class Child {
 public:
  explicit Child(std::vector<std::string> args) {
    std::string path = ESTORIA_PROJECTION_CHILD;
    std::vector<char*> argv{path.data()};
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      execv(path.c_str(), argv.data());
      _exit(127);
    }
    close(out[1]);
    out_ = out[0];
  }
  ~Child() {
    if (pid_ > 0) Stop(SIGKILL);
    if (out_ >= 0) close(out_);
  }
  // Reads stdout until `line` (e.g. "ready\n") arrives; false after 30 s or
  // at end of file.
  bool WaitFor(const std::string& line) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (buffer_.find(line) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{out_, POLLIN, 0};
      if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) != 1) return false;
      char buf[64];
      ssize_t n = read(out_, buf, sizeof buf);
      if (n <= 0) return false;
      buffer_.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  // Sends `sig` and returns the exit status (or -signal).
  int Stop(int sig) {
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffer_;
};

class NotifyWakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (PgUri().empty()) GTEST_SKIP() << "ESTORIA_TEST_POSTGRES is unset";
    schema_ = NewPgSchema("notify_wake");
  }
  void TearDown() override {
    if (!schema_.empty()) (void)DropPgSchema(schema_);
  }
  std::string schema_;
};

TEST_F(NotifyWakeTest, ChildProcessorWithHourLongPollWakesOnNotify) {
  postgres::PostgresOptions o = PgOptions(schema_);
  o.logger = NullLogger();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, postgres::PostgresEventStore::Open(o));
  ESTORIA_ASSERT_OK(AppendEvents(*store, 1, 1).error());  // applied by the child's first read
  postgres::PgConnectOptions co;
  co.conninfo = o.conninfo;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto observer, postgres::PgConnection::Connect(co));
  auto applied = [&]() -> int64_t {
    auto counts = PgAppliedCounts(*observer, schema_);
    return counts ? counts->first : -1;
  };

  Child child({"pg-tail", schema_, "totals"});
  ASSERT_GT(child.pid(), 0);
  ASSERT_TRUE(child.WaitFor("ready\n")) << "the child did not start (see its stderr)";
  // Caught up: the child has read the log, found nothing after event 1, and
  // waits for an append with its LISTEN connection up.
  ASSERT_TRUE(child.WaitFor("caught-up\n")) << "the child did not catch up (see its stderr)";
  ASSERT_EQ(applied(), 1);

  // Control: committed, but its NOTIFY goes elsewhere: nothing wakes the child.
  {
    testing_internal::ScopedSyncPointCallback divert(
        "PostgresStore::NotifyChannel", [](void* arg) { *static_cast<std::string*>(arg) = "estoria_elsewhere"; });
    ESTORIA_ASSERT_OK(AppendEvents(*store, 1, 1).error());
  }
  std::this_thread::sleep_for(2s);  // the control's observation window
  EXPECT_EQ(applied(), 1) << "the child read the log without a NOTIFY: the control proves nothing";

  // A notified append: the child wakes and applies both new events.
  auto started = std::chrono::steady_clock::now();
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, AppendEvents(*store, 1, 1));
  ASSERT_EQ(head, 3);
  while (applied() < 3 && std::chrono::steady_clock::now() - started < 20s) std::this_thread::sleep_for(5ms);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  ASSERT_EQ(applied(), 3) << "not woken within 20 s (its poll interval is one hour)";
  EXPECT_LT(took, 10s);
  std::printf("child applied the notified append %lld ms after it was appended\n",
              static_cast<long long>(took.count()));

  EXPECT_EQ(child.Stop(SIGTERM), 0);  // a clean stop
  ESTORIA_ASSERT_OK_AND_ASSIGN(TotalsByStream fold, FoldLog(*store));
  ESTORIA_ASSERT_OK_AND_ASSIGN(TotalsByStream model, PgReadTotals(*observer, schema_));
  EXPECT_EQ(model, fold);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto counts, PgAppliedCounts(*observer, schema_));
  EXPECT_EQ(counts.first, 3);
  EXPECT_EQ(counts.second, 3);
}

#else

TEST(NotifyWakeTest, NeedsSyncPoints) { GTEST_SKIP() << "built without ESTORIA_ENABLE_SYNC_POINTS"; }

#endif  // ESTORIA_ENABLE_SYNC_POINTS

}  // namespace
}  // namespace estoria::testing
