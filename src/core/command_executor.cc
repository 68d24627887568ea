// The non-template parts of CommandExecutor: the per-aggregate queues that
// elect one leader per aggregate and hand it the commands queued behind it,
// option checks, the retry backoff and the executor's statuses.
#include "estoria/command_executor.h"

#include <algorithm>
#include <random>

namespace estoria::internal {

CommandQueue::Turn CommandQueue::Join(const Uuid& key, CommandTicket* ticket) {
  std::unique_lock<std::mutex> lock(mu_);
  auto [lane, idle] = lanes_.try_emplace(key);
  if (idle) {
    ticket->state = CommandTicket::State::kLeading;
    return Turn::kLead;
  }
  ticket->state = CommandTicket::State::kQueued;
  lane->second.push_back(ticket);
  ++queued_;
  for (;;) {
    switch (ticket->state) {
      case CommandTicket::State::kLeading:
        return Turn::kLead;
      case CommandTicket::State::kDone:
        return Turn::kDone;
      case CommandTicket::State::kBatched:
        ticket->cv.wait(lock);  // a leader has it: wait for the outcome, whatever the deadline
        continue;
      case CommandTicket::State::kQueued:
        break;
    }
    if (ticket->deadline == std::chrono::steady_clock::time_point::max()) {
      ticket->cv.wait(lock);
    } else if (ticket->cv.wait_until(lock, ticket->deadline) == std::cv_status::timeout &&
               ticket->state == CommandTicket::State::kQueued) {
      // Still queued, so the key has a leader and a lane holding this ticket.
      std::vector<CommandTicket*>& queued = lanes_.find(key)->second;
      queued.erase(std::find(queued.begin(), queued.end(), ticket));
      --queued_;
      return Turn::kExpired;
    }
  }
}

std::vector<CommandTicket*> CommandQueue::TakeBatch(const Uuid& key, CommandTicket* leader, size_t max) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<CommandTicket*>& queued = lanes_.find(key)->second;
  size_t take = std::min(queued.size(), max > 0 ? max - 1 : 0);
  std::vector<CommandTicket*> batch;
  batch.reserve(take + 1);
  batch.push_back(leader);
  for (size_t i = 0; i < take; ++i) {
    queued[i]->state = CommandTicket::State::kBatched;
    batch.push_back(queued[i]);
  }
  queued.erase(queued.begin(), queued.begin() + static_cast<std::ptrdiff_t>(take));
  queued_ -= take;
  return batch;
}

void CommandQueue::Finish(const Uuid& key, std::span<CommandTicket* const> batch) {
  std::lock_guard<std::mutex> lock(mu_);
  // Notified under the lock: a woken caller returns (destroying its ticket)
  // only after it has reacquired the lock.
  for (CommandTicket* t : batch) {
    t->state = CommandTicket::State::kDone;
    t->cv.notify_one();
  }
  auto lane = lanes_.find(key);
  if (lane->second.empty()) {
    lanes_.erase(lane);
    return;
  }
  CommandTicket* next = lane->second.front();
  lane->second.erase(lane->second.begin());
  --queued_;
  next->state = CommandTicket::State::kLeading;
  next->cv.notify_one();
}

size_t CommandQueue::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queued_;
}

Status ValidateCommandExecutorOptions(const CommandExecutorOptions& options) {
  if (options.max_attempts < 1) {
    return Status::InvalidArgument("command executor: max_attempts must be at least 1, got " +
                                   std::to_string(options.max_attempts));
  }
  if (options.max_batch < 1) return Status::InvalidArgument("command executor: max_batch must be at least 1");
  if (options.initial_backoff.count() < 0 || options.max_backoff < options.initial_backoff) {
    return Status::InvalidArgument("command executor: need 0 <= initial_backoff <= max_backoff");
  }
  return Status::Ok();
}

std::chrono::microseconds CommandRetryBackoff(const CommandExecutorOptions& options, int retry) {
  if (retry <= 1 || options.max_backoff.count() <= 0) return std::chrono::microseconds(0);
  const int shift = std::min(retry - 2, 30);
  int64_t ceiling = options.initial_backoff.count();
  ceiling = ceiling > (options.max_backoff.count() >> shift) ? options.max_backoff.count() : ceiling << shift;
  ceiling = std::min<int64_t>(ceiling, options.max_backoff.count());
  thread_local std::minstd_rand rng(std::random_device{}());
  std::uniform_int_distribution<int64_t> jitter(0, ceiling);
  return std::chrono::microseconds(jitter(rng));
}

Status CommandDeadlineExceeded(const TypeId& stream, const char* where) {
  return Status::Unavailable("execute " + stream.ToString() + ": deadline exceeded " + where +
                             "; nothing was appended for this command");
}

Status CommandAttemptsExhausted(const Status& conflict, int attempts) {
  return conflict.WithContext("execute: gave up after " + std::to_string(attempts) +
                              " attempts that conflicted with other writers; nothing was appended");
}

Status CommandExpectedVersion(const TypeId& stream, int64_t expected, int64_t actual) {
  return Status::Conflict(ConflictDetails{stream.ToString(), expected, actual});
}

}  // namespace estoria::internal
