// estoria/memory/memory_event_store.h (estoria::memory, target estoria::memory): an in-memory event store with every
// capability (GlobalReader, StreamDeleter, StreamLister, AppendWatcher, EventImporter). For tests, caches and demos;
// nothing is persisted.
//
// Thread safety: safe for concurrent use from many threads. One lock, held
// exclusively by appends, imports and deletes, orders all appends, so global
// positions are gap-free and commit-ordered; reads share it, so readers do not
// block each other. Iterators share ownership of the store's state and fetch
// in pages under the shared lock, never holding it between calls.
//
// Memory: about 70 bytes per event beside its payload, metadata and type
// strings (a 56-byte record, its stream's index entry, arena slack); payload
// and metadata bytes are copied into an arena. Deleting or truncating a stream
// hides its events and frees their ids for reuse, but their bytes stay
// allocated until the store is destroyed.
#pragma once

#include <memory>

#include "estoria/event_store.h"
#include "estoria/logger.h"

namespace estoria::memory {

struct MemoryEventStoreOptions {
  // Where warnings go. Default: StderrLogger().
  std::shared_ptr<Logger> logger{};
  // The largest event data and metadata accepted (see EventLimits in
  // event_store.h); each in [1, 4 GiB - 1]. URI options
  // memory:?max_event_data_bytes=N&max_event_metadata_bytes=N. Default 1 MiB
  // data, 64 KiB metadata.
  EventLimits event_limits{};
};

class MemoryEventStore final : public EventStore,
                               public GlobalReader,
                               public StreamDeleter,
                               public StreamLister,
                               public AppendWatcher,
                               public EventImporter {
 public:
  // A new, empty store. InvalidArgument for event_limits outside their range;
  // never fails with the default options (`MemoryEventStore::Open().value()`
  // is safe).
  static Result<std::shared_ptr<MemoryEventStore>> Open(MemoryEventStoreOptions options = {});
  // Prefer Open: limits outside their range are clamped into it here.
  explicit MemoryEventStore(MemoryEventStoreOptions options = {});
  ~MemoryEventStore() override;

  // StreamWriter, StreamReader: see event_store.h for statuses (an event over
  // event_limits is InvalidArgument). AppendStream (and ImportEvents) also
  // return InvalidArgument for an event's encoded metadata of 4 GiB or more.
  Result<std::vector<Event>> AppendStream(const TypeId& stream_id, std::span<const WritableEvent> events,
                                          const AppendOptions& options = {}) override;
  Result<std::unique_ptr<EventIterator>> ReadStream(const TypeId& stream_id,
                                                    const ReadStreamOptions& options = {}) override;
  // GlobalReader.
  Result<std::unique_ptr<EventIterator>> ReadAll(const ReadAllOptions& options = {}) override;
  Result<int64_t> HeadPosition() override;
  // StreamDeleter.
  Status DeleteStream(const TypeId& stream_id, const DeleteStreamOptions& options = {}) override;
  // StreamLister.
  Result<std::vector<StreamInfo>> ListStreams(const ListStreamsOptions& options = {}) override;
  // AppendWatcher.
  Result<int64_t> WaitForAppend(int64_t after_position, std::chrono::milliseconds timeout) override;
  // EventImporter (positions may be preserved).
  Result<std::vector<int64_t>> ImportEvents(std::span<const Event> events, const ImportOptions& options = {}) override;

  GlobalReader* global_reader() override { return this; }
  StreamDeleter* stream_deleter() override { return this; }
  StreamLister* stream_lister() override { return this; }
  AppendWatcher* append_watcher() override { return this; }
  EventImporter* event_importer() override { return this; }
  EventLimits event_limits() const override { return limits_; }

  struct State;  // implementation detail, shared with iterators

 private:
  std::shared_ptr<State> state_;
  EventLimits limits_;
};

}  // namespace estoria::memory
