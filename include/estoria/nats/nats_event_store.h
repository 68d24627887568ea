// estoria/nats/nats_event_store.h (estoria::nats, target estoria::nats): an event
// store on a NATS JetStream stream, for deployments whose log must be replicated
// across machines (a 3-node cluster with replicas=3 keeps every acknowledged
// append through the loss of one node). Built on the backend SDK only
// (include/estoria/backend/), like a third-party backend. The message layout and
// its guarantees are in docs/storage.md ("NATS JetStream").
//
// Capabilities: StreamReader, StreamWriter, GlobalReader (gap-free, stable-prefix
// positions), StreamDeleter (subject purges), StreamLister, AppendWatcher and
// EventImporter.
//
// Thread safety: safe for concurrent use from many threads. Concurrent appends
// through one store object are group-committed: one caller at a time (or, for
// AppendStreamAsync, a thread of the store) publishes every queued append,
// pipelined (the JetStream log orders appends across processes, see
// docs/storage.md); reads run concurrently. The destructor must not run
// concurrently with any other call.
// Iterators are used by one thread at a time and share ownership of the
// connection, so they may outlive the store object.
#pragma once
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "estoria/event_store.h"
#include "estoria/logger.h"

namespace estoria::nats {

// The NATS default for EventLimits::max_event_data_bytes: 512 KiB, half of the
// NATS server's default max_payload (1 MiB), because one append is one message:
// an event at both default limits (512 KiB data, 64 KiB metadata, at most
// 384 KiB as JSON) and its framing fit in it.
inline constexpr int64_t kNatsDefaultMaxEventDataBytes = int64_t{512} << 10;

struct NatsStoreOptions {
  // Server URLs of one NATS system ("nats://host:port"); the client connects to
  // any of them and reconnects to another on failure. Required.
  std::vector<std::string> servers{};
  // The JetStream stream holding the log; also the subject prefix
  // ("<stream>.>"). Letters, digits, '-' and '_'. Created on first open.
  // Default "estoria".
  std::string stream = "estoria";
  // Replicas of the stream when this open creates it (1..5; 3 for a 3-node
  // cluster). An existing stream keeps its own. Default 1.
  int replicas = 1;
  // How long one operation may wait for the servers (connecting, an
  // acknowledgement, a leader election) before it returns Unavailable.
  // Default 10 s.
  std::chrono::milliseconds timeout{10000};
  // Where warnings go. Default: StderrLogger().
  std::shared_ptr<Logger> logger{};
  // The largest event data and metadata accepted (see EventLimits in
  // event_store.h); each in [1, the server's max_payload - 4096], checked by
  // Open once connected. URI options max_event_data_bytes=N and
  // max_event_metadata_bytes=N. Default 512 KiB data
  // (kNatsDefaultMaxEventDataBytes), 64 KiB metadata. A whole append must
  // still fit in one message (InvalidArgument otherwise, see AppendStream).
  EventLimits event_limits{kNatsDefaultMaxEventDataBytes, kDefaultMaxEventMetadataBytes};
};

class NatsEventStore final : public EventStore,
                             public GlobalReader,
                             public StreamDeleter,
                             public StreamLister,
                             public AppendWatcher,
                             public EventImporter {
 public:
  // Connects and creates the stream when it does not exist. Errors:
  //  InvalidArgument     no servers, a bad stream name, replicas outside 1..5,
  //                      event_limits outside their range
  //  FailedPrecondition  a stream of that name exists but does not hold
  //                      "<stream>.>" (it belongs to something else)
  //  Unavailable         no server answered within the timeout, JetStream is
  //                      not enabled, or the cluster cannot place the replicas
  //  Internal            anything else
  static Result<std::shared_ptr<NatsEventStore>> Open(NatsStoreOptions options);
  // Opens "nats://host:port[,host:port...][?stream=NAME&replicas=N&timeout_ms=T
  // &max_event_data_bytes=N&max_event_metadata_bytes=N]".
  // InvalidArgument for a malformed URI or an unknown option; then as Open.
  static Result<std::shared_ptr<NatsEventStore>> OpenUri(std::string_view uri);
  // Parses such a URI into options (no I/O). InvalidArgument for a malformed URI,
  // a bad server, stream name or option value, or an unknown option.
  static Result<NatsStoreOptions> ParseUri(std::string_view uri);
  ~NatsEventStore() override;

  // StreamWriter, StreamReader: see event_store.h for statuses. An event over
  // event_limits, or an append larger than the server's max_payload, is
  // InvalidArgument.
  Result<std::vector<Event>> AppendStream(const TypeId& stream_id, std::span<const WritableEvent> events,
                                          const AppendOptions& options = {}) override;
  // Pipelined append: queues the append and returns at once; the future holds
  // what AppendStream would have returned (same statuses, same guarantee: it
  // is ready once JetStream acknowledged the message, on a quorum of the
  // replicas). A caller can keep many appends in flight: appends are planned in
  // the order they were queued, so an append queued after another to the same
  // stream sees it (ExpectVersion of the earlier one's last version succeeds if
  // the earlier one does, and fails with Conflict if it failed). Blocks only
  // while 4096 appends are queued and not yet published. Invalid input makes a
  // future that is ready at once with InvalidArgument. Queued appends are
  // still published when the store is destroyed (the destructor waits).
  std::future<Result<std::vector<Event>>> AppendStreamAsync(const TypeId& stream_id, std::vector<WritableEvent> events,
                                                            const AppendOptions& options = {});
  Result<std::unique_ptr<EventIterator>> ReadStream(const TypeId& stream_id,
                                                    const ReadStreamOptions& options = {}) override;
  // GlobalReader.
  Result<std::unique_ptr<EventIterator>> ReadAll(const ReadAllOptions& options = {}) override;
  Result<int64_t> HeadPosition() override;
  // StreamDeleter.
  Status DeleteStream(const TypeId& stream_id, const DeleteStreamOptions& options = {}) override;
  // StreamLister.
  Result<std::vector<StreamInfo>> ListStreams(const ListStreamsOptions& options = {}) override;
  // AppendWatcher: woken by this object's appends and, for other processes'
  // appends, by an ordered JetStream consumer (headers only) created on the
  // first call. Unavailable when the consumer cannot be created.
  Result<int64_t> WaitForAppend(int64_t after_position, std::chrono::milliseconds timeout) override;
  // EventImporter (positions may be preserved): one contiguous run of messages
  // ended by a commit marker; readers see none of it before the marker is
  // stored (docs/storage.md). Unavailable when the outcome is unknown.
  Result<std::vector<int64_t>> ImportEvents(std::span<const Event> events, const ImportOptions& options = {}) override;

  GlobalReader* global_reader() override { return this; }
  StreamDeleter* stream_deleter() override { return this; }
  StreamLister* stream_lister() override { return this; }
  AppendWatcher* append_watcher() override { return this; }
  EventImporter* event_importer() override { return this; }
  EventLimits event_limits() const override;

  struct Impl;  // implementation detail, shared with iterators
  explicit NatsEventStore(std::shared_ptr<Impl> impl);

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace estoria::nats
