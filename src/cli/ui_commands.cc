// ui: serve the admin web UI (src/ui) until interrupted.
#include <cstdlib>
#include <iostream>

#include "commands.h"
#include "ui_server.h"

namespace estoria::cli {
namespace {

struct UiArgs {
  std::string read_model;
  std::string listen = "127.0.0.1:8081";
  std::string token;
  bool allow_writes = false;
};

Status RunUi(const GlobalFlags& flags, const UiArgs& args) {
  ui::UiOptions o;
  o.store_uri = flags.store;
  if (o.store_uri.empty()) return Status::InvalidArgument("no store given (--store URI or ESTORIA_STORE)");
  if (args.listen.empty()) return Status::InvalidArgument("--listen must be HOST:PORT, got \"\"");
  o.read_model_uri = args.read_model;
  size_t colon = args.listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == args.listen.size()) {
    return Status::InvalidArgument("--listen must be HOST:PORT, got \"" + args.listen + "\"");
  }
  o.host = args.listen.substr(0, colon);
  if (o.host.size() > 2 && o.host.front() == '[' && o.host.back() == ']') o.host = o.host.substr(1, o.host.size() - 2);
  try {
    size_t used = 0;
    std::string port = args.listen.substr(colon + 1);
    o.port = std::stoi(port, &used);
    if (used != port.size()) throw std::invalid_argument("port");
  } catch (const std::exception&) {
    return Status::InvalidArgument("--listen: bad port in \"" + args.listen + "\"");
  }
  o.token = args.token;
  o.allow_writes = args.allow_writes;
  auto server = ui::UiServer::Start(o);
  if (!server && server.error().IsInvalidArgument()) {
    // A refused configuration (e.g. a non-loopback --listen without a token)
    // is a usage error: exit status 2, like bad arguments.
    std::cerr << "estoria: error: " << server.error().ToString() << std::endl;
    std::exit(2);
  }
  if (!server) return server.error();
  std::cout << "estoria ui listening on " << (*server)->url() << std::endl;
  (*server)->Wait();
  return Status::Ok();
}

}  // namespace

void AddUiCommands(CLI::App& app, const GlobalFlags& flags, Action* action) {
  auto args = std::make_shared<UiArgs>();
  auto* u = app.add_subcommand("ui", "Serve the admin web UI (streams, $all, live tail, projections)");
  u->add_option("--read-model", args->read_model,
                "Where checkpoints, dead letters and leases live (default: --store when SQLite/PostgreSQL)");
  u->add_option("--listen", args->listen, "HOST:PORT to listen on (default 127.0.0.1:8081; port 0 = any free)");
  u->add_option("--token", args->token, "Access token (required off loopback)")->envname("ESTORIA_UI_TOKEN");
  u->add_flag("--allow-writes", args->allow_writes, "Enable dead-letter replay/skip from the UI");
  u->callback([=, &flags] { *action = [=, &flags] { return RunUi(flags, *args); }; });
}

}  // namespace estoria::cli
