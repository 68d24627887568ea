// estoria/projection/wait.h: read-your-writes helpers. After a command appended
// events at global position P, a query waits until the projection it reads has
// handled P, so that the query sees the command's effects.
//
//   auto appended = store->AppendStream(id, events).value();
//   ESTORIA_RETURN_IF_ERROR(processor.WaitForPosition(appended.back().global_position, 2s));
//
// Processor::WaitForPosition serves a processor in the same process; the
// functions below serve a projection running elsewhere, by polling its stored
// checkpoint (a CheckpointStore, or a SQL read model's checkpoint row).
//
// Timeout status: Unavailable, with a message starting "timeout" (a transient
// condition: the projection is lagging; the caller may retry or answer from the
// stale model).
//
// Thread safety: the functions may be called from any thread; they call
// load_position from the calling thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>

#include "estoria/checkpoint_store.h"
#include "estoria/status.h"

namespace estoria {

// Calls load_position every poll_interval (default 20 ms) until it returns a
// value >= position. OK when reached; Unavailable ("timeout ...") when timeout
// passes first; an error of load_position other than Unavailable is returned
// at once (Unavailable is retried until the timeout).
Status WaitForCheckpoint(const std::function<Result<int64_t>()>& load_position, int64_t position,
                         std::chrono::milliseconds timeout,
                         std::chrono::milliseconds poll_interval = std::chrono::milliseconds(20));

// The same, reading `name`'s checkpoint from a CheckpointStore.
Status WaitForCheckpoint(CheckpointStore& checkpoints, std::string_view name, int64_t position,
                         std::chrono::milliseconds timeout,
                         std::chrono::milliseconds poll_interval = std::chrono::milliseconds(20));

}  // namespace estoria
