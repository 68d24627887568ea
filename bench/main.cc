// estoria-bench: the benchmark workloads as a standalone program; the same as
// `estoria bench`. Exit status: 0 ok, 1 failure, 2 bad arguments.
#include <CLI/CLI.hpp>
#include <iostream>

#include "bench_command.h"

int main(int argc, char** argv) {
  CLI::App app{"estoria-bench: Estoria benchmark workloads", "estoria-bench"};
  estoria::bench::BenchOptions options;
  bool json = false;
  app.add_option("--store", options.store, "Store URI (default memory:)")->envname("ESTORIA_STORE");
  app.add_flag("--json", json, "One JSON object per result");
  estoria::bench::AddBenchOptions(app, options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "estoria-bench: error: " << e.what() << std::endl;
    return 2;
  }
  estoria::Status st = estoria::bench::RunBench(options, json, std::cout);
  if (!st.ok()) {
    std::cerr << "estoria-bench: error: " << st.ToString() << std::endl;
    return 1;
  }
  return 0;
}
