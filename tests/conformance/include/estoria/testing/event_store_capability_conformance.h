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

class AppendWatcherConformance : public CapabilityConformance<AppendWatcher, &EventStore::append_watcher> {
 protected:
  AppendWatcher*& watcher_ = cap_;
};

class EventImporterConformance : public CapabilityConformance<EventImporter, &EventStore::event_importer> {
 protected:
  EventImporter*& importer_ = cap_;
};

class StreamListerConformance : public CapabilityConformance<StreamLister, &EventStore::stream_lister> {
 protected:
  StreamLister*& lister_ = cap_;
};

// Referenced by the instantiation macros so that the linker keeps each suite's
// object file when the suites come from a static library.
int LinkAppendWatcherConformance();
int LinkEventImporterConformance();
int LinkStreamListerConformance();

}  // namespace estoria::testing

#define ESTORIA_INSTANTIATE_APPEND_WATCHER_CONFORMANCE(name, factory)                          \
  ESTORIA_CONFORMANCE_INSTANTIATE_(name, AppendWatcherConformance, EventStoreFactory, factory, \
                                   LinkAppendWatcherConformance)

#define ESTORIA_INSTANTIATE_EVENT_IMPORTER_CONFORMANCE(name, factory)                          \
  ESTORIA_CONFORMANCE_INSTANTIATE_(name, EventImporterConformance, EventStoreFactory, factory, \
                                   LinkEventImporterConformance)

#define ESTORIA_INSTANTIATE_STREAM_LISTER_CONFORMANCE(name, factory)                          \
  ESTORIA_CONFORMANCE_INSTANTIATE_(name, StreamListerConformance, EventStoreFactory, factory, \
                                   LinkStreamListerConformance)

// All three capability suites with one factory.
#define ESTORIA_INSTANTIATE_EVENT_STORE_CAPABILITY_CONFORMANCE(name, factory) \
  ESTORIA_INSTANTIATE_APPEND_WATCHER_CONFORMANCE(name, factory);              \
  ESTORIA_INSTANTIATE_EVENT_IMPORTER_CONFORMANCE(name, factory);              \
  ESTORIA_INSTANTIATE_STREAM_LISTER_CONFORMANCE(name, factory)
