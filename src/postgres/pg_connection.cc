// PgConnection and PgTransaction (see connection.h). Every call runs libpq in
// non-blocking mode and waits on the socket with poll() against a deadline, so
// that a vanished server gives Unavailable instead of a hang.
#include <poll.h>

#include <cerrno>

#include "estoria/postgres/connection.h"
#include "pg_wire.h"
#include "sync_point.h"

namespace estoria::postgres {
namespace {

using Clock = std::chrono::steady_clock;

int MillisUntil(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return 0;
  return left > 1000000 ? 1000000 : static_cast<int>(left);
}

}  // namespace

PgPipeline& PgPipeline::Add(const PgStatement& statement, PgParams params, PgFormat result) {
  items_.push_back(Item{&statement, std::move(params), result});
  return *this;
}

Result<std::unique_ptr<PgConnection>> PgConnection::Connect(const PgConnectOptions& options) {
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(options.conninfo.c_str(), &error);
  if (parsed == nullptr) {
    std::string message = error ? error : "out of memory";
    if (error) PQfreemem(error);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    return Status::InvalidArgument("invalid PostgreSQL connection string: " + message);
  }
  PQconninfoFree(parsed);
  std::unique_ptr<PgConnection> conn(new PgConnection(options));
  ESTORIA_RETURN_IF_ERROR(conn->Open());
  return conn;
}

PgConnection::~PgConnection() { Drop(); }

void PgConnection::Drop() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
  prepared_.clear();
}

bool PgConnection::broken() const { return conn_ == nullptr || PQstatus(conn_) == CONNECTION_BAD; }

PGTransactionStatusType PgConnection::transaction_status() const {
  return conn_ ? PQtransactionStatus(conn_) : PQTRANS_UNKNOWN;
}

Status PgConnection::Open() {
  Drop();
  Clock::time_point deadline = Clock::now() + options_.connect_timeout;
  conn_ = PQconnectStart(options_.conninfo.c_str());
  if (conn_ == nullptr) return Status::Unavailable("PostgreSQL connect: out of memory");
  PostgresPollingStatusType poll_status = PGRES_POLLING_WRITING;
  while (poll_status != PGRES_POLLING_OK) {
    if (PQstatus(conn_) == CONNECTION_BAD || poll_status == PGRES_POLLING_FAILED) {
      Status st = PgErrorStatus(conn_, nullptr, "PostgreSQL connect");
      Drop();
      return Status::Unavailable(st.message());
    }
    Status waited = WaitSocket(poll_status == PGRES_POLLING_WRITING, deadline);
    if (!waited.ok()) {
      Drop();
      return Status::Unavailable("PostgreSQL connect: no connection within " +
                                 std::to_string(options_.connect_timeout.count()) + " ms");
    }
    poll_status = PQconnectPoll(conn_);
  }
  PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);  // NOTICEs are not errors
  if (PQsetnonblocking(conn_, 1) != 0) {
    Status st = PgErrorStatus(conn_, nullptr, "PostgreSQL connect: set non-blocking");
    Drop();
    return st;
  }
  return Status::Ok();
}

Status PgConnection::EnsureConnected() {
  if (broken()) return Open();
  if (PQtransactionStatus(conn_) != PQTRANS_IDLE) return Status::Ok();
  // An idle connection the server closed (restart, idle timeout) reads as EOF.
  // The server's goodbye (an error message, then end of file) may take more
  // than one read.
  for (int reads = 0; reads < 8; ++reads) {
    pollfd pfd{PQsocket(conn_), POLLIN, 0};
    if (poll(&pfd, 1, 0) <= 0) break;
    if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) == CONNECTION_BAD) return Open();
  }
  return Status::Ok();
}

Status PgConnection::Fail(std::string_view context, const PGresult* res) {
  Status st = PgErrorStatus(conn_, res, context);
  if (broken()) Drop();
  return st;
}

Status PgConnection::FailPipeline(std::string_view context) {
  Status st = PgErrorStatus(conn_, nullptr, context);
  Drop();  // never leave a connection mid-pipeline
  return st;
}

Status PgConnection::WaitSocket(bool want_write, Clock::time_point deadline) {
  for (;;) {
    int fd = PQsocket(conn_);
    if (fd < 0) return Status::Unavailable("PostgreSQL: no socket");
    pollfd pfd{fd, static_cast<short>(POLLIN | (want_write ? POLLOUT : 0)), 0};
    int n = poll(&pfd, 1, MillisUntil(deadline));
    if (n > 0) return Status::Ok();
    if (n == 0) return Status::Unavailable("PostgreSQL: timed out");
    if (errno != EINTR) return Status::Unavailable("PostgreSQL: poll failed");
  }
}

Status PgConnection::Flush(Clock::time_point deadline) {
  for (;;) {
    int r = PQflush(conn_);
    if (r == 0) return Status::Ok();
    if (r < 0) return Fail("PostgreSQL send");
    Status st = WaitSocket(true, deadline);
    if (!st.ok()) {
      Drop();
      return Status::Unavailable("PostgreSQL send: timed out after " + std::to_string(options_.query_timeout.count()) +
                                 " ms");
    }
    if (PQconsumeInput(conn_) == 0) return Fail("PostgreSQL receive");
  }
}

Result<PgResult> PgConnection::Collect(std::string_view context) {
  Clock::time_point deadline = Clock::now() + options_.query_timeout;
  ESTORIA_RETURN_IF_ERROR(Flush(deadline));
  PgResult last;
  Status error;
  for (;;) {
    while (PQisBusy(conn_)) {
      Status st = WaitSocket(false, deadline);
      if (!st.ok()) {
        Drop();
        return Status::Unavailable(std::string(context) + ": no answer within " +
                                   std::to_string(options_.query_timeout.count()) + " ms");
      }
      if (PQconsumeInput(conn_) == 0) return Fail(context);
    }
    PGresult* r = PQgetResult(conn_);
    if (r == nullptr) break;
    PgResult res(r);
    ExecStatusType s = PQresultStatus(r);
    if ((s == PGRES_FATAL_ERROR || s == PGRES_BAD_RESPONSE) && error.ok()) error = PgErrorStatus(conn_, r, context);
    if (s == PGRES_COPY_IN || s == PGRES_COPY_OUT || s == PGRES_COPY_BOTH) {
      Drop();
      return Status::Internal(std::string(context) + ": COPY is not supported here");
    }
    last = std::move(res);
    if (broken()) break;
  }
  if (broken()) {
    Status st = error.ok() ? PgErrorStatus(conn_, nullptr, context) : error;
    Drop();
    return Status::Unavailable(st.message());
  }
  if (!error.ok()) return error;
  return last;
}

Result<PgResult> PgConnection::Exec(std::string_view sql) {
  if (broken()) return Status::Unavailable("PostgreSQL: connection lost");
  std::string text(sql);
  if (PQsendQuery(conn_, text.c_str()) == 0) return Fail("PostgreSQL query");
  return Collect("PostgreSQL query");
}

Result<PgResult> PgConnection::ExecParams(std::string_view sql, const PgParams& params, PgFormat result) {
  if (broken()) return Status::Unavailable("PostgreSQL: connection lost");
  std::string text(sql);
  PgParams::Raw raw = params.raw();
  if (PQsendQueryParams(conn_, text.c_str(), params.size(), raw.types.data(), raw.values.data(), raw.lengths.data(),
                        raw.formats.data(), static_cast<int>(result)) == 0) {
    return Fail("PostgreSQL query");
  }
  return Collect("PostgreSQL query");
}

Result<PgResult> PgConnection::ExecPrepared(const PgStatement& statement, const PgParams& params, PgFormat result) {
  PgPipeline pipeline;
  pipeline.Add(statement, params, result);
  ESTORIA_ASSIGN_OR_RETURN(std::vector<PgResult> results, RunPipeline(pipeline));
  return std::move(results.front());
}

Result<std::vector<PgResult>> PgConnection::RunPipeline(const PgPipeline& pipeline) {
  if (broken()) return Status::Unavailable("PostgreSQL: connection lost");
  const std::string context = "PostgreSQL pipeline";
  pipeline.failed_at_ = -1;
  Clock::time_point deadline = Clock::now() + options_.query_timeout;
  if (PQenterPipelineMode(conn_) == 0) return FailPipeline(context);
  // Expected results in order: -1-i = the Prepare of item i, i = item i.
  std::vector<int> expected;
  std::unordered_set<std::string> preparing;
  for (size_t i = 0; i < pipeline.items_.size(); ++i) {
    const PgPipeline::Item& item = pipeline.items_[i];
    const PgStatement& stmt = *item.statement;
    PgParams::Raw raw = item.params.raw();
    if (!prepared_.count(stmt.name) && !preparing.count(stmt.name)) {
      if (PQsendPrepare(conn_, stmt.name.c_str(), stmt.sql.c_str(), item.params.size(), raw.types.data()) == 0) {
        return FailPipeline(context);
      }
      preparing.insert(stmt.name);
      expected.push_back(-1 - static_cast<int>(i));
    }
    if (PQsendQueryPrepared(conn_, stmt.name.c_str(), item.params.size(), raw.values.data(), raw.lengths.data(),
                            raw.formats.data(), static_cast<int>(item.result)) == 0) {
      return FailPipeline(context);
    }
    expected.push_back(static_cast<int>(i));
  }
  if (PQpipelineSync(conn_) == 0) return FailPipeline(context);
  if (Status flushed = Flush(deadline); !flushed.ok()) {
    Drop();
    return flushed;
  }
  if (pipeline.on_sent_) pipeline.on_sent_();
#ifdef ESTORIA_ENABLE_SYNC_POINTS
  if (pipeline.after_sent_ != nullptr) ESTORIA_TEST_SYNC_POINT_CALLBACK(pipeline.after_sent_, conn_);
#endif

  auto next_result = [&]() -> Result<PGresult*> {
    while (PQisBusy(conn_)) {
      if (!WaitSocket(false, deadline).ok()) {
        Drop();
        return Status::Unavailable(context + ": no answer within " + std::to_string(options_.query_timeout.count()) +
                                   " ms");
      }
      if (PQconsumeInput(conn_) == 0) return FailPipeline(context);
    }
    PGresult* r = PQgetResult(conn_);
    if (broken()) {
      if (r) PQclear(r);
      return FailPipeline(context);
    }
    return r;
  };

  std::vector<PgResult> out(pipeline.items_.size());
  Status error;
  int failed_at = -1;
  for (int e : expected) {
    PgResult first;
    for (;;) {
      ESTORIA_ASSIGN_OR_RETURN(PGresult * r, next_result());
      if (r == nullptr) break;
      if (!first.get()) {
        first = PgResult(r);
      } else {
        PQclear(r);
      }
    }
    ExecStatusType s = first.get() ? PQresultStatus(first.get()) : PGRES_FATAL_ERROR;
    if (s == PGRES_FATAL_ERROR || s == PGRES_BAD_RESPONSE || s == PGRES_PIPELINE_ABORTED) {
      if (failed_at < 0) failed_at = e >= 0 ? e : -1 - e;
    }
    if (s == PGRES_FATAL_ERROR || s == PGRES_BAD_RESPONSE) {
      if (error.ok()) error = PgErrorStatus(conn_, first.get(), context);
    } else if (s == PGRES_PIPELINE_ABORTED) {
      if (error.ok()) error = Status::Internal(context + ": statement skipped after an error");
    } else if (e < 0) {
      prepared_.insert(pipeline.items_[static_cast<size_t>(-1 - e)].statement->name);
    }
    if (e >= 0) out[static_cast<size_t>(e)] = std::move(first);
  }
  ESTORIA_ASSIGN_OR_RETURN(PGresult * sync, next_result());
  bool synced = sync != nullptr && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
  if (sync) PQclear(sync);
  if (!synced || PQexitPipelineMode(conn_) == 0) {
    Drop();
    return Status::Internal(context + ": protocol out of step; connection dropped");
  }
  if (!error.ok()) {
    pipeline.failed_at_ = failed_at;
    return error;
  }
  return out;
}

Status PgConnection::WaitReadable(std::chrono::milliseconds timeout, int wake_fd) {
  if (broken()) return Status::Unavailable("PostgreSQL: connection lost");
  pollfd fds[2] = {{PQsocket(conn_), POLLIN, 0}, {wake_fd, POLLIN, 0}};
  int n = poll(fds, wake_fd >= 0 ? 2 : 1, static_cast<int>(timeout.count()));
  if (n < 0 && errno != EINTR) return Status::Unavailable("PostgreSQL: poll failed");
  if (n > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
    if (PQconsumeInput(conn_) == 0 || broken()) return Fail("PostgreSQL receive");
  }
  return Status::Ok();
}

// ---- PgTransaction -------------------------------------------------------------

Result<PgTransaction> PgTransaction::Begin(PgConnection& conn, std::string_view begin_sql) {
  ESTORIA_RETURN_IF_ERROR(conn.Exec(begin_sql).error());
  return PgTransaction(&conn);
}

PgTransaction::~PgTransaction() { (void)Rollback(); }

Status PgTransaction::Commit() {
  if (conn_ == nullptr) return Status::FailedPrecondition("transaction already finished");
  PgConnection* conn = conn_;
  conn_ = nullptr;
  ESTORIA_ASSIGN_OR_RETURN(PgResult res, conn->Exec("COMMIT"));
  if (std::string_view(PQcmdStatus(res.get())) == "ROLLBACK") {
    return Status::Internal("PostgreSQL commit: the transaction had failed and was rolled back");
  }
  return Status::Ok();
}

Status PgTransaction::Rollback() {
  if (conn_ == nullptr) return Status::Ok();
  PgConnection* conn = conn_;
  conn_ = nullptr;
  if (conn->broken()) return Status::Ok();
  return conn->Exec("ROLLBACK").error();
}

}  // namespace estoria::postgres
