// The capability conformance suites instantiated for the memory backend:
// AppendWatcher, EventImporter and StreamLister of MemoryEventStore, the
// in-memory DeadLetterStore, and HandlerSink over the in-memory checkpoint and
// dead-letter stores.
#include "estoria/memory/memory_event_store.h"
#include "estoria/memory/memory_stores.h"
#include "estoria/testing/dead_letter_store_conformance.h"
#include "estoria/testing/event_store_capability_conformance.h"
#include "estoria/testing/projection_sink_conformance.h"

namespace {

using estoria::Result;

ESTORIA_INSTANTIATE_EVENT_STORE_CAPABILITY_CONFORMANCE(Memory, []() -> Result<std::shared_ptr<estoria::EventStore>> {
  return std::shared_ptr<estoria::EventStore>(estoria::memory::MemoryEventStore::Open().value());
});

ESTORIA_INSTANTIATE_DEAD_LETTER_STORE_CONFORMANCE(Memory, []() -> Result<std::shared_ptr<estoria::DeadLetterStore>> {
  return estoria::memory::MemoryDeadLetterStore::Open().value();
});

ESTORIA_INSTANTIATE_PROJECTION_SINK_CONFORMANCE(
    MemoryHandlerSink, [](estoria::EventHandler verdict) -> Result<estoria::testing::ProjectionSinkUnderTest> {
      return estoria::testing::MakeHandlerSinkUnderTest(std::move(verdict),
                                                        estoria::memory::MemoryCheckpointStore::Open().value(),
                                                        estoria::memory::MemoryDeadLetterStore::Open().value());
    });

}  // namespace
