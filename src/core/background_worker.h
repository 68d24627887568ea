// background_worker.h (internal, not installed): BackgroundWorker, one thread running
// queued jobs in order (used by SnapshottingStore for background snapshots).
//
// Thread safety: Submit and Flush may be called from many threads; the
// destructor runs the jobs still queued, then joins the thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace estoria::internal {

class BackgroundWorker {
 public:
  explicit BackgroundWorker(size_t max_queued);
  ~BackgroundWorker();
  BackgroundWorker(const BackgroundWorker&) = delete;
  BackgroundWorker& operator=(const BackgroundWorker&) = delete;

  // Queues a job; false (job dropped) when max_queued jobs are already waiting.
  // Jobs must not throw.
  bool Submit(std::function<void()> job);
  // Blocks until every job submitted before the call has run.
  void Flush();

 private:
  void Run();

  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable wake_;  // worker: a job or stop
  std::condition_variable idle_;  // Flush: progress
  std::deque<std::function<void()>> queue_;
  uint64_t submitted_ = 0;
  uint64_t done_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace estoria::internal
