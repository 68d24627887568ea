#include "wrapped_store.h"

#include <utility>

#include "estoria/memory/memory_event_store.h"

namespace wrapped {

using estoria::Result;
using estoria::Status;

WrappedStore::WrappedStore(std::shared_ptr<estoria::EventStore> inner) : inner_(std::move(inner)) {}

std::shared_ptr<WrappedStore> WrappedStore::OverMemory() {
  return std::make_shared<WrappedStore>(estoria::memory::MemoryEventStore::Open().value());
}

// The capability methods are reachable only through the accessors above, which
// return null when the inner store lacks the capability.
Result<std::vector<estoria::Event>> WrappedStore::AppendStream(const estoria::TypeId& stream_id,
                                                               std::span<const estoria::WritableEvent> events,
                                                               const estoria::AppendOptions& options) {
  return inner_->AppendStream(stream_id, events, options);
}

Result<std::unique_ptr<estoria::EventIterator>> WrappedStore::ReadStream(const estoria::TypeId& stream_id,
                                                                         const estoria::ReadStreamOptions& options) {
  return inner_->ReadStream(stream_id, options);
}

Result<std::unique_ptr<estoria::EventIterator>> WrappedStore::ReadAll(const estoria::ReadAllOptions& options) {
  return inner_->global_reader()->ReadAll(options);
}

Result<int64_t> WrappedStore::HeadPosition() { return inner_->global_reader()->HeadPosition(); }

Status WrappedStore::DeleteStream(const estoria::TypeId& stream_id, const estoria::DeleteStreamOptions& options) {
  return inner_->stream_deleter()->DeleteStream(stream_id, options);
}

Result<std::vector<estoria::StreamInfo>> WrappedStore::ListStreams(const estoria::ListStreamsOptions& options) {
  return inner_->stream_lister()->ListStreams(options);
}

Result<int64_t> WrappedStore::WaitForAppend(int64_t after_position, std::chrono::milliseconds timeout) {
  return inner_->append_watcher()->WaitForAppend(after_position, timeout);
}

Result<std::vector<int64_t>> WrappedStore::ImportEvents(std::span<const estoria::Event> events,
                                                        const estoria::ImportOptions& options) {
  return inner_->event_importer()->ImportEvents(events, options);
}

Status WrappedSnapshotStore::Save(const estoria::Snapshot& snapshot) { return inner_->Save(snapshot); }

Result<estoria::Snapshot> WrappedSnapshotStore::Load(const estoria::TypeId& aggregate_id, int64_t max_version) {
  return inner_->Load(aggregate_id, max_version);
}

Result<std::vector<int64_t>> WrappedSnapshotStore::ListVersions(const estoria::TypeId& aggregate_id) {
  return inner_->ListVersions(aggregate_id);
}

Status WrappedSnapshotStore::DeleteBelow(const estoria::TypeId& aggregate_id, int64_t below_version) {
  return inner_->DeleteBelow(aggregate_id, below_version);
}

Result<int64_t> WrappedCheckpointStore::Load(std::string_view name) { return inner_->Load(name); }

Status WrappedCheckpointStore::Save(std::string_view name, int64_t position) { return inner_->Save(name, position); }

Result<std::vector<estoria::Checkpoint>> WrappedCheckpointStore::List() { return inner_->List(); }

Status WrappedCheckpointStore::Delete(std::string_view name) { return inner_->Delete(name); }

}  // namespace wrapped
