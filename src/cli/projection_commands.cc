// projections, projections reset|history|rebuild|cutover|rollback|abandon,
// dead-letters: operate the projection processors' checkpoints, versions and
// parked events. Checkpoints and dead letters are
// read from --checkpoints URI (default: the --store URI), a SQLite file or a
// PostgreSQL database/schema, where SQL read models keep them.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <thread>

#include "commands.h"
#include "estoria/checkpoint_store.h"
#include "estoria/projection/dead_letter_store.h"
#include "estoria/projection/rebuild.h"
#include "printer.h"
#include "progress.h"
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
  std::optional<int> version;  // cutover/abandon --version N
  bool no_cutover = false;     // rebuild --no-cutover
  int timeout_s = 0;           // rebuild --timeout S (0: none)
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

Json StepJson(const RebuildStep& s) {
  Json j;
  j["seq"] = s.seq;
  j["projection"] = s.projection;
  j["step"] = std::string(RebuildStepKindName(s.kind));
  j["version"] = s.version;
  j["active_version"] = s.active_version;
  j["previous_version"] = s.previous_version;
  j["position"] = s.position;
  j["head"] = s.head;
  j["detail"] = s.detail;
  j["at"] = FormatTimestamp(s.at);
  return j;
}

Status RunHistory(const GlobalFlags& flags, const ProjectionArgs& args) {
  ESTORIA_ASSIGN_OR_RETURN(auto catalog, ui::OpenRebuildCatalog(CheckpointsUri(flags, args), "--checkpoints"));
  ESTORIA_RETURN_IF_ERROR(DescribeProjectionVersions(*catalog, args.name).status());  // NotFound for an unknown name
  ESTORIA_ASSIGN_OR_RETURN(std::vector<RebuildStep> steps, catalog->History(args.name));
  if (flags.json) {
    for (const RebuildStep& s : steps) std::cout << StepJson(s).dump() << '\n';
    return Status::Ok();
  }
  if (steps.empty()) {
    std::cout << "(no recorded rebuild steps)\n";
    return Status::Ok();
  }
  std::cout << std::left << std::setw(28) << "AT" << std::setw(13) << "STEP" << std::setw(9) << "VERSION"
            << std::setw(8) << "ACTIVE" << std::setw(12) << "POSITION" << std::setw(12) << "HEAD"
            << "DETAIL\n";
  for (const RebuildStep& s : steps) {
    std::string detail = s.detail;
    if (s.kind == RebuildStep::Kind::kPromoted) detail = "replaced version " + std::to_string(s.previous_version);
    if (s.kind == RebuildStep::Kind::kStarted && !detail.empty()) detail = "tables " + detail;
    std::cout << std::left << std::setw(28) << FormatTimestamp(s.at) << std::setw(13) << RebuildStepKindName(s.kind)
              << std::setw(9) << s.version << std::setw(8) << s.active_version << std::setw(12) << s.position
              << std::setw(12) << s.head << detail << '\n';
  }
  return Status::Ok();
}

// cutover, rollback, abandon: one step, printed like `history` prints it.
Status RunVersionStep(const GlobalFlags& flags, const ProjectionArgs& args, const std::string& what) {
  ESTORIA_ASSIGN_OR_RETURN(auto store, OpenStore(flags));
  GlobalReader* reader = store->global_reader();
  if (!reader) return Status::NotSupported("this store has no global log (ReadAll)");
  ESTORIA_ASSIGN_OR_RETURN(auto catalog, ui::OpenRebuildCatalog(CheckpointsUri(flags, args), "--checkpoints"));
  Result<RebuildStep> step = Status::Internal("unknown step");
  if (what == "cutover") step = CutOverProjection(*catalog, *reader, args.name, args.version);
  if (what == "rollback") step = RollbackProjection(*catalog, *reader, args.name);
  if (what == "abandon") step = AbandonProjectionVersion(*catalog, *reader, args.name, args.version);
  if (!step.ok()) return step.status();
  Printer(std::cout, flags.json).PrintObject(StepJson(*step));
  return Status::Ok();
}

// The handlers live in the application, which runs RebuildProjection; this
// command follows that rebuild (the version's checkpoint against the head) with
// a progress bar or JSON lines, and cuts over when it has caught up.
Status RunRebuild(const GlobalFlags& flags, const ProjectionArgs& args) {
  ESTORIA_ASSIGN_OR_RETURN(auto store, OpenStore(flags));
  GlobalReader* reader = store->global_reader();
  if (!reader) return Status::NotSupported("this store has no global log (ReadAll)");
  ESTORIA_ASSIGN_OR_RETURN(auto catalog, ui::OpenRebuildCatalog(CheckpointsUri(flags, args), "--checkpoints"));
  ESTORIA_ASSIGN_OR_RETURN(ProjectionVersions v, DescribeProjectionVersions(*catalog, args.name));
  if (v.unfinished == 0) {
    return Status::NotFound("projection " + args.name + " has no rebuild in progress (active version " +
                            std::to_string(v.active) +
                            "): start one with RebuildProjection (estoria/projection/rebuild.h) in the application "
                            "that has the projection's handlers, then follow it with this command");
  }
  const int version = v.unfinished;
  ESTORIA_ASSIGN_OR_RETURN(std::string versioned, VersionedName(args.name, version));
  ESTORIA_ASSIGN_OR_RETURN(int64_t start, catalog->checkpoints().Load(versioned));
  ESTORIA_ASSIGN_OR_RETURN(int64_t head, reader->HeadPosition());
  std::optional<Progress> bar;
  if (!flags.json)
    bar.emplace(stderr, args.name + " v" + std::to_string(version), head - start, isatty(fileno(stderr)) == 1);
  const auto began = std::chrono::steady_clock::now();
  auto last_line = began - std::chrono::seconds(1);
  auto emit = [&](int64_t position, int64_t head_now, const char* state) {
    if (bar) {
      bar->SetTotal(std::max<int64_t>(0, head_now - start));
      if (std::string(state) == "following") {
        bar->Update(position - start);
      } else {
        bar->Finish(position - start);
      }
      return;
    }
    auto now = std::chrono::steady_clock::now();
    if (std::string(state) == "following" && now - last_line < std::chrono::seconds(1)) return;
    last_line = now;
    double seconds = std::chrono::duration<double>(now - began).count();
    double rate = seconds > 0 ? static_cast<double>(position - start) / seconds : 0;
    Json j;
    j["projection"] = args.name;
    j["version"] = version;
    j["state"] = state;
    j["position"] = position;
    j["head"] = head_now;
    j["events_done"] = position - start;
    j["events_per_second"] = rate;
    if (rate > 0) j["eta_seconds"] = static_cast<int64_t>(static_cast<double>(head_now - position) / rate);
    std::cout << j.dump() << std::endl;
  };
  for (;;) {
    ESTORIA_ASSIGN_OR_RETURN(ProjectionVersions now, DescribeProjectionVersions(*catalog, args.name));
    ESTORIA_ASSIGN_OR_RETURN(int64_t position, catalog->checkpoints().Load(versioned));
    ESTORIA_ASSIGN_OR_RETURN(head, reader->HeadPosition());
    if (now.active == version) {  // the application cut over itself
      emit(position, head, "promoted");
      return Status::Ok();
    }
    if (now.unfinished != version) {
      emit(position, head, "ended");
      return Status::FailedPrecondition("the rebuild of version " + std::to_string(version) + " of projection " +
                                        args.name + " ended without a cut-over (see `estoria projections history " +
                                        args.name + "`)");
    }
    if (position >= head) {
      if (args.no_cutover) {
        emit(position, head, "caught_up");
        return Status::Ok();
      }
      Result<RebuildStep> cut = CutOverProjection(*catalog, *reader, args.name, version);
      if (cut.ok()) {
        emit(position, head, "promoted");
        return Status::Ok();
      }
      if (cut.status().code() != StatusCode::kFailedPrecondition) return cut.status();
    }
    emit(position, head, "following");
    if (args.timeout_s > 0 && std::chrono::steady_clock::now() - began > std::chrono::seconds(args.timeout_s)) {
      return Status::Unavailable("timeout: version " + std::to_string(version) + " of projection " + args.name +
                                 " is at " + std::to_string(position) + ", head " + std::to_string(head));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
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

  auto version_cmd = [&](const char* cmd, const char* help, bool with_version) {
    auto va = std::make_shared<ProjectionArgs>();
    auto* c = p->add_subcommand(cmd, help);
    c->add_option("NAME", va->name, "Projection name (base name, without _vN)")->required();
    if (with_version)
      c->add_option("--version", va->version, "The version (default: see above)")->check(CLI::PositiveNumber);
    c->add_option("--checkpoints", va->checkpoints, "Where checkpoints and versions are kept (default: --store)");
    std::string what = cmd;
    c->callback([=, &flags] {
      *action = [=, &flags] { return what == "history" ? RunHistory(flags, *va) : RunVersionStep(flags, *va, what); };
    });
  };
  version_cmd("history",
              "List the recorded rebuild steps of a projection (started, resumed, caught_up, "
              "promoted, rolled_back, abandoned)",
              false);
  version_cmd("cutover",
              "Make the rebuilt version (default: the unfinished rebuild's) active; refused until it "
              "has caught up",
              true);
  version_cmd("rollback", "Make the version the active one replaced active again (its tables were kept)", false);
  version_cmd("abandon",
              "Drop a version's tables and checkpoint (default: the unfinished rebuild's, else the "
              "rolled-back one); never the active version",
              true);
  auto ra = std::make_shared<ProjectionArgs>();
  auto* rebuild = p->add_subcommand("rebuild",
                                    "Follow the rebuild the application runs (RebuildProjection) with "
                                    "progress, and cut over when it has caught up");
  rebuild->add_option("NAME", ra->name, "Projection name (base name, without _vN)")->required();
  rebuild->add_flag("--no-cutover", ra->no_cutover, "Stop following once caught up; cut over later with `cutover`");
  rebuild->add_option("--timeout", ra->timeout_s, "Give up after S seconds (default: never)")
      ->check(CLI::NonNegativeNumber);
  rebuild->add_option("--checkpoints", ra->checkpoints, "Where checkpoints and versions are kept (default: --store)");
  rebuild->callback([=, &flags] { *action = [=, &flags] { return RunRebuild(flags, *ra); }; });

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
