// AppendNotifier (see append_notifier.h).
#include "append_notifier.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace estoria::postgres::internal {

using postgres::PgConnection;
using postgres::PgResult;

AppendNotifier::AppendNotifier(postgres::PgConnectOptions options, const Statements* statements,
                               std::shared_ptr<Logger> logger, bool strict)
    : options_(std::move(options)), statements_(statements), logger_(std::move(logger)), strict_(strict) {}

AppendNotifier::~AppendNotifier() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (wake_[1] >= 0) {
    char c = 1;
    (void)!write(wake_[1], &c, 1);
  }
  if (thread_.joinable()) thread_.join();
  for (int fd : wake_) {
    if (fd >= 0) close(fd);
  }
}

void AppendNotifier::Publish(int64_t position) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (position <= head_) return;
    head_ = position;
  }
  cv_.notify_all();
}

int64_t AppendNotifier::connects() const {
  std::lock_guard<std::mutex> lock(mu_);
  return connects_;
}

void AppendNotifier::Start() {
  // Called with mu_ held.
  if (started_) return;
  started_ = true;
  if (pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    wake_[0] = wake_[1] = -1;
  }
  thread_ = std::thread([this] { Run(); });
}

Result<int64_t> AppendNotifier::Wait(int64_t after_position, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  Start();
  cv_.wait_for(lock, timeout, [&] { return head_ > after_position || stop_; });
  if (head_ <= after_position && failed_ && !listening_) {
    return Status::Unavailable("PostgreSQL append listener disconnected: " + last_error_.message());
  }
  return head_;
}

Status AppendNotifier::Connect(std::unique_ptr<PgConnection>& conn) {
  Status st;
  if (conn) {
    st = conn->EnsureConnected();
  } else {
    auto made = PgConnection::Connect(options_);
    if (made) {
      conn = *std::move(made);
    } else {
      st = made.error();
    }
  }
  if (st.ok()) st = conn->Exec("LISTEN " + postgres::QuoteIdentifier(statements_->notify_channel)).error();
  int64_t head = 0;
  if (st.ok()) {
    const std::string q = postgres::QuoteIdentifier(statements_->schema);
    auto res = conn->Exec(strict_ ? "SELECT max(head) FROM " + q + ".log_durable"
                                  : "SELECT position FROM " + q + ".log_head WHERE id = 1");
    if (res) head = res->Int64(0, 0);
    st = res.error();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    listening_ = st.ok();
    failed_ = !st.ok();
    if (!st.ok()) last_error_ = st;
    if (st.ok()) ++connects_;
    if (head > head_) head_ = head;
  }
  cv_.notify_all();
  return st;
}

void AppendNotifier::Run() {
  std::unique_ptr<PgConnection> conn;
  auto backoff = std::chrono::milliseconds(250);
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
    }
    if (!conn || conn->broken()) {
      if (Status st = Connect(conn); !st.ok()) {
        if (logger_) logger_->Log(LogLevel::kWarning, "PostgreSQL append listener: " + st.message());
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, backoff, [&] { return stop_; });
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
        continue;
      }
      backoff = std::chrono::milliseconds(250);
    }
    Status st = conn->WaitReadable(std::chrono::milliseconds(60000), wake_[0]);
    if (wake_[0] >= 0) {
      char buf[16];
      while (read(wake_[0], buf, sizeof(buf)) > 0) {
      }
    }
    if (!st.ok()) {
      if (logger_) logger_->Log(LogLevel::kWarning, "PostgreSQL append listener lost its connection: " + st.message());
      std::lock_guard<std::mutex> lock(mu_);
      listening_ = false;
      failed_ = true;
      last_error_ = st;
      continue;
    }
    int64_t newest = 0;
    while (PGnotify* n = PQnotifies(conn->raw())) {
      newest = std::max<int64_t>(newest, std::strtoll(n->extra, nullptr, 10));
      PQfreemem(n);
    }
    if (newest > 0) Publish(newest);
  }
}

}  // namespace estoria::postgres::internal
