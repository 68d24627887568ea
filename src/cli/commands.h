// estoria cli: registration of the subcommands. Each Add* function adds its
// subcommands to `app`; when one of them is parsed, its callback stores the work
// to do in *action, which main() runs after parsing.
//
// Thread safety: single-threaded (main).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "estoria/event_store.h"
#include "estoria/status.h"

namespace estoria::cli {

struct GlobalFlags {
  std::string store;  // --store URI (or ESTORIA_STORE)
  bool json = false;  // --json
};

using Action = std::function<Status()>;

// Opens the store named by --store. InvalidArgument when none was given;
// otherwise whatever OpenEventStore returns.
Result<std::shared_ptr<EventStore>> OpenStore(const GlobalFlags& flags);

// streams, read, read-all, append, delete
void AddStoreCommands(CLI::App& app, const GlobalFlags& flags, Action* action);
// copy, export, import
void AddTransferCommands(CLI::App& app, const GlobalFlags& flags, Action* action);
// projections, projections reset, dead-letters
void AddProjectionCommands(CLI::App& app, const GlobalFlags& flags, Action* action);
// ui (the admin web UI server, src/ui)
void AddUiCommands(CLI::App& app, const GlobalFlags& flags, Action* action);

}  // namespace estoria::cli
