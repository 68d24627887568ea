// Read-your-writes helpers polling a stored checkpoint.
#include "estoria/projection/wait.h"

#include <algorithm>
#include <string>
#include <thread>

namespace estoria {

Status WaitForCheckpoint(const std::function<Result<int64_t>()>& load_position, int64_t position,
                         std::chrono::milliseconds timeout, std::chrono::milliseconds poll_interval) {
  if (!load_position) return Status::InvalidArgument("WaitForCheckpoint: empty load function");
  if (poll_interval <= std::chrono::milliseconds(0)) poll_interval = std::chrono::milliseconds(1);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int64_t last = 0;
  while (true) {
    auto loaded = load_position();
    if (loaded.ok()) {
      last = *loaded;
      if (last >= position) return Status::Ok();
    } else if (!loaded.error().IsUnavailable()) {
      return loaded.error();
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return Status::Unavailable("timeout waiting for position " + std::to_string(position) + " (checkpoint at " +
                                 std::to_string(last) + ")");
    }
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(poll_interval, deadline - now));
  }
}

Status WaitForCheckpoint(CheckpointStore& checkpoints, std::string_view name, int64_t position,
                         std::chrono::milliseconds timeout, std::chrono::milliseconds poll_interval) {
  return WaitForCheckpoint([&]() { return checkpoints.Load(name); }, position, timeout, poll_interval);
}

}  // namespace estoria
