// estoria/checkpoint_store.h: CheckpointStore, where a projection processor keeps
// the last global position it handled, and MemoryCheckpointStore.
//
// Thread safety: every CheckpointStore implementation is safe for concurrent use
// from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "estoria/event.h"
#include "estoria/status.h"

namespace estoria {

struct Checkpoint {
  std::string name{};      // the projection (or subscriber) name
  int64_t position = 0;    // last handled global position
  Timestamp updated_at{};  // when it was last saved
};

class CheckpointStore {
 public:
  virtual ~CheckpointStore() = default;
  // The stored position, 0 when none. Errors: InvalidArgument (empty name, or one with a NUL byte),
  // Unavailable, Internal.
  virtual Result<int64_t> Load(std::string_view name) = 0;
  // Stores the position (it may move backwards: a reset). Errors: InvalidArgument
  // (empty name or one with a NUL byte, negative position), Unavailable,
  // Internal.
  virtual Status Save(std::string_view name, int64_t position) = 0;
  // All checkpoints ordered by name. Unavailable, Internal.
  virtual Result<std::vector<Checkpoint>> List() = 0;
  // Removes a checkpoint. NotFound when absent; Unavailable; Internal.
  virtual Status Delete(std::string_view name) = 0;
};

}  // namespace estoria
