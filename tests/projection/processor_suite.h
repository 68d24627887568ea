// Processor tests shared by every backend: replay, catch-up and tail; retry;
// park, list and replay; polling fallback. Each backend's test binary
// instantiates ProcessorSuite with a ProcessorBackend.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "estoria/event_store.h"
#include "estoria/projection/processor.h"
#include "projection_test_util.h"

namespace estoria::testing {

struct ProcessorBackend {
  std::string name;
  // A new, empty event store; NotSupported skips the test (no server).
  std::function<Result<std::shared_ptr<EventStore>>()> open;
  // A second, independent handle on the store last returned by open (a writer
  // "in another process": its appends do not wake the first handle's watcher).
  // Null when the backend has no such thing (memory).
  std::function<Result<std::shared_ptr<EventStore>>()> open_again;
};

// Records handled events; thread safe.
class Recorder {
 public:
  Status Handle(const Event& e) {
    std::lock_guard<std::mutex> lock(mu_);
    positions_.push_back(e.global_position);
    return Status::Ok();
  }
  std::vector<int64_t> positions() const {
    std::lock_guard<std::mutex> lock(mu_);
    return positions_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<int64_t> positions_;
};

class ProcessorSuite : public ::testing::TestWithParam<ProcessorBackend> {
 protected:
  void SetUp() override;
  std::shared_ptr<EventStore> store_;
};

}  // namespace estoria::testing
