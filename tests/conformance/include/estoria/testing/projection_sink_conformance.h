// estoria/testing/projection_sink_conformance.h: ProjectionSinkConformance, the
// contract of estoria/projection/projection_sink.h for a sink (a read model):
// LoadPosition per name (0 when none), Begin/Apply/Commit storing effects and
// the checkpoint together, Abort, a failed or throwing handler call (its
// effects undone, the unit still usable, the handler's status returned or
// Internal), Park within the unit, Replay (applies and discards; the handler's
// error keeps the event parked; NotFound), ReplayWith (the handler sees the
// transformed copy, the dead letter keeps the stored event, a transform error
// is returned like a handler's), and, for transactional() sinks,
// effects, parks and checkpoint invisible until Commit and dropped by Abort.
//
// The suite drives the sink's handler through a `verdict` it passes to the
// factory, and reads the sink's effects back through `effects`:
//
//   struct ProjectionSinkUnderTest { sink; effects; };
//   factory(verdict) -> Result<ProjectionSinkUnderTest>
//
// The sink's handler must, for every event it is given (by Apply or Replay):
//   1. write one effect recording event.global_position (a row in the read
//      model, inside the sink's unit of work), then
//   2. return verdict(event) (letting an exception it throws propagate).
// A transactional sink undoes step 1 itself when the call fails. A
// non-transactional sink cannot, so its handler does step 2 first and writes
// the effect only when the verdict is OK (MakeHandlerSinkUnderTest does that).
// `effects` returns the recorded positions in the order written, as a reader
// outside the sink sees them (for a transactional sink: committed ones only,
// read on another connection). The factory is called once per test, from the
// test thread, and must return a sink over new, empty storage.
//
// A backend author writes the factory as a function (a lambda returning a
// braced ProjectionSinkUnderTest{...} would split the macro's arguments at
// its comma) and instantiates the suite with it:
//
//   #include "estoria/testing/projection_sink_conformance.h"
//   estoria::Result<estoria::testing::ProjectionSinkUnderTest> OpenSink(estoria::EventHandler verdict) {
//     auto model = OpenMyReadModel([verdict](MyDb& db, const estoria::Event& e) {
//       db.Insert("effects", e.global_position);
//       return verdict(e);
//     });
//     if (!model) return model.error();
//     auto reader = OpenSecondConnection();
//     return estoria::testing::ProjectionSinkUnderTest{*model, [reader] { return reader->SelectPositions("effects");
//     }};
//   }
//   ESTORIA_INSTANTIATE_PROJECTION_SINK_CONFORMANCE(MyReadModel, OpenSink);
//
// and links the test program with estoria::conformance. HandlerSink over a
// backend's CheckpointStore and DeadLetterStore is instantiated with
// MakeHandlerSinkUnderTest.
//
// Thread safety: the suite calls a sink from one thread at a time, as a
// Processor does.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <vector>

#include "estoria/checkpoint_store.h"
#include "estoria/projection/dead_letter_store.h"
#include "estoria/projection/projection_sink.h"
#include "estoria/testing/conformance.h"

namespace estoria::testing {

struct ProjectionSinkUnderTest {
  std::shared_ptr<ProjectionSink> sink;
  // The global positions whose effects are visible outside the sink, in the
  // order written.
  std::function<Result<std::vector<int64_t>>()> effects;
};

using ProjectionSinkFactory = std::function<Result<ProjectionSinkUnderTest>(EventHandler verdict)>;

// A HandlerSink whose handler records effects in memory as described above.
// `checkpoints` must not be null; `dead_letters` null = an in-memory store.
ProjectionSinkUnderTest MakeHandlerSinkUnderTest(EventHandler verdict, std::shared_ptr<CheckpointStore> checkpoints,
                                                 std::shared_ptr<DeadLetterStore> dead_letters = nullptr);

class ProjectionSinkConformance : public ::testing::TestWithParam<ProjectionSinkFactory> {
 protected:
  void SetUp() override;

  // What the verdict answers, set by the tests.
  struct Script;
  std::shared_ptr<Script> script_;
  ProjectionSinkUnderTest under_test_;
  ProjectionSink* sink_ = nullptr;
};

// Referenced by the instantiation macro so that the linker keeps the suite's
// object file when the suites come from a static library.
int LinkProjectionSinkConformance();

}  // namespace estoria::testing

#define ESTORIA_INSTANTIATE_PROJECTION_SINK_CONFORMANCE(name, factory)                              \
  ESTORIA_CONFORMANCE_INSTANTIATE_(name, ProjectionSinkConformance, ProjectionSinkFactory, factory, \
                                   LinkProjectionSinkConformance)
