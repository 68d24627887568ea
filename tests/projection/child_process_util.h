// Helpers for tests that run estoria_projection_child processes: spawn one and
// wait until it is ready, reap or kill it, append steadily from a thread, and
// read the handler intervals a child logs (B/E lines, see projection_child.cc).
// (multiprocess_test.cc has its own copies of the same helpers.)
#pragma once

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "estoria/event_store.h"

#ifndef ESTORIA_PROJECTION_CHILD
#error "ESTORIA_PROJECTION_CHILD must name the child binary"
#endif

namespace estoria::testing {

// Starts the child and waits (up to 30 s) until it reports on its stdout that it
// has blocked SIGTERM, so that a SIGTERM sent later is a clean stop request.
inline pid_t SpawnChild(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  std::string path = ESTORIA_PROJECTION_CHILD;
  argv.push_back(path.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  int ready[2];
  if (pipe(ready) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(ready[1], STDOUT_FILENO);
    close(ready[0]);
    close(ready[1]);
    execv(path.c_str(), argv.data());
    _exit(127);
  }
  close(ready[1]);
  pollfd p{ready[0], POLLIN, 0};
  char line[6];
  if (pid > 0 && poll(&p, 1, 30000) == 1) {
    EXPECT_EQ(read(ready[0], line, sizeof(line)), 6) << "the child did not report ready (see its stderr)";
  } else {
    ADD_FAILURE() << "the child did not report ready within 30 s";
  }
  close(ready[0]);
  return pid;
}

// Returns the exit status (or -signal).
inline int ReapChild(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

inline int KillChild(pid_t pid, int sig = SIGKILL) {
  kill(pid, sig);
  return ReapChild(pid);
}

inline int64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Appends one event at a time (data {"n": ...}) to 16 streams until stopped.
class SteadyAppender {
 public:
  explicit SteadyAppender(std::shared_ptr<EventStore> store) : store_(std::move(store)) {
    for (int i = 0; i < 16; ++i) ids_.push_back(TypeId("counter", Uuid::NewV7()));
    thread_ = std::thread([this] { Run(); });
  }
  ~SteadyAppender() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int64_t appended() const { return appended_; }
  Status error() const {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

 private:
  void Run() {
    std::mt19937 rng(42);
    while (!stop_) {
      WritableEvent e;
      e.type = "added";
      e.data = "{\"n\":" + std::to_string(rng() % 1000) + "}";
      auto r = store_->AppendStream(ids_[rng() % ids_.size()], {&e, 1});
      if (!r.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        error_ = r.error();
      } else {
        ++appended_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a steady rate, not synchronisation
    }
  }
  std::shared_ptr<EventStore> store_;
  std::vector<TypeId> ids_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> appended_{0};
  mutable std::mutex mu_;
  Status error_;
  std::thread thread_;
};

// One handler call of a child: [begin, end] in CLOCK_MONOTONIC ns.
struct HandlerInterval {
  int pid = 0;
  int64_t position = 0;
  int64_t begin = 0;
  int64_t end = 0;
};

// Parses an interval log; an interval left open (the process was killed in the
// handler) ends at `death_ns`.
inline std::vector<HandlerInterval> ReadHandlerIntervals(const std::string& path, int64_t death_ns) {
  std::ifstream in(path);
  std::vector<HandlerInterval> out;
  std::optional<HandlerInterval> open;
  char kind;
  HandlerInterval iv;
  while (in >> kind >> iv.pid >> iv.position >> iv.begin) {
    if (kind == 'B') {
      EXPECT_FALSE(open.has_value()) << "nested handler calls in " << path;
      open = iv;
    } else {
      EXPECT_TRUE(open.has_value() && open->position == iv.position) << path;
      if (open) {
        open->end = iv.begin;
        out.push_back(*open);
        open.reset();
      }
    }
  }
  if (open) {
    open->end = death_ns;
    out.push_back(*open);
  }
  return out;
}

}  // namespace estoria::testing
