// estoria/testing/dead_letter_store_conformance.h: DeadLetterStoreConformance,
// the contract of estoria/projection/dead_letter_store.h: Park (replacing the
// same projection and position), List (ascending, per projection), Get,
// Discard, their NotFound and InvalidArgument cases, and replay requests
// (RequestReplay, ListReplayRequests, ClearReplayRequest; a store that does
// not implement requests must answer NotSupported to all three, and those
// tests are then skipped).
//
// A backend author instantiates it with a factory returning a new, empty store
// (called once per test, from the test thread):
//
//   #include "estoria/testing/dead_letter_store_conformance.h"
//   ESTORIA_INSTANTIATE_DEAD_LETTER_STORE_CONFORMANCE(MyBackend,
//       []() -> estoria::Result<std::shared_ptr<estoria::DeadLetterStore>> { return OpenMyDeadLetters(); });
//
// and links the test program with estoria::conformance.
//
// Thread safety: the stores the factory returns must be safe for concurrent
// use (one test parks from several threads).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "estoria/projection/dead_letter_store.h"
#include "estoria/testing/conformance.h"

namespace estoria::testing {

using DeadLetterStoreFactory = std::function<Result<std::shared_ptr<DeadLetterStore>>()>;

class DeadLetterStoreConformance : public ::testing::TestWithParam<DeadLetterStoreFactory> {
 protected:
  void SetUp() override;
  std::shared_ptr<DeadLetterStore> store_;
};

// Referenced by the instantiation macro so that the linker keeps the suite's
// object file when the suites come from a static library.
int LinkDeadLetterStoreConformance();

}  // namespace estoria::testing

#define ESTORIA_INSTANTIATE_DEAD_LETTER_STORE_CONFORMANCE(name, factory)                              \
  ESTORIA_CONFORMANCE_INSTANTIATE_(name, DeadLetterStoreConformance, DeadLetterStoreFactory, factory, \
                                   LinkDeadLetterStoreConformance)
