// PostgresEventStore: reads, deletes, listing and waiting; appends go to the
// group-commit AppendWriter (append_writer.cc documents the position mechanism).
#include "estoria/postgres/postgres_event_store.h"

#include <limits>

#include "append_notifier.h"
#include "append_writer.h"
#include "estoria/backend/paged_iterator.h"
#include "estoria/backend/validation.h"
#include "event_codec.h"
#include "event_store_core.h"
#include "pg_wire.h"
#include "store_core.h"

namespace estoria::postgres {

using postgres::internal::StoreCore;

namespace {

constexpr int64_t kPageSize = 512;

// Runs a read statement (binary results) on a pooled connection, retrying once
// on a fresh connection if the pooled one turned out to be dead.
Result<PgResult> Query(StoreCore& core, const postgres::PgStatement& stmt, const PgParams& params) {
  return core.pool.Run<PgResult>([&](PgConnection& c) { return c.ExecPrepared(stmt, params, PgFormat::kBinary); });
}

// Appends the result's events to `page`.
Status AppendEvents(const PgResult& res, postgres::internal::EventRowDecoder& decoder, std::vector<Event>& page) {
  const int rows = res.rows();
  page.reserve(page.size() + static_cast<size_t>(rows));
  for (int i = 0; i < rows; ++i) {
    ESTORIA_RETURN_IF_ERROR(decoder.Decode(res, i, page.emplace_back()));
  }
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<PostgresEventStore>> PostgresEventStore::Open(PostgresOptions options) {
  ESTORIA_RETURN_IF_ERROR(
      backend::ValidateEventLimits("PostgresOptions", options.event_limits, (int64_t{1} << 30) - 1));
  auto core = std::make_shared<Core>();
  ESTORIA_ASSIGN_OR_RETURN(core->store, postgres::internal::OpenStoreCore(options));
  core->options = options;
  auto connect = postgres::internal::ConnectOptionsOf(options);
  core->notifier = std::make_unique<postgres::internal::AppendNotifier>(connect, &core->store->statements,
                                                                        options.logger, core->store->strict);
  core->writer = std::make_unique<postgres::internal::AppendWriter>(connect, &core->store->statements, core->options,
                                                                    core->notifier.get());
  return std::shared_ptr<PostgresEventStore>(new PostgresEventStore(std::move(core)));
}

Result<std::shared_ptr<PostgresEventStore>> PostgresEventStore::OpenUri(std::string_view uri) {
  ESTORIA_ASSIGN_OR_RETURN(PostgresOptions options, ParsePostgresUri(uri));
  return Open(std::move(options));
}

PostgresEventStore::~PostgresEventStore() = default;

const PostgresOptions& PostgresEventStore::options() const { return core_->options; }
EventLimits PostgresEventStore::event_limits() const { return core_->options.event_limits; }

PostgresStats PostgresEventStore::stats() const {
  PostgresStats s = core_->writer->stats();
  s.listener_connects = core_->notifier->connects();
  return s;
}

Result<std::vector<Event>> PostgresEventStore::AppendStream(const TypeId& stream_id,
                                                            std::span<const WritableEvent> events,
                                                            const AppendOptions& options) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateAppend(stream_id, events, options, core_->options.event_limits));
  ESTORIA_RETURN_IF_ERROR(postgres::internal::ValidateStorable(stream_id, events));
  return core_->writer->Append(stream_id, events, options);
}

Result<std::unique_ptr<EventIterator>> PostgresEventStore::ReadStream(const TypeId& stream_id,
                                                                      const ReadStreamOptions& options) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateReadStream(stream_id, options));
  std::shared_ptr<StoreCore> core = core_->store;
  std::string key = stream_id.ToString();
  ESTORIA_ASSIGN_OR_RETURN(PgResult range, Query(*core, core->statements.stream_range, PgParams().Text(key)));
  if (range.rows() == 0) return Status::NotFound("stream " + key + " not found");
  int64_t tip = range.Int64(0, 0);
  // Events of a later incarnation of the stream (deleted and recreated while
  // iterating) have positions above the head read together with the tip; a
  // strict store reads no further than the durable frontier (Frontier).
  ESTORIA_ASSIGN_OR_RETURN(int64_t frontier, core->Frontier(range.Int64(0, 2), range.Int64(0, 1)));
  bool forward = options.direction == Direction::kForward;
  int64_t hi = tip;
  if (!forward && options.after_version > 0) hi = std::min(tip, options.after_version);
  int64_t cursor = forward ? options.after_version : hi;  // forward: exclusive; backward: inclusive
  auto fetch = [core, key, forward, hi, frontier, cursor, decoder = postgres::internal::EventRowDecoder()](
                   int64_t limit, std::vector<Event>& page) mutable -> Status {
    if (forward ? cursor >= hi : cursor < 1) return Status::Ok();
    const auto& s = core->statements;
    PgParams params;
    if (forward) {
      params.Text(key).Int64(cursor).Int64(hi).Int64(frontier).Int64(limit);
    } else {
      params.Text(key).Int64(1).Int64(cursor).Int64(frontier).Int64(limit);
    }
    ESTORIA_ASSIGN_OR_RETURN(PgResult res,
                             Query(*core, forward ? s.read_stream_forward : s.read_stream_backward, params));
    ESTORIA_RETURN_IF_ERROR(AppendEvents(res, decoder, page));
    if (!page.empty()) cursor = forward ? page.back().stream_version : page.back().stream_version - 1;
    return Status::Ok();
  };
  return std::unique_ptr<EventIterator>(
      new backend::PagedIterator(backend::PagedIterator::FetchInto(std::move(fetch)), options.count, kPageSize));
}

Result<std::unique_ptr<EventIterator>> PostgresEventStore::ReadAll(const ReadAllOptions& options) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateReadAll(options));
  std::shared_ptr<StoreCore> core = core_->store;
  ESTORIA_ASSIGN_OR_RETURN(int64_t frontier, HeadPosition());
  const auto& s = core->statements;
  const postgres::PgStatement* stmt = &s.read_all;
  std::string stream_types = postgres::internal::TextArray(options.stream_types);
  std::string event_types = postgres::internal::TextArray(options.event_types);
  if (!options.stream_types.empty() && !options.event_types.empty()) {
    stmt = &s.read_all_by_both;
  } else if (!options.stream_types.empty()) {
    stmt = &s.read_all_by_stream_type;
  } else if (!options.event_types.empty()) {
    stmt = &s.read_all_by_event_type;
  }
  int64_t cursor = options.after_position;
  auto fetch = [core, stmt, stream_types, event_types, frontier, cursor,
                decoder = postgres::internal::EventRowDecoder()](int64_t limit,
                                                                 std::vector<Event>& page) mutable -> Status {
    if (cursor >= frontier) return Status::Ok();
    const auto& s = core->statements;
    PgParams params;
    params.Int64(cursor).Int64(frontier).Int64(limit);
    if (stmt == &s.read_all_by_stream_type || stmt == &s.read_all_by_both) params.Text(stream_types);
    if (stmt == &s.read_all_by_event_type) params.Text(event_types);
    if (stmt == &s.read_all_by_both) params.Text(event_types);
    ESTORIA_ASSIGN_OR_RETURN(PgResult res, Query(*core, *stmt, params));
    ESTORIA_RETURN_IF_ERROR(AppendEvents(res, decoder, page));
    cursor = page.empty() ? frontier : page.back().global_position;
    return Status::Ok();
  };
  return std::unique_ptr<EventIterator>(
      new backend::PagedIterator(backend::PagedIterator::FetchInto(std::move(fetch)), options.count, kPageSize));
}

Result<int64_t> PostgresEventStore::HeadPosition() { return core_->store->ReadFrontier(); }

Status PostgresEventStore::DeleteStream(const TypeId& stream_id, const DeleteStreamOptions& options) {
  Status valid = TypeId::ValidateTypeName(stream_id.type());
  if (!valid.ok()) return valid.WithContext("invalid stream id");
  if (options.to_version.has_value() && *options.to_version < 0) {
    return Status::InvalidArgument("DeleteStream: negative to_version");
  }
  StoreCore& core = *core_->store;
  const auto& s = core.statements;
  std::string key = stream_id.ToString();
  return core.pool.RunStatus([&](PgConnection& c) -> Status {
    PgPipeline probe;
    probe.Add(s.begin)
        .Add(s.lock, PgParams().Int64(s.append_lock_key))
        .Add(s.stream_version_for_delete, PgParams().Text(key));
    auto found = c.RunPipeline(probe);
    if (!found || (*found)[2].rows() == 0) {
      if (!c.broken() && c.transaction_status() != PQTRANS_IDLE) (void)c.Exec("ROLLBACK");
      if (!found) return found.error();
      return Status::NotFound("stream " + key + " not found");
    }
    PgPipeline del;
    if (options.to_version.has_value()) {
      del.Add(s.truncate_events, PgParams().Text(key).Int64(*options.to_version));
    } else {
      del.Add(s.delete_events, PgParams().Text(key)).Add(s.delete_stream_row, PgParams().Text(key));
    }
    del.Add(s.commit);
    Status st = c.RunPipeline(del).error();
    if (!st.ok() && !c.broken() && c.transaction_status() != PQTRANS_IDLE) (void)c.Exec("ROLLBACK");
    return st;
  });
}

Result<std::vector<StreamInfo>> PostgresEventStore::ListStreams(const ListStreamsOptions& options) {
  if (options.limit < 0) return Status::InvalidArgument("ListStreams: negative limit");
  StoreCore& core = *core_->store;
  int64_t limit = options.limit > 0 ? options.limit : std::numeric_limits<int64_t>::max();
  PgParams params;
  params.Text(options.after).Int64(limit);
  if (!options.stream_type.empty()) params.Text(options.stream_type);
  const auto& stmt = options.stream_type.empty() ? core.statements.list_streams : core.statements.list_streams_by_type;
  ESTORIA_ASSIGN_OR_RETURN(PgResult res, Query(core, stmt, params));
  std::vector<StreamInfo> out;
  for (int i = 0; i < res.rows(); ++i) {
    auto id = TypeId::Parse(res.String(i, 0));
    if (!id) return Status::Corruption("PostgreSQL streams table holds a bad stream id: " + res.String(i, 0));
    out.push_back(StreamInfo{*std::move(id), res.Int64(i, 1), res.TimestampAt(i, 2)});
  }
  return out;
}

Result<int64_t> PostgresEventStore::WaitForAppend(int64_t after_position, std::chrono::milliseconds timeout) {
  if (timeout.count() < 0) timeout = std::chrono::milliseconds(0);
  return core_->notifier->Wait(after_position, timeout);
}

}  // namespace estoria::postgres
