// estoria: the command-line tool. See `estoria --help`.
//
// Exit status: 0 success; 1 failure; 2 bad arguments (usage); 3 Conflict (an
// append expectation failed); 4 NotFound. Errors are one line on stderr.
#include <CLI/CLI.hpp>
#include <iostream>

#include "commands.h"

namespace {

int ExitCodeFor(const estoria::Status& s) {
  if (s.IsConflict()) return 3;
  if (s.IsNotFound()) return 4;
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"estoria: inspect and operate Estoria event stores", "estoria"};
  app.require_subcommand(1);
  app.fallthrough();  // --store and --json are accepted anywhere on the line
  app.footer(
      "Store URIs: memory:, sqlite:PATH, sqlite::memory:, postgres://...,\n"
      "nats://HOST:PORT[,HOST:PORT...]?stream=NAME (or ESTORIA_STORE).\n"
      "Exit status: 0 ok, 1 failure, 2 bad arguments, 3 conflict, 4 not found.");
  estoria::cli::GlobalFlags flags;
  app.add_option("--store", flags.store, "Store URI")->envname("ESTORIA_STORE");
  app.add_flag("--json", flags.json, "JSON lines instead of tables");
  estoria::cli::Action action;
  estoria::cli::AddStoreCommands(app, flags, &action);
  estoria::cli::AddTransferCommands(app, flags, &action);
  estoria::cli::AddProjectionCommands(app, flags, &action);
  estoria::cli::AddUiCommands(app, flags, &action);
  // An unknown command word gets its own message (CLI11 would only say that a
  // subcommand is required).
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--store") {
      ++i;
      continue;
    }
    if (arg.starts_with("-")) continue;
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands({})) known = known || sub->get_name() == arg;
    if (!known) {
      std::cerr << "estoria: error: unknown command \"" << arg << "\" (see estoria --help)" << std::endl;
      return 2;
    }
    break;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "estoria: error: " << e.what() << " (see estoria --help)" << std::endl;
    return 2;
  }
  if (!action) {
    std::cerr << "estoria: error: no command given (see estoria --help)" << std::endl;
    return 2;
  }
  estoria::Status status = action();
  std::cout.flush();
  if (!status.ok()) {
    std::string line = status.ToString();
    for (char& c : line) {
      if (c == '\n') c = ' ';
    }
    std::cerr << "estoria: error: " << line << std::endl;
    return ExitCodeFor(status);
  }
  return 0;
}
