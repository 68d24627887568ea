// estoria/testing/event_store_capability_conformance.h: conformance suites for
// the optional EventStore capabilities of estoria/event_store.h that
// ESTORIA_INSTANTIATE_EVENT_STORE_CONFORMANCE (conformance.h) does not cover:
//   AppendWatcherConformance   append_watcher(): WaitForAppend returns at once
//                              when a newer position is known, wakes on an
//                              append (and an import) made through the store,
//                              returns the known head on timeout
//   EventImporterConformance   event_importer(): ImportEvents writes events
//                              verbatim, atomically, continuing stream tips,
//                              with every documented error
//   StreamListerConformance    stream_lister(): ListStreams ordering, filters,
//                              paging and tips
// Each suite skips its tests when the store lacks the capability (the
// accessor returns null), so a backend may instantiate all of them.
//
// A backend author instantiates them with the same factory as the event store
// suites (called once per test; it must return a new, empty store):
//
//   #include "estoria/testing/event_store_capability_conformance.h"
//   ESTORIA_INSTANTIATE_EVENT_STORE_CAPABILITY_CONFORMANCE(MyBackend, [] { return OpenMyStore(); });
//
// or one suite at a time with ESTORIA_INSTANTIATE_APPEND_WATCHER_CONFORMANCE,
// ESTORIA_INSTANTIATE_EVENT_IMPORTER_CONFORMANCE and
// ESTORIA_INSTANTIATE_STREAM_LISTER_CONFORMANCE (same arguments). Link the
// test program with estoria::conformance. Waits in AppendWatcherConformance
// are bounded by generous deadlines (30 s), never used as timing assertions
// beyond "returned well before the deadline".
//
// Thread safety: the factory may be called from the test thread only; the
// stores it returns must be safe for concurrent use (AppendWatcherConformance
// appends on one thread while another waits).
#pragma once

#include "estoria/testing/conformance.h"

namespace estoria::testing {

class AppendWatcherConformance : public EventStoreConformance {
 protected:
  void SetUp() override;
  AppendWatcher* watcher_ = nullptr;
};

class EventImporterConformance : public EventStoreConformance {
 protected:
  void SetUp() override;
  EventImporter* importer_ = nullptr;
};

class StreamListerConformance : public EventStoreConformance {
 protected:
  void SetUp() override;
  StreamLister* lister_ = nullptr;
};

// Referenced by the instantiation macros so that the linker keeps each suite's
// object file when the suites come from a static library.
int LinkAppendWatcherConformance();
int LinkEventImporterConformance();
int LinkStreamListerConformance();

}  // namespace estoria::testing

#define ESTORIA_INSTANTIATE_APPEND_WATCHER_CONFORMANCE(name, factory)                   \
  using ::estoria::testing::AppendWatcherConformance;                                   \
  [[maybe_unused]] static const int estoria_conformance_anchor_##name##_AppendWatcher = \
      ::estoria::testing::LinkAppendWatcherConformance();                               \
  INSTANTIATE_TEST_SUITE_P(name, AppendWatcherConformance,                              \
                           ::testing::Values(::estoria::testing::EventStoreFactory(factory)))

#define ESTORIA_INSTANTIATE_EVENT_IMPORTER_CONFORMANCE(name, factory)                   \
  using ::estoria::testing::EventImporterConformance;                                   \
  [[maybe_unused]] static const int estoria_conformance_anchor_##name##_EventImporter = \
      ::estoria::testing::LinkEventImporterConformance();                               \
  INSTANTIATE_TEST_SUITE_P(name, EventImporterConformance,                              \
                           ::testing::Values(::estoria::testing::EventStoreFactory(factory)))

#define ESTORIA_INSTANTIATE_STREAM_LISTER_CONFORMANCE(name, factory)                   \
  using ::estoria::testing::StreamListerConformance;                                   \
  [[maybe_unused]] static const int estoria_conformance_anchor_##name##_StreamLister = \
      ::estoria::testing::LinkStreamListerConformance();                               \
  INSTANTIATE_TEST_SUITE_P(name, StreamListerConformance,                              \
                           ::testing::Values(::estoria::testing::EventStoreFactory(factory)))

// All three capability suites with one factory.
#define ESTORIA_INSTANTIATE_EVENT_STORE_CAPABILITY_CONFORMANCE(name, factory) \
  ESTORIA_INSTANTIATE_APPEND_WATCHER_CONFORMANCE(name, factory);              \
  ESTORIA_INSTANTIATE_EVENT_IMPORTER_CONFORMANCE(name, factory);              \
  ESTORIA_INSTANTIATE_STREAM_LISTER_CONFORMANCE(name, factory)
