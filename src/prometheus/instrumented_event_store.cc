#include "estoria/prometheus/instrumented_event_store.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <chrono>
#include <exception>
#include <optional>
#include <utility>

namespace estoria::metrics {
namespace {

using Clock = std::chrono::steady_clock;

enum Op : size_t {
  kAppend,
  kReadStream,
  kReadAll,
  kHeadPosition,
  kDeleteStream,
  kListStreams,
  kWaitForAppend,
  kImportEvents,
  kOps
};
constexpr std::array<const char*, kOps> kOpNames = {"append",          "read_stream",   "read_all",
                                                    "head_position",   "delete_stream", "list_streams",
                                                    "wait_for_append", "import_events"};

double Seconds(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

std::vector<double> DefaultLatencyBuckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

const char* StatusCodeLabel(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidArgument:
      return "invalid_argument";
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kConflict:
      return "conflict";
    case StatusCode::kAlreadyExists:
      return "already_exists";
    case StatusCode::kFailedPrecondition:
      return "failed_precondition";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kCorruption:
      return "corruption";
    case StatusCode::kNotSupported:
      return "not_supported";
    case StatusCode::kInternal:
      return "internal";
  }
  return "unknown";
}

// Every metric object resolved once at creation: the hot path never looks a
// label set up. The registry is held so that the references stay valid for as
// long as a decorator or one of its iterators lives.
struct InstrumentedEventStore::Metrics {
  std::shared_ptr<::prometheus::Registry> registry;
  ::prometheus::Counter* appends = nullptr;
  ::prometheus::Counter* events_appended = nullptr;
  ::prometheus::Histogram* append_seconds = nullptr;
  ::prometheus::Counter* conflicts = nullptr;
  ::prometheus::Counter* replays = nullptr;
  std::array<::prometheus::Counter*, 2> reads{};  // by kReadStream, kReadAll
  std::array<::prometheus::Counter*, 2> events_read{};
  std::array<::prometheus::Histogram*, 2> read_seconds{};
  ::prometheus::Counter* deletes = nullptr;
  ::prometheus::Counter* events_imported = nullptr;
  ::prometheus::Family<::prometheus::Counter>* errors = nullptr;
  ::prometheus::Labels base;

  void Error(Op op, const Status& status) const {
    ::prometheus::Labels labels = base;
    labels.emplace("operation", kOpNames[op]);
    labels.emplace("code", StatusCodeLabel(status.code()));
    errors->Add(labels).Increment();
  }
  template <typename T>
  const Result<T>& Check(Op op, const Result<T>& result) const {
    if (!result.has_value()) Error(op, result.error());
    return result;
  }
};

namespace {

using Metrics = InstrumentedEventStore::Metrics;

// Counts the events a read yields and observes its duration once, at its end.
class InstrumentedIterator final : public EventIterator {
 public:
  InstrumentedIterator(std::unique_ptr<EventIterator> inner, std::shared_ptr<const Metrics> metrics, Op op,
                       Clock::time_point start)
      : inner_(std::move(inner)), metrics_(std::move(metrics)), op_(op), start_(start) {}
  ~InstrumentedIterator() override { Finish(); }

  Result<std::optional<Event>> Next() override {
    Result<std::optional<Event>> next = inner_->Next();
    if (!next.has_value()) {
      metrics_->Error(op_, next.error());
      Finish();
    } else if (next->has_value()) {
      ++events_;
    } else {
      Finish();
    }
    return next;
  }

 private:
  void Finish() {
    if (finished_) return;
    finished_ = true;
    size_t i = op_ == kReadStream ? 0 : 1;
    metrics_->read_seconds[i]->Observe(Seconds(start_));
    if (events_ > 0) metrics_->events_read[i]->Increment(static_cast<double>(events_));
  }

  std::unique_ptr<EventIterator> inner_;
  std::shared_ptr<const Metrics> metrics_;
  Op op_;
  Clock::time_point start_;
  int64_t events_ = 0;
  bool finished_ = false;
};

Result<std::unique_ptr<EventIterator>> WrapRead(Result<std::unique_ptr<EventIterator>> opened,
                                                const std::shared_ptr<const Metrics>& metrics, Op op,
                                                Clock::time_point start) {
  size_t i = op == kReadStream ? 0 : 1;
  if (!opened.has_value()) {
    metrics->Error(op, opened.error());
    metrics->read_seconds[i]->Observe(Seconds(start));
    return opened;
  }
  metrics->reads[i]->Increment();
  return std::unique_ptr<EventIterator>(std::make_unique<InstrumentedIterator>(std::move(*opened), metrics, op, start));
}

class InstrumentedGlobalReader final : public GlobalReader {
 public:
  InstrumentedGlobalReader(GlobalReader* inner, std::shared_ptr<const Metrics> metrics)
      : inner_(inner), metrics_(std::move(metrics)) {}
  Result<std::unique_ptr<EventIterator>> ReadAll(const ReadAllOptions& options = {}) override {
    Clock::time_point start = Clock::now();
    return WrapRead(inner_->ReadAll(options), metrics_, kReadAll, start);
  }
  Result<int64_t> HeadPosition() override {
    Result<int64_t> head = inner_->HeadPosition();
    metrics_->Check(kHeadPosition, head);
    return head;
  }

 private:
  GlobalReader* inner_;
  std::shared_ptr<const Metrics> metrics_;
};

class InstrumentedDeleter final : public StreamDeleter {
 public:
  InstrumentedDeleter(StreamDeleter* inner, std::shared_ptr<const Metrics> metrics)
      : inner_(inner), metrics_(std::move(metrics)) {}
  Status DeleteStream(const TypeId& stream_id, const DeleteStreamOptions& options = {}) override {
    Status st = inner_->DeleteStream(stream_id, options);
    if (st.ok()) {
      metrics_->deletes->Increment();
    } else {
      metrics_->Error(kDeleteStream, st);
    }
    return st;
  }

 private:
  StreamDeleter* inner_;
  std::shared_ptr<const Metrics> metrics_;
};

class InstrumentedLister final : public StreamLister {
 public:
  InstrumentedLister(StreamLister* inner, std::shared_ptr<const Metrics> metrics)
      : inner_(inner), metrics_(std::move(metrics)) {}
  Result<std::vector<StreamInfo>> ListStreams(const ListStreamsOptions& options = {}) override {
    Result<std::vector<StreamInfo>> listed = inner_->ListStreams(options);
    metrics_->Check(kListStreams, listed);
    return listed;
  }

 private:
  StreamLister* inner_;
  std::shared_ptr<const Metrics> metrics_;
};

class InstrumentedWatcher final : public AppendWatcher {
 public:
  InstrumentedWatcher(AppendWatcher* inner, std::shared_ptr<const Metrics> metrics)
      : inner_(inner), metrics_(std::move(metrics)) {}
  Result<int64_t> WaitForAppend(int64_t after_position, std::chrono::milliseconds timeout) override {
    Result<int64_t> known = inner_->WaitForAppend(after_position, timeout);
    metrics_->Check(kWaitForAppend, known);
    return known;
  }

 private:
  AppendWatcher* inner_;
  std::shared_ptr<const Metrics> metrics_;
};

class InstrumentedImporter final : public EventImporter {
 public:
  InstrumentedImporter(EventImporter* inner, std::shared_ptr<const Metrics> metrics)
      : inner_(inner), metrics_(std::move(metrics)) {}
  Result<std::vector<int64_t>> ImportEvents(std::span<const Event> events, const ImportOptions& options = {}) override {
    Result<std::vector<int64_t>> imported = inner_->ImportEvents(events, options);
    if (imported.has_value()) {
      metrics_->events_imported->Increment(static_cast<double>(imported->size()));
    } else {
      metrics_->Error(kImportEvents, imported.error());
    }
    return imported;
  }

 private:
  EventImporter* inner_;
  std::shared_ptr<const Metrics> metrics_;
};

Result<std::shared_ptr<const Metrics>> Resolve(std::shared_ptr<::prometheus::Registry> registry,
                                               const InstrumentOptions& options) {
  const ::prometheus::Labels base = {{"backend", options.labels.backend}, {"store", options.labels.store}};
  auto with = [&](const char* key, const char* value) {
    ::prometheus::Labels labels = base;
    labels.emplace(key, value);
    return labels;
  };
  auto m = std::make_shared<Metrics>();
  ::prometheus::Registry& r = *registry;
  try {
    m->appends = &::prometheus::BuildCounter()
                      .Name("estoria_event_store_appends_total")
                      .Help("Appends that committed.")
                      .Register(r)
                      .Add(base);
    m->events_appended = &::prometheus::BuildCounter()
                              .Name("estoria_event_store_events_appended_total")
                              .Help("Events written by committed appends.")
                              .Register(r)
                              .Add(base);
    m->append_seconds = &::prometheus::BuildHistogram()
                             .Name("estoria_event_store_append_duration_seconds")
                             .Help("Latency of every append call, whatever its outcome.")
                             .Register(r)
                             .Add(base, options.latency_buckets);
    m->conflicts = &::prometheus::BuildCounter()
                        .Name("estoria_event_store_append_conflicts_total")
                        .Help("Appends refused because an expectation failed (Conflict).")
                        .Register(r)
                        .Add(base);
    m->replays = &::prometheus::BuildCounter()
                      .Name("estoria_event_store_idempotent_replays_total")
                      .Help("Appends of events already appended (AlreadyExists): nothing written.")
                      .Register(r)
                      .Add(base);
    auto& reads = ::prometheus::BuildCounter()
                      .Name("estoria_event_store_reads_total")
                      .Help("Reads opened, by operation.")
                      .Register(r);
    auto& events_read = ::prometheus::BuildCounter()
                            .Name("estoria_event_store_events_read_total")
                            .Help("Events yielded by reads, by operation.")
                            .Register(r);
    auto& read_seconds = ::prometheus::BuildHistogram()
                             .Name("estoria_event_store_read_duration_seconds")
                             .Help("Latency of reads, from the call to the end of the iteration, by operation.")
                             .Register(r);
    for (size_t i = 0; i < 2; ++i) {
      const char* op = kOpNames[i == 0 ? kReadStream : kReadAll];
      m->reads[i] = &reads.Add(with("operation", op));
      m->events_read[i] = &events_read.Add(with("operation", op));
      m->read_seconds[i] = &read_seconds.Add(with("operation", op), options.latency_buckets);
    }
    m->deletes = &::prometheus::BuildCounter()
                      .Name("estoria_event_store_deletes_total")
                      .Help("Streams deleted or truncated.")
                      .Register(r)
                      .Add(base);
    m->events_imported = &::prometheus::BuildCounter()
                              .Name("estoria_event_store_events_imported_total")
                              .Help("Events written verbatim by ImportEvents.")
                              .Register(r)
                              .Add(base);
    auto& errors = ::prometheus::BuildCounter()
                       .Name("estoria_event_store_errors_total")
                       .Help("Calls that returned a non-OK status, by operation and status code.")
                       .Register(r);
    // Errors are rare: their series are added on first use (Family::Add
    // returns the existing one after), so the exposition holds no zero series
    // for the (operation, code) pairs that never happened.
    m->errors = &errors;
    m->base = base;
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("prometheus registry: ") + e.what());
  }
  m->registry = std::move(registry);
  return std::shared_ptr<const Metrics>(std::move(m));
}

}  // namespace

class InstrumentedEventStore::Capabilities {
 public:
  Capabilities(EventStore& inner, const std::shared_ptr<const Metrics>& metrics) {
    if (GlobalReader* g = inner.global_reader()) global_reader.emplace(g, metrics);
    if (StreamDeleter* d = inner.stream_deleter()) stream_deleter.emplace(d, metrics);
    if (StreamLister* l = inner.stream_lister()) stream_lister.emplace(l, metrics);
    if (AppendWatcher* w = inner.append_watcher()) append_watcher.emplace(w, metrics);
    if (EventImporter* i = inner.event_importer()) event_importer.emplace(i, metrics);
  }
  std::optional<InstrumentedGlobalReader> global_reader;
  std::optional<InstrumentedDeleter> stream_deleter;
  std::optional<InstrumentedLister> stream_lister;
  std::optional<InstrumentedWatcher> append_watcher;
  std::optional<InstrumentedImporter> event_importer;
};

Result<std::shared_ptr<InstrumentedEventStore>> InstrumentedEventStore::Create(
    std::shared_ptr<EventStore> inner, std::shared_ptr<::prometheus::Registry> registry, InstrumentOptions options) {
  if (inner == nullptr) return Status::InvalidArgument("InstrumentedEventStore: the wrapped store is null");
  if (registry == nullptr) return Status::InvalidArgument("InstrumentedEventStore: the registry is null");
  if (options.labels.backend.empty() || options.labels.store.empty()) {
    return Status::InvalidArgument("InstrumentedEventStore: the backend and store labels must not be empty");
  }
  if (options.latency_buckets.empty()) {
    return Status::InvalidArgument("InstrumentedEventStore: no latency buckets");
  }
  for (size_t i = 1; i < options.latency_buckets.size(); ++i) {
    if (!(options.latency_buckets[i - 1] < options.latency_buckets[i])) {
      return Status::InvalidArgument("InstrumentedEventStore: the latency buckets must be strictly increasing");
    }
  }
  ESTORIA_ASSIGN_OR_RETURN(std::shared_ptr<const Metrics> metrics, Resolve(std::move(registry), options));
  return std::shared_ptr<InstrumentedEventStore>(new InstrumentedEventStore(std::move(inner), std::move(metrics)));
}

InstrumentedEventStore::InstrumentedEventStore(std::shared_ptr<EventStore> inner,
                                               std::shared_ptr<const Metrics> metrics)
    : inner_(std::move(inner)),
      metrics_(std::move(metrics)),
      capabilities_(std::make_unique<Capabilities>(*inner_, metrics_)) {}

InstrumentedEventStore::~InstrumentedEventStore() = default;

Result<std::vector<Event>> InstrumentedEventStore::AppendStream(const TypeId& stream_id,
                                                                std::span<const WritableEvent> events,
                                                                const AppendOptions& options) {
  Clock::time_point start = Clock::now();
  Result<std::vector<Event>> appended = inner_->AppendStream(stream_id, events, options);
  metrics_->append_seconds->Observe(Seconds(start));
  if (appended.has_value()) {
    metrics_->appends->Increment();
    metrics_->events_appended->Increment(static_cast<double>(appended->size()));
    return appended;
  }
  const Status& error = appended.error();
  if (error.IsConflict()) {
    metrics_->conflicts->Increment();
  } else if (error.IsAlreadyExists()) {
    metrics_->replays->Increment();
  }
  metrics_->Error(kAppend, error);
  return appended;
}

Result<std::unique_ptr<EventIterator>> InstrumentedEventStore::ReadStream(const TypeId& stream_id,
                                                                          const ReadStreamOptions& options) {
  Clock::time_point start = Clock::now();
  return WrapRead(inner_->ReadStream(stream_id, options), metrics_, kReadStream, start);
}

GlobalReader* InstrumentedEventStore::global_reader() {
  return capabilities_->global_reader ? &*capabilities_->global_reader : nullptr;
}
StreamDeleter* InstrumentedEventStore::stream_deleter() {
  return capabilities_->stream_deleter ? &*capabilities_->stream_deleter : nullptr;
}
StreamLister* InstrumentedEventStore::stream_lister() {
  return capabilities_->stream_lister ? &*capabilities_->stream_lister : nullptr;
}
AppendWatcher* InstrumentedEventStore::append_watcher() {
  return capabilities_->append_watcher ? &*capabilities_->append_watcher : nullptr;
}
EventImporter* InstrumentedEventStore::event_importer() {
  return capabilities_->event_importer ? &*capabilities_->event_importer : nullptr;
}
EventLimits InstrumentedEventStore::event_limits() const { return inner_->event_limits(); }

}  // namespace estoria::metrics
