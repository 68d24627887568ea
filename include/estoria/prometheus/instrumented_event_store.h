// estoria/prometheus/instrumented_event_store.h: InstrumentedEventStore, a
// decorator over any EventStore recording Prometheus metrics (prometheus-cpp)
// in a registry the caller owns. Part of estoria::prometheus (CMake option
// ESTORIA_WITH_PROMETHEUS); there is no global state: every metric lives in the
// registry passed in, labelled {backend, store} from MetricsLabels.
//
// The decorator keeps EXACTLY the capability set of the wrapped store: each
// capability the wrapped store has (global_reader(), stream_deleter(),
// stream_lister(), append_watcher(), event_importer()) is wrapped and
// instrumented; one it lacks stays null. event_limits() is forwarded.
//
// Metric families (every one labelled backend and store):
//   estoria_event_store_appends_total              appends that committed
//   estoria_event_store_events_appended_total      events those appends wrote
//   estoria_event_store_append_duration_seconds    histogram of every append call
//   estoria_event_store_append_conflicts_total     appends refused with Conflict
//   estoria_event_store_idempotent_replays_total   appends answered AlreadyExists
//   estoria_event_store_reads_total{operation}     read_stream / read_all reads
//                                                  that opened
//   estoria_event_store_events_read_total{operation}
//   estoria_event_store_read_duration_seconds{operation}
//                                                  histogram of every read call:
//                                                  one that opened is timed from
//                                                  the call to the end of its
//                                                  iteration (the iterator's end
//                                                  or error, or its destruction:
//                                                  the time the caller took
//                                                  between events is included),
//                                                  one that failed to its error
//   estoria_event_store_deletes_total              DeleteStream calls that succeeded
//   estoria_event_store_events_imported_total      events written by ImportEvents
//   estoria_event_store_errors_total{operation, code}
//                                                  every call that returned a
//                                                  non-OK status, by operation
//                                                  (append, read_stream, read_all,
//                                                  head_position, delete_stream,
//                                                  list_streams, wait_for_append,
//                                                  import_events) and status code
//                                                  (conflict, already_exists, ...:
//                                                  Conflict and AlreadyExists
//                                                  appends are counted here too)
//
// Thread safety: as every EventStore, safe for concurrent use from many
// threads; the metrics are prometheus-cpp's (thread-safe). Iterators returned
// by reads hold the metrics alive (shared ownership of the registry), so they
// outlive the decorator like the wrapped store's iterators do.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "estoria/event_store.h"
#include "estoria/status.h"

namespace prometheus {
class Registry;
}

namespace estoria::metrics {

// The labels identifying one instrumented store in the registry.
struct MetricsLabels {
  // The backend ("memory", "sqlite", "postgres", "nats", ...). Default "unknown".
  std::string backend = "unknown";
  // The store's name within the process (several stores may share a registry).
  // Default "default".
  std::string store = "default";
};

// The default latency buckets (seconds): 50 us to 10 s.
std::vector<double> DefaultLatencyBuckets();

struct InstrumentOptions {
  MetricsLabels labels{};
  // Upper bounds of the latency histograms' buckets, strictly increasing.
  // Default DefaultLatencyBuckets().
  std::vector<double> latency_buckets = DefaultLatencyBuckets();
};

// The lowercase name of a status code as used in the `code` label
// ("invalid_argument", "conflict", ...).
const char* StatusCodeLabel(StatusCode code);

class InstrumentedEventStore final : public EventStore {
 public:
  // Wraps `inner`. Errors: InvalidArgument when inner or registry is null, a
  // label is empty or the buckets are not strictly increasing, or the registry
  // already holds a family of the same name with another type or help.
  static Result<std::shared_ptr<InstrumentedEventStore>> Create(std::shared_ptr<EventStore> inner,
                                                                std::shared_ptr<::prometheus::Registry> registry,
                                                                InstrumentOptions options = {});
  ~InstrumentedEventStore() override;

  // Same contracts and errors as the wrapped store's (see event_store.h).
  Result<std::vector<Event>> AppendStream(const TypeId& stream_id, std::span<const WritableEvent> events,
                                          const AppendOptions& options = {}) override;
  Result<std::unique_ptr<EventIterator>> ReadStream(const TypeId& stream_id,
                                                    const ReadStreamOptions& options = {}) override;
  // Capabilities: exactly those of the wrapped store, instrumented.
  GlobalReader* global_reader() override;
  StreamDeleter* stream_deleter() override;
  StreamLister* stream_lister() override;
  AppendWatcher* append_watcher() override;
  EventImporter* event_importer() override;
  EventLimits event_limits() const override;

  // The wrapped store.
  const std::shared_ptr<EventStore>& inner() const { return inner_; }

  struct Metrics;  // the resolved metric objects (internal)
  class Capabilities;

 private:
  InstrumentedEventStore(std::shared_ptr<EventStore> inner, std::shared_ptr<const Metrics> metrics);

  std::shared_ptr<EventStore> inner_;
  std::shared_ptr<const Metrics> metrics_;
  std::unique_ptr<Capabilities> capabilities_;
};

}  // namespace estoria::metrics
