// projections, projections reset, dead-letters: operate the projection
// processors' checkpoints and parked events. Checkpoints and dead letters are
// read from --checkpoints URI (default: the --store URI), a SQLite file or a
// PostgreSQL database/schema, where SQL read models keep them.
#include <algorithm>
#include <iomanip>
#include <iostream>

#include "commands.h"
#include "estoria/checkpoint_store.h"
#include "estoria/projection/dead_letter_store.h"
#include "printer.h"
#include "read_model_info.h"

namespace estoria::cli {
namespace {

// Checkpoints and dead letters live in the read model's database.
Result<std::unique_ptr<ui::ReadModelInfo>> OpenProjectionStores(const std::string& uri) {
  return ui::ReadModelInfo::Open(uri, "--checkpoints");
}

struct ProjectionArgs {
  std::string checkpoints;  // --checkpoints URI (default --store)
  std::string name;         // reset NAME
  int64_t to = 0;           // reset --to P
  std::string action = "list";
  std::optional<int64_t> position;
  bool all = false;
};

std::string CheckpointsUri(const GlobalFlags& flags, const ProjectionArgs& args) {
  return args.checkpoints.empty() ? flags.store : args.checkpoints;
}

Status RunList(const GlobalFlags& flags, const ProjectionArgs& args) {
  ESTORIA_ASSIGN_OR_RETURN(auto store, OpenStore(flags));
  GlobalReader* reader = store->global_reader();
  if (!reader) return Status::NotSupported("this store has no global log (ReadAll)");
  ESTORIA_ASSIGN_OR_RETURN(auto ps, OpenProjectionStores(CheckpointsUri(flags, args)));
  ESTORIA_ASSIGN_OR_RETURN(std::vector<Checkpoint> list, ps->checkpoints().List());
  ESTORIA_ASSIGN_OR_RETURN(int64_t head, reader->HeadPosition());
  if (!flags.json) {
    if (list.empty()) {
      std::cout << "(no projections)\n";
      return Status::Ok();
    }
    std::cout << std::left << std::setw(32) << "NAME" << std::setw(12) << "POSITION" << std::setw(12) << "LAG_EVENTS"
              << std::setw(12) << "LAG_MS"
              << "UPDATED_AT\n";
  }
  for (const Checkpoint& c : list) {
    // Lag: positions behind the head, and the age of the oldest unhandled event.
    int64_t lag_events = std::max<int64_t>(0, head - c.position);
    int64_t lag_ms = 0;
    if (lag_events > 0) {
      ESTORIA_ASSIGN_OR_RETURN(lag_ms, ui::OldestUnhandledAgeMs(*reader, c.position));
    }
    if (flags.json) {
      Json j;
      j["name"] = c.name;
      j["position"] = c.position;
      j["head"] = head;
      j["lag_events"] = lag_events;
      j["lag_ms"] = lag_ms;
      j["updated_at"] = FormatTimestamp(c.updated_at);
      std::cout << j.dump() << '\n';
    } else {
      std::cout << std::left << std::setw(32) << c.name << std::setw(12) << c.position << std::setw(12) << lag_events
                << std::setw(12) << lag_ms << FormatTimestamp(c.updated_at) << '\n';
    }
  }
  return Status::Ok();
}

Status RunReset(const GlobalFlags& flags, const ProjectionArgs& args) {
  ESTORIA_ASSIGN_OR_RETURN(auto ps, OpenProjectionStores(CheckpointsUri(flags, args)));
  ESTORIA_ASSIGN_OR_RETURN(int64_t before, ps->checkpoints().Load(args.name));
  ESTORIA_RETURN_IF_ERROR(ps->checkpoints().Save(args.name, args.to));
  Json j;
  j["name"] = args.name;
  j["previous_position"] = before;
  j["position"] = args.to;
  Printer(std::cout, flags.json).PrintObject(j);
  return Status::Ok();
}

Status RunDeadLetters(const GlobalFlags& flags, const ProjectionArgs& args) {
  ESTORIA_ASSIGN_OR_RETURN(auto ps, OpenProjectionStores(CheckpointsUri(flags, args)));
  Printer printer(std::cout, flags.json);
  if (args.action == "list") {
    ESTORIA_ASSIGN_OR_RETURN(std::vector<DeadLetter> letters, ps->dead_letters().List(args.name));
    ESTORIA_ASSIGN_OR_RETURN(std::vector<int64_t> requested, ps->dead_letters().ListReplayRequests(args.name));
    auto is_requested = [&](const DeadLetter& d) {
      return std::binary_search(requested.begin(), requested.end(), d.event.global_position);
    };
    if (!flags.json) {
      if (letters.empty()) std::cout << "(no dead letters)\n";
      for (const DeadLetter& d : letters) {
        std::cout << "position " << d.event.global_position << "  " << d.event.stream_id.ToString() << " v"
                  << d.event.stream_version << "  " << d.event.type() << "  attempts " << d.attempts << "  parked "
                  << FormatTimestamp(d.parked_at) << "  error: " << d.error
                  << (is_requested(d) ? "  (replay requested)" : "") << '\n';
      }
      return Status::Ok();
    }
    for (const DeadLetter& d : letters) {
      Json j;
      j["projection"] = d.projection;
      j["position"] = d.event.global_position;
      j["error"] = d.error;
      j["attempts"] = d.attempts;
      j["parked_at"] = FormatTimestamp(d.parked_at);
      j["replay_requested"] = is_requested(d);
      ESTORIA_ASSIGN_OR_RETURN(j["event"], backend::EventToJson(d.event));
      std::cout << j.dump() << '\n';
    }
    return Status::Ok();
  }
  if (args.action == "discard") {
    std::vector<int64_t> positions;
    if (args.all) {
      ESTORIA_ASSIGN_OR_RETURN(std::vector<DeadLetter> letters, ps->dead_letters().List(args.name));
      for (const DeadLetter& d : letters) positions.push_back(d.event.global_position);
    } else if (args.position) {
      positions.push_back(*args.position);
    } else {
      return Status::InvalidArgument("dead-letters discard needs --position P or --all");
    }
    for (int64_t p : positions) ESTORIA_RETURN_IF_ERROR(ps->dead_letters().Discard(args.name, p));
    Json j;
    j["projection"] = args.name;
    j["discarded"] = positions.size();
    printer.PrintObject(j);
    return Status::Ok();
  }
  // replay: the handler lives in the application's process, so mark the events;
  // the projection's running Processor replays them on its loop.
  if (!args.all && !args.position) return Status::InvalidArgument("dead-letters replay needs --position P or --all");
  ESTORIA_ASSIGN_OR_RETURN(int64_t n, ps->dead_letters().RequestReplay(
                                          args.name, args.all ? std::nullopt : std::optional<int64_t>(args.position)));
  Json j;
  j["projection"] = args.name;
  j["requested"] = n;
  printer.PrintObject(j);
  return Status::Ok();
}

}  // namespace

void AddProjectionCommands(CLI::App& app, const GlobalFlags& flags, Action* action) {
  auto args = std::make_shared<ProjectionArgs>();
  auto* p = app.add_subcommand("projections", "List projections (checkpoints) with position and lag");
  p->add_option("--checkpoints", args->checkpoints, "Where checkpoints are kept (default: --store)");
  p->callback([=, &flags] {
    if (*action) return;  // `projections reset` already chose its action
    *action = [=, &flags] { return RunList(flags, *args); };
  });
  auto* reset = p->add_subcommand("reset",
                                  "Move a projection's checkpoint (rebuild from --to, default 0); stop the "
                                  "projection's processors first, a running one saves its own position over it");
  reset->add_option("NAME", args->name, "Projection name")->required();
  reset->add_option("--to", args->to, "New checkpoint position (default 0)")->check(CLI::NonNegativeNumber);
  reset->add_option("--checkpoints", args->checkpoints, "Where checkpoints are kept (default: --store)");
  reset->callback([=, &flags] { *action = [=, &flags] { return RunReset(flags, *args); }; });

  auto dl = std::make_shared<ProjectionArgs>();
  auto* d = app.add_subcommand("dead-letters", "List, replay (via the running processor) or discard parked events");
  d->add_option("NAME", dl->name, "Projection name")->required();
  d->add_option("ACTION", dl->action, "list (default) | replay | discard")
      ->check(CLI::IsMember({"list", "replay", "discard"}));
  d->add_option("--position", dl->position, "replay/discard: the parked event's global position");
  d->add_flag("--all", dl->all, "replay/discard: every parked event of the projection");
  d->add_option("--checkpoints", dl->checkpoints, "Where dead letters are kept (default: --store)");
  d->callback([=, &flags] { *action = [=, &flags] { return RunDeadLetters(flags, *dl); }; });
}

}  // namespace estoria::cli
