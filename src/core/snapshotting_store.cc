// Non-template helpers of SnapshottingStore.
#include "estoria/snapshotting_store.h"

namespace estoria::internal {

bool CrossesMultiple(int64_t previous_version, int64_t version, int64_t every_n) {
  if (every_n <= 0) return false;
  return version / every_n > previous_version / every_n;
}

void LogIgnoredSnapshot(Logger& logger, const TypeId& id, const Status& why) {
  logger.Log(LogLevel::kWarning,
             "ignoring snapshot of " + id.ToString() + " (replaying all events): " + why.ToString());
}

void LogSnapshotWriteFailure(Logger& logger, const TypeId& id, int64_t version, const Status& why) {
  logger.Log(LogLevel::kWarning, "snapshot of " + id.ToString() + " at version " + std::to_string(version) +
                                     " not written: " + why.ToString());
}

Timestamp EventTime(StreamReader& reader, const TypeId& stream, int64_t version) {
  if (version < 1) return Timestamp{};
  ReadStreamOptions read;
  read.after_version = version - 1;
  read.count = 1;
  auto it = reader.ReadStream(stream, read);
  if (!it) return Timestamp{};
  auto next = (*it)->Next();
  if (!next || !next->has_value() || (*next)->stream_version != version) return Timestamp{};
  return (*next)->timestamp;
}

Status WriteSnapshot(SnapshotStore& store, Snapshot snapshot, std::optional<int64_t> keep_within_versions) {
  TypeId id = snapshot.aggregate_id;
  int64_t version = snapshot.version;
  Status st;
  try {
    st = store.Save(snapshot);
    if (st.ok() && keep_within_versions.has_value()) {
      int64_t below = version - *keep_within_versions;
      if (below > 0) st = store.DeleteBelow(id, below);
    }
  } catch (const std::exception& e) {
    st = Status::Internal(std::string("snapshot store threw: ") + e.what());
  } catch (...) {
    st = Status::Internal("snapshot store threw an unknown exception");
  }
  return st;
}

}  // namespace estoria::internal
