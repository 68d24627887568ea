#include "estoria/testing/conformance.h"

namespace estoria::testing {

extern int kEventStoreSuiteAnchor;
extern int kGlobalReaderSuiteAnchor;
extern int kStreamDeleterSuiteAnchor;
extern int kConcurrencySuiteAnchor;
extern int kSnapshotStoreSuiteAnchor;

int LinkConformanceSuites() {
  return kEventStoreSuiteAnchor + kGlobalReaderSuiteAnchor + kStreamDeleterSuiteAnchor + kConcurrencySuiteAnchor +
         kSnapshotStoreSuiteAnchor;
}

}  // namespace estoria::testing
