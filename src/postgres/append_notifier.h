// append_notifier.h (internal): what PostgresEventStore::WaitForAppend waits
// on. Knows the highest committed global position seen so far, from two
// sources:
//  - in-process: the writer publishes the head after each commit;
//  - other processes: a dedicated LISTEN connection (own thread, poll() on
//    PQsocket plus a wake-up pipe) receives the NOTIFY that every append
//    transaction issues with its highest position as payload.
// The listener starts on the first Wait. After (re)connecting it LISTENs first
// and then reads the read frontier (strict: the durable frontier, the max of
// log_durable; relaxed: log_head), so no commit is missed across a reconnect.
// Strict stores NOTIFY only once a batch is durable (append_writer.cc), so the
// known head never runs ahead of what ReadAll returns. It
// reconnects after a lost connection with a backoff (250 ms, doubling to 5 s).
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "estoria/logger.h"
#include "estoria/postgres/connection.h"
#include "schema.h"

namespace estoria::postgres::internal {

class AppendNotifier {
 public:
  AppendNotifier(postgres::PgConnectOptions options, const Statements* statements, std::shared_ptr<Logger> logger,
                 bool strict);
  ~AppendNotifier();

  // Raises the known head to `position` and wakes waiters.
  void Publish(int64_t position);
  // Waits until the known head exceeds after_position or the timeout passes;
  // returns the known head. Unavailable when, at the deadline, nothing newer
  // is known and the listener is disconnected (with the reason).
  Result<int64_t> Wait(int64_t after_position, std::chrono::milliseconds timeout);
  // Listener (re)connections so far (tests).
  int64_t connects() const;

 private:
  void Start();
  void Run();
  Status Connect(std::unique_ptr<postgres::PgConnection>& conn);

  const postgres::PgConnectOptions options_;
  const Statements* statements_;
  std::shared_ptr<Logger> logger_;
  const bool strict_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t head_ = 0;
  bool started_ = false;
  bool stop_ = false;
  bool listening_ = false;
  bool failed_ = false;  // the last connection attempt failed
  Status last_error_;
  int64_t connects_ = 0;
  int wake_[2] = {-1, -1};
  std::thread thread_;
};

}  // namespace estoria::postgres::internal
