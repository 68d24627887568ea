// estoria bench: `commands`, deposit commands on --aggregates aggregates from
// --writers threads, through plain C++ calls (no HTTP), two ways side by side
// in one run, in --rounds interleaved rounds of --seconds each:
//   old       load the aggregate, decide, save (ExpectVersion), and on a
//             version conflict back off (jittered, as the bank did) and retry,
//             up to 100 attempts (EventSourcedStore, no cache)
//   executor  CommandExecutor::Execute (serialized and batched per aggregate,
//             warm state)
// Each round seeds fresh aggregates (one event each, untimed) for each side.
// One result per side and round; executor results carry the ratio to the old
// path of the same round, the last one also the median ratio of all rounds.
//
// Thread safety: each call is independent.
#pragma once

#include <vector>

#include "bench_options.h"

namespace estoria::bench {

Result<std::vector<BenchResult>> RunCommands(const BenchOptions& o);

}  // namespace estoria::bench
