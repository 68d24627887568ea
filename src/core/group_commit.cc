// The backend SDK's gathering policy and follower spin
// (estoria/backend/group_commit.h).
#include "estoria/backend/group_commit.h"

#include <algorithm>
#include <thread>

namespace estoria::backend {

void GatherPolicy::BatchDone(size_t size, Clock::duration took, Clock::time_point now) {
  target_ = std::max<size_t>(size, 1);
  window_ = std::min(std::chrono::duration_cast<std::chrono::microseconds>(2 * took), kMaxWindow);
  deadline_ = now + window_;
}

bool FollowerSpin::Spin(const std::function<bool()>& done, std::chrono::microseconds budget) {
  if (done()) return true;
  if (budget.count() <= 0) return false;
  if (spinners_.fetch_add(1, std::memory_order_relaxed) >= kMaxSpinners) {
    spinners_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  const auto until = std::chrono::steady_clock::now() + budget;
  bool ok = false;
  while (!(ok = done()) && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  spinners_.fetch_sub(1, std::memory_order_relaxed);
  return ok;
}

}  // namespace estoria::backend
