// estoria/backend/group_commit.h: the group-commit gathering policy shared by
// the built-in writers (backend SDK), and the bounded spin of waiting followers.
//
// Gathering. Left alone, N appenders that loop settle into alternating half
// batches: while one batch commits, the other half queue up and form the next.
// After a batch of k > 1 appends, their threads are about to append again, so
// the next batch starts once k requests are queued, or once the gathering
// window has passed: twice the last batch's commit time, capped at kMaxWindow.
// Concurrent appenders then share one commit (one fsync, one transaction).
// A writer with a dedicated thread clamps target() to its own maximum batch.
//
// Follower spin. A follower usually gets its outcome within a batch time or two.
// Sleeping costs a futex wait plus a wake-up that the leader pays per follower;
// a follower that yields the CPU in a loop sees its outcome within one
// scheduling round and needs no wake-up. FollowerSpin bounds this: at most
// `budget` per call and kMaxSpinners spinning threads at once. Callers spin only
// when the last batch had at least kMinSpinBatch appends (with one follower,
// sleeping measured faster). The PostgreSQL writer does not spin: on a shared
// machine spinning appenders take CPU from the server doing the batch's work.
//
// Thread safety: GatherPolicy is not synchronized (the writer keeps it under its
// queue mutex); FollowerSpin::Spin may be called from many threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>

namespace estoria::backend {

class GatherPolicy {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::microseconds kMaxWindow{1000};
  static constexpr size_t kMinSpinBatch = 3;

  // Records a finished batch of `size` requests whose commit took `took`;
  // starts the next gathering at `now`.
  void BatchDone(size_t size, Clock::duration took, Clock::time_point now);

  // Requests to gather before the next batch starts (>= 1).
  size_t target() const { return target_; }
  // How long a gathering lasts at most.
  std::chrono::microseconds window() const { return window_; }
  // When the current gathering ends.
  Clock::time_point deadline() const { return deadline_; }
  // True when a batch should start with `queued` requests waiting.
  bool Ready(size_t queued, Clock::time_point now) const { return queued >= target_ || now >= deadline_; }
  // How long a follower may spin before it sleeps (zero: do not spin).
  std::chrono::microseconds spin_budget() const {
    return target_ >= kMinSpinBatch ? window_ : std::chrono::microseconds(0);
  }

 private:
  size_t target_ = 1;
  std::chrono::microseconds window_{0};
  Clock::time_point deadline_{};
};

class FollowerSpin {
 public:
  static constexpr int kMaxSpinners = 64;
  // Yields the CPU until done() is true or `budget` has passed; returns done().
  // done() must be cheap and safe to call concurrently with the thread that
  // makes it true (an atomic load).
  bool Spin(const std::function<bool()>& done, std::chrono::microseconds budget);

 private:
  std::atomic<int> spinners_{0};
};

}  // namespace estoria::backend
