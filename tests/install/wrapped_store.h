// wrapped_store.h: a tiny out-of-tree backend, written against the installed
// package only. Each store forwards every call to an inner store (the installed
// memory stores in practice), so the conformance suites exercise a backend that
// Estoria's own build never saw: the installed headers, libraries and suites.
//
// Thread safety: as the inner store (the wrappers add no state of their own).
#pragma once

#include <memory>

#include "estoria/checkpoint_store.h"
#include "estoria/event_store.h"
#include "estoria/snapshot_store.h"

namespace wrapped {

// An EventStore with every capability its inner store has, and no other.
class WrappedStore final : public estoria::EventStore,
                           public estoria::GlobalReader,
                           public estoria::StreamDeleter,
                           public estoria::StreamLister,
                           public estoria::AppendWatcher,
                           public estoria::EventImporter {
 public:
  explicit WrappedStore(std::shared_ptr<estoria::EventStore> inner);

  // A WrappedStore over a new, empty memory event store.
  static std::shared_ptr<WrappedStore> OverMemory();

  estoria::Result<std::vector<estoria::Event>> AppendStream(const estoria::TypeId& stream_id,
                                                            std::span<const estoria::WritableEvent> events,
                                                            const estoria::AppendOptions& options = {}) override;
  estoria::Result<std::unique_ptr<estoria::EventIterator>> ReadStream(
      const estoria::TypeId& stream_id, const estoria::ReadStreamOptions& options = {}) override;
  estoria::Result<std::unique_ptr<estoria::EventIterator>> ReadAll(
      const estoria::ReadAllOptions& options = {}) override;
  estoria::Result<int64_t> HeadPosition() override;
  estoria::Status DeleteStream(const estoria::TypeId& stream_id,
                               const estoria::DeleteStreamOptions& options = {}) override;
  estoria::Result<std::vector<estoria::StreamInfo>> ListStreams(
      const estoria::ListStreamsOptions& options = {}) override;
  estoria::Result<int64_t> WaitForAppend(int64_t after_position, std::chrono::milliseconds timeout) override;
  estoria::Result<std::vector<int64_t>> ImportEvents(std::span<const estoria::Event> events,
                                                     const estoria::ImportOptions& options = {}) override;

  estoria::GlobalReader* global_reader() override { return inner_->global_reader() ? this : nullptr; }
  estoria::StreamDeleter* stream_deleter() override { return inner_->stream_deleter() ? this : nullptr; }
  estoria::StreamLister* stream_lister() override { return inner_->stream_lister() ? this : nullptr; }
  estoria::AppendWatcher* append_watcher() override { return inner_->append_watcher() ? this : nullptr; }
  estoria::EventImporter* event_importer() override { return inner_->event_importer() ? this : nullptr; }
  estoria::EventLimits event_limits() const override { return inner_->event_limits(); }

 private:
  std::shared_ptr<estoria::EventStore> inner_;
};

class WrappedSnapshotStore final : public estoria::SnapshotStore {
 public:
  explicit WrappedSnapshotStore(std::shared_ptr<estoria::SnapshotStore> inner) : inner_(std::move(inner)) {}

  estoria::Status Save(const estoria::Snapshot& snapshot) override;
  estoria::Result<estoria::Snapshot> Load(const estoria::TypeId& aggregate_id, int64_t max_version = 0) override;
  estoria::Result<std::vector<int64_t>> ListVersions(const estoria::TypeId& aggregate_id) override;
  estoria::Status DeleteBelow(const estoria::TypeId& aggregate_id, int64_t below_version) override;

 private:
  std::shared_ptr<estoria::SnapshotStore> inner_;
};

class WrappedCheckpointStore final : public estoria::CheckpointStore {
 public:
  explicit WrappedCheckpointStore(std::shared_ptr<estoria::CheckpointStore> inner) : inner_(std::move(inner)) {}

  estoria::Result<int64_t> Load(std::string_view name) override;
  estoria::Status Save(std::string_view name, int64_t position) override;
  estoria::Result<std::vector<estoria::Checkpoint>> List() override;
  estoria::Status Delete(std::string_view name) override;

 private:
  std::shared_ptr<estoria::CheckpointStore> inner_;
};

}  // namespace wrapped
