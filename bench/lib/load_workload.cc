#include "load_workload.h"

namespace estoria::bench {

Result<std::vector<BenchResult>> RunLoad(const BenchOptions&) {
  return Status::NotSupported("bench load: the aggregate layer is not in this build yet");
}

}  // namespace estoria::bench
