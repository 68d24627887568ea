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
#include <typeinfo>

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
  // For the capability suites' SetUp: a new store, then its capability (the
  // test is skipped when the store lacks it).
  template <typename Cap>
  void SetUpCapability(Cap* (EventStore::*get)(), Cap*& cap, const char* name) {
    EventStoreConformance::SetUp();
    if (HasFatalFailure()) return;
    cap = ((*store_).*get)();
    if (cap == nullptr) GTEST_SKIP() << "no " << name << " capability";
  }
  std::shared_ptr<EventStore> store_;
};
// A suite over one capability of an event store: a new store per test, the
// test skipped when the store lacks the capability.
template <typename Cap, Cap* (EventStore::*Get)()>
class CapabilityConformance : public EventStoreConformance {
 protected:
  void SetUp() override { SetUpCapability(Get, cap_, typeid(Cap).name()); }
  Cap* cap_ = nullptr;
};
class GlobalReaderConformance : public CapabilityConformance<GlobalReader, &EventStore::global_reader> {
 protected:
  GlobalReader*& global_ = cap_;
};
class StreamDeleterConformance : public CapabilityConformance<StreamDeleter, &EventStore::stream_deleter> {
 protected:
  StreamDeleter*& deleter_ = cap_;
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

// One suite instantiated with one factory; `anchor` is a function of the suite's
// object file, referenced so that the linker keeps it when the suites come from
// a static library.
#define ESTORIA_CONFORMANCE_INSTANTIATE_(name, Suite, Factory, factory, anchor)                                 \
  using ::estoria::testing::Suite;                                                                              \
  [[maybe_unused]] static const int estoria_conformance_anchor_##name##_##Suite = ::estoria::testing::anchor(); \
  INSTANTIATE_TEST_SUITE_P(name, Suite, ::testing::Values(::estoria::testing::Factory(factory)))

#define ESTORIA_INSTANTIATE_EVENT_STORE_CONFORMANCE(name, factory)                                                     \
  ESTORIA_CONFORMANCE_INSTANTIATE_(name, EventStoreConformance, EventStoreFactory, factory, LinkConformanceSuites);    \
  ESTORIA_CONFORMANCE_INSTANTIATE_(name, GlobalReaderConformance, EventStoreFactory, factory, LinkConformanceSuites);  \
  ESTORIA_CONFORMANCE_INSTANTIATE_(name, StreamDeleterConformance, EventStoreFactory, factory, LinkConformanceSuites); \
  ESTORIA_CONFORMANCE_INSTANTIATE_(name, EventStoreConcurrencyConformance, EventStoreFactory, factory,                 \
                                   LinkConformanceSuites)

#define ESTORIA_INSTANTIATE_SNAPSHOT_STORE_CONFORMANCE(name, factory) \
  ESTORIA_CONFORMANCE_INSTANTIATE_(name, SnapshotStoreConformance, SnapshotStoreFactory, factory, LinkConformanceSuites)

#define ESTORIA_INSTANTIATE_CHECKPOINT_STORE_CONFORMANCE(name, factory)                               \
  ESTORIA_CONFORMANCE_INSTANTIATE_(name, CheckpointStoreConformance, CheckpointStoreFactory, factory, \
                                   LinkConformanceSuites)
