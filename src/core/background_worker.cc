#include "background_worker.h"

#include <utility>

#include "estoria/snapshotting_store.h"

namespace estoria::internal {

BackgroundWorker::BackgroundWorker(size_t max_queued)
    : max_queued_(max_queued == 0 ? 1 : max_queued), thread_([this] { Run(); }) {}

BackgroundWorker::~BackgroundWorker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

bool BackgroundWorker::Submit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(job));
    ++submitted_;
  }
  wake_.notify_one();
  return true;
}

void BackgroundWorker::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  uint64_t target = submitted_;
  idle_.wait(lock, [&] { return done_ >= target; });
}

void BackgroundWorker::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_ and drained
    std::function<void()> job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    job();
    lock.lock();
    ++done_;
    idle_.notify_all();
  }
}

void BackgroundWorkerDeleter::operator()(BackgroundWorker* worker) const { delete worker; }
BackgroundWorkerPtr NewBackgroundWorker(size_t max_queued) {
  return BackgroundWorkerPtr(new BackgroundWorker(max_queued));
}
bool SubmitBackground(BackgroundWorker& worker, std::function<void()> job) { return worker.Submit(std::move(job)); }
void FlushBackground(BackgroundWorker& worker) { worker.Flush(); }

}  // namespace estoria::internal
