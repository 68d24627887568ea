// estoria/testing/conformance.h: the conformance suites every event store,
// snapshot store and checkpoint store backend must pass. Shipped as the library
// estoria::conformance so that a third-party backend runs them with one line:
//
//   ESTORIA_INSTANTIATE_EVENT_STORE_CONFORMANCE(MyBackend, [] { return OpenMyStore(); });
//
// The factory is called once per test and must return a new, empty store.
// Suites instantiated by that macro: EventStoreConformance (reader + writer),
// GlobalReaderConformance and StreamDeleterConformance (skipped when the store
// lacks the capability), and EventStoreConcurrencyConformance (16 threads).
// ESTORIA_INSTANTIATE_SNAPSHOT_STORE_CONFORMANCE and
// ESTORIA_INSTANTIATE_CHECKPOINT_STORE_CONFORMANCE do the same for those stores;
// a snapshot store factory takes the retention to configure.
//
// Further suites, each with its own header and instantiation macro:
//   event_store_capability_conformance.h  AppendWatcher, EventImporter and
//                                         StreamLister (same factory as above)
//   dead_letter_store_conformance.h       DeadLetterStore
//   projection_sink_conformance.h         ProjectionSink (read models)
//
// Thread safety: the factories may be called from the test thread only.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "estoria/checkpoint_store.h"
#include "estoria/event_store.h"
#include "estoria/snapshot_store.h"

namespace estoria::testing {

using EventStoreFactory = std::function<Result<std::shared_ptr<EventStore>>()>;
using SnapshotStoreFactory = std::function<Result<std::shared_ptr<SnapshotStore>>(SnapshotRetention)>;
using CheckpointStoreFactory = std::function<Result<std::shared_ptr<CheckpointStore>>()>;

class EventStoreConformance : public ::testing::TestWithParam<EventStoreFactory> {
 protected:
  void SetUp() override;
  std::shared_ptr<EventStore> store_;
};
class GlobalReaderConformance : public EventStoreConformance {
 protected:
  void SetUp() override;
  GlobalReader* global_ = nullptr;
};
class StreamDeleterConformance : public EventStoreConformance {
 protected:
  void SetUp() override;
  StreamDeleter* deleter_ = nullptr;
};
class EventStoreConcurrencyConformance : public EventStoreConformance {};

class SnapshotStoreConformance : public ::testing::TestWithParam<SnapshotStoreFactory> {};
class CheckpointStoreConformance : public ::testing::TestWithParam<CheckpointStoreFactory> {
 protected:
  void SetUp() override;
  std::shared_ptr<CheckpointStore> store_;
};

// Referenced by the instantiation macros so that the linker keeps every suite's
// object file when the suites come from a static library.
int LinkConformanceSuites();

}  // namespace estoria::testing

#define ESTORIA_CONFORMANCE_ANCHOR_(name, suite)                                  \
  [[maybe_unused]] static const int estoria_conformance_anchor_##name##_##suite = \
      ::estoria::testing::LinkConformanceSuites()

#define ESTORIA_INSTANTIATE_EVENT_STORE_CONFORMANCE(name, factory)                             \
  using ::estoria::testing::EventStoreConformance;                                             \
  using ::estoria::testing::GlobalReaderConformance;                                           \
  using ::estoria::testing::StreamDeleterConformance;                                          \
  using ::estoria::testing::EventStoreConcurrencyConformance;                                  \
  ESTORIA_CONFORMANCE_ANCHOR_(name, EventStore);                                               \
  INSTANTIATE_TEST_SUITE_P(name, EventStoreConformance,                                        \
                           ::testing::Values(::estoria::testing::EventStoreFactory(factory))); \
  INSTANTIATE_TEST_SUITE_P(name, GlobalReaderConformance,                                      \
                           ::testing::Values(::estoria::testing::EventStoreFactory(factory))); \
  INSTANTIATE_TEST_SUITE_P(name, StreamDeleterConformance,                                     \
                           ::testing::Values(::estoria::testing::EventStoreFactory(factory))); \
  INSTANTIATE_TEST_SUITE_P(name, EventStoreConcurrencyConformance,                             \
                           ::testing::Values(::estoria::testing::EventStoreFactory(factory)))

#define ESTORIA_INSTANTIATE_SNAPSHOT_STORE_CONFORMANCE(name, factory) \
  using ::estoria::testing::SnapshotStoreConformance;                 \
  ESTORIA_CONFORMANCE_ANCHOR_(name, SnapshotStore);                   \
  INSTANTIATE_TEST_SUITE_P(name, SnapshotStoreConformance,            \
                           ::testing::Values(::estoria::testing::SnapshotStoreFactory(factory)))

#define ESTORIA_INSTANTIATE_CHECKPOINT_STORE_CONFORMANCE(name, factory) \
  using ::estoria::testing::CheckpointStoreConformance;                 \
  ESTORIA_CONFORMANCE_ANCHOR_(name, CheckpointStore);                   \
  INSTANTIATE_TEST_SUITE_P(name, CheckpointStoreConformance,            \
                           ::testing::Values(::estoria::testing::CheckpointStoreFactory(factory)))
