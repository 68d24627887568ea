// estoria bench: the command-line front end shared by `estoria bench` and the
// standalone `estoria-bench`: options, dispatch to a workload, output (a human
// line, or one JSON object per result with --json).
//
// Thread safety: single-threaded (main).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <ostream>
#include <string>

#include "bench_options.h"
#include "estoria/status.h"

namespace estoria::bench {

// The workload names accepted by RunBench.
const std::vector<std::string>& WorkloadNames();

// Adds WORKLOAD and every workload option to `cmd` (not --store / --json).
void AddBenchOptions(CLI::App& cmd, BenchOptions& options);

// Runs o.workload and prints its result(s). InvalidArgument for an unknown
// workload or bad options, NotSupported when the store lacks what the workload
// needs, else the store's errors.
Status RunBench(const BenchOptions& o, bool json, std::ostream& out);

}  // namespace estoria::bench
