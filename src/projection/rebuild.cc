// Rebuild orchestration: RebuildProjection and the version operations
// (cut-over, rollback, abandon) over a RebuildCatalog's recorded history.
#include "estoria/projection/rebuild.h"

#include <algorithm>
#include <map>
#include <thread>

namespace estoria {
namespace {

using Kind = RebuildStep::Kind;

// What the recorded steps (and the registry) say about each version.
struct VersionsState {
  ProjectionVersions summary;
  std::map<int, Kind> last;           // the latest step of each version
  std::map<int, int> replaced;        // promoted version -> the version it replaced
  std::map<int, std::string> tables;  // version -> base tables recorded when started
  std::string latest_tables;          // tables of the latest started step
  bool known = false;                 // any history or an active version
};

std::vector<std::string> SplitTables(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

std::string JoinTables(const std::vector<std::string>& tables) {
  std::string out;
  for (const auto& t : tables) {
    if (!out.empty()) out += ',';
    out += t;
  }
  return out;
}

bool Unfinished(Kind k) { return k == Kind::kStarted || k == Kind::kResumed || k == Kind::kCaughtUp; }

Result<VersionsState> LoadState(RebuildCatalog& catalog, std::string_view name) {
  ESTORIA_RETURN_IF_ERROR(ValidateIdentifier(name));
  VersionsState s;
  Result<int> active = catalog.versions().ActiveVersion(name);
  if (active.ok()) {
    s.summary.active = *active;
    s.known = true;
  } else if (active.status().code() != StatusCode::kNotFound) {
    return active.status();
  }
  ESTORIA_ASSIGN_OR_RETURN(std::vector<RebuildStep> steps, catalog.History(name));
  if (!steps.empty()) s.known = true;
  for (const RebuildStep& step : steps) {
    s.last[step.version] = step.kind;
    if (step.kind == Kind::kStarted) {
      s.tables[step.version] = step.detail;
      s.latest_tables = step.detail;
    }
    if (step.kind == Kind::kPromoted) s.replaced[step.version] = step.previous_version;
  }
  s.summary.highest = s.summary.active;
  if (!s.last.empty()) s.summary.highest = std::max(s.summary.highest, s.last.rbegin()->first);
  for (const auto& [version, kind] : s.last) {
    if (Unfinished(kind) && version != s.summary.active) s.summary.unfinished = version;
  }
  auto t = s.tables.find(s.summary.unfinished);
  s.summary.tables = SplitTables(t != s.tables.end() ? t->second : s.latest_tables);
  return s;
}

Status UnknownProjection(std::string_view name) {
  return Status::NotFound("projection " + std::string(name) + " has no active version and no recorded rebuild");
}

std::string VersionText(std::string_view name, int version) {
  return "version " + std::to_string(version) + " of projection " + std::string(name);
}

}  // namespace

std::string_view RebuildStepKindName(RebuildStep::Kind kind) {
  switch (kind) {
    case Kind::kStarted:
      return "started";
    case Kind::kResumed:
      return "resumed";
    case Kind::kCaughtUp:
      return "caught_up";
    case Kind::kPromoted:
      return "promoted";
    case Kind::kRolledBack:
      return "rolled_back";
    case Kind::kAbandoned:
      return "abandoned";
  }
  return "unknown";
}

Result<RebuildStep::Kind> ParseRebuildStepKind(std::string_view text) {
  for (Kind k :
       {Kind::kStarted, Kind::kResumed, Kind::kCaughtUp, Kind::kPromoted, Kind::kRolledBack, Kind::kAbandoned}) {
    if (RebuildStepKindName(k) == text) return k;
  }
  return Status::Corruption("unknown rebuild step kind \"" + std::string(text) + "\"");
}

Result<ProjectionVersions> DescribeProjectionVersions(RebuildCatalog& catalog, std::string_view name) {
  ESTORIA_ASSIGN_OR_RETURN(VersionsState s, LoadState(catalog, name));
  if (!s.known) return UnknownProjection(name);
  return s.summary;
}

Result<RebuildResult> RebuildProjection(std::shared_ptr<EventStore> store, RebuildCatalog& catalog,
                                        const RebuildSinkFactory& make_sink, RebuildOptions options) {
  ESTORIA_RETURN_IF_ERROR(ValidateIdentifier(options.name));
  for (const auto& t : options.tables) ESTORIA_RETURN_IF_ERROR(ValidateIdentifier(t));
  if (!store) return Status::InvalidArgument("rebuild: null store");
  if (!make_sink) return Status::InvalidArgument("rebuild: null sink factory");
  if (options.progress_interval <= std::chrono::milliseconds(0)) {
    return Status::InvalidArgument("rebuild: progress_interval must be > 0");
  }
  GlobalReader* reader = store->global_reader();
  if (!reader) return Status::NotSupported("rebuild: the store has no global log (ReadAll)");
  const std::string& name = options.name;
  ESTORIA_ASSIGN_OR_RETURN(VersionsState state, LoadState(catalog, name));

  RebuildResult result;
  result.resumed = state.summary.unfinished != 0;
  result.version = result.resumed ? state.summary.unfinished : state.summary.highest + 1;
  ESTORIA_ASSIGN_OR_RETURN(std::string versioned, VersionedName(name, result.version));
  ESTORIA_ASSIGN_OR_RETURN(RebuildSink target, make_sink(result.version));
  if (!target.sink) return Status::InvalidArgument("rebuild: the sink factory returned no sink");
  ESTORIA_ASSIGN_OR_RETURN(int64_t start_position, target.sink->LoadPosition(versioned));
  ESTORIA_ASSIGN_OR_RETURN(int64_t head, reader->HeadPosition());

  RebuildStep step;
  step.projection = name;
  step.kind = result.resumed ? Kind::kResumed : Kind::kStarted;
  step.version = result.version;
  step.active_version = state.summary.active;
  step.position = start_position;
  step.head = head;
  step.detail = result.resumed ? "" : JoinTables(options.tables);
  ESTORIA_RETURN_IF_ERROR(catalog.Record(step));

  ProcessorOptions popts = options.processor;
  popts.name = versioned;
  popts.lock = target.lock;
  ESTORIA_ASSIGN_OR_RETURN(std::unique_ptr<Processor> processor, Processor::Create(store, target.sink, popts));
  ESTORIA_RETURN_IF_ERROR(processor->Start());

  const auto started = std::chrono::steady_clock::now();
  auto report = [&](const ProcessorState& st, bool caught_up) {
    result.position = st.position;
    result.events_done = std::max<int64_t>(0, st.position - start_position);
    if (!options.on_progress) return;
    RebuildProgress p;
    p.version = result.version;
    p.position = st.position;
    p.start_position = start_position;
    p.head = std::max(st.head_position, st.position);
    p.events_done = result.events_done;
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (seconds > 0) p.events_per_second = static_cast<double>(p.events_done) / seconds;
    if (caught_up) {
      p.eta = std::chrono::seconds(0);
    } else if (p.events_per_second > 0) {
      p.eta =
          std::chrono::seconds(static_cast<int64_t>(static_cast<double>(p.head - p.position) / p.events_per_second));
    }
    p.caught_up = caught_up;
    options.on_progress(p);
  };
  // Sleeps one progress interval in short slices; false when stop is requested.
  auto pause = [&] {
    auto until = std::chrono::steady_clock::now() + options.progress_interval;
    while (std::chrono::steady_clock::now() < until) {
      if (options.stop.stop_requested()) return false;
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          std::chrono::milliseconds(20), until - std::chrono::steady_clock::now()));
    }
    return !options.stop.stop_requested();
  };
  auto finish = [&](Status status) -> Result<RebuildResult> {
    Status stopped = processor->Stop();
    if (!status.ok()) return status;
    if (!stopped.ok()) return stopped;
    return result;
  };

  bool recorded_caught_up = false;
  for (;;) {
    Status wait = processor->WaitUntilCaughtUp(options.progress_interval);
    ProcessorState st = processor->state();
    if (st.phase == ProcessorPhase::kFailed) {
      report(st, false);
      return finish(Status::FailedPrecondition(VersionText(name, result.version) + " failed at position " +
                                               std::to_string(st.position) + ": " + st.last_error.ToString() +
                                               " (fix the handler and run the rebuild again: it resumes)"));
    }
    if (options.stop.stop_requested()) {
      report(st, false);
      result.stopped = true;
      return finish(Status::Ok());
    }
    if (!wait.ok()) {  // still replaying (timeout) or the processor stopped
      if (wait.code() != StatusCode::kUnavailable) return finish(wait);
      report(st, false);
      continue;
    }
    report(st, true);
    if (!recorded_caught_up) {
      RebuildStep c = step;
      c.kind = Kind::kCaughtUp;
      c.detail.clear();
      c.position = st.position;
      c.head = st.head_position;
      ESTORIA_RETURN_IF_ERROR(catalog.Record(c));
      recorded_caught_up = true;
    }
    if (options.cutover) {
      Result<int> before = catalog.versions().ActiveVersion(name);
      if (!before.ok() && before.status().code() != StatusCode::kNotFound) return finish(before.status());
      int previous = before.ok() ? *before : 0;
      Status cut = CutOver(catalog.versions(), *reader, name, result.version, st.position);
      if (cut.code() == StatusCode::kFailedPrecondition) continue;  // appends came in: catch up again
      if (!cut.ok()) return finish(cut);
      RebuildStep promoted = step;
      promoted.kind = Kind::kPromoted;
      promoted.detail.clear();
      promoted.active_version = result.version;
      promoted.previous_version = previous;
      promoted.position = st.position;
      ESTORIA_ASSIGN_OR_RETURN(promoted.head, reader->HeadPosition());
      ESTORIA_RETURN_IF_ERROR(catalog.Record(promoted));
      result.promoted = true;
      return finish(Status::Ok());
    }
    // Manual cut-over: keep the version caught up until it is made active or
    // abandoned.
    ESTORIA_ASSIGN_OR_RETURN(VersionsState now, LoadState(catalog, name));
    if (now.summary.active == result.version) {
      result.promoted = true;
      return finish(Status::Ok());
    }
    if (now.last[result.version] == Kind::kAbandoned) {
      return finish(
          Status::FailedPrecondition(VersionText(name, result.version) + " was abandoned during the rebuild"));
    }
    if (!pause()) {
      result.stopped = true;
      report(processor->state(), false);
      return finish(Status::Ok());
    }
  }
}

Result<RebuildStep> CutOverProjection(RebuildCatalog& catalog, GlobalReader& reader, std::string_view name,
                                      std::optional<int> version) {
  ESTORIA_ASSIGN_OR_RETURN(VersionsState s, LoadState(catalog, name));
  if (!s.known) return UnknownProjection(name);
  int v = version.value_or(s.summary.unfinished);
  if (v == 0) {
    return Status::NotFound("projection " + std::string(name) +
                            " has no unfinished rebuild to cut over (active version " +
                            std::to_string(s.summary.active) + ")");
  }
  if (v == s.summary.active) return Status::FailedPrecondition(VersionText(name, v) + " is already active");
  auto last = s.last.find(v);
  if (last == s.last.end())
    return Status::NotFound("projection " + std::string(name) + " has no recorded version " + std::to_string(v));
  if (last->second == Kind::kAbandoned) {
    return Status::FailedPrecondition(VersionText(name, v) + " was abandoned (its tables were dropped)");
  }
  ESTORIA_ASSIGN_OR_RETURN(std::string versioned, VersionedName(name, v));
  ESTORIA_ASSIGN_OR_RETURN(int64_t position, catalog.checkpoints().Load(versioned));
  ESTORIA_RETURN_IF_ERROR(CutOver(catalog.versions(), reader, name, v, position));
  RebuildStep step;
  step.projection = std::string(name);
  step.kind = Kind::kPromoted;
  step.version = v;
  step.active_version = v;
  step.previous_version = s.summary.active;
  step.position = position;
  ESTORIA_ASSIGN_OR_RETURN(step.head, reader.HeadPosition());
  ESTORIA_RETURN_IF_ERROR(catalog.Record(step));
  return step;
}

Result<RebuildStep> RollbackProjection(RebuildCatalog& catalog, GlobalReader& reader, std::string_view name) {
  ESTORIA_ASSIGN_OR_RETURN(VersionsState s, LoadState(catalog, name));
  if (!s.known) return UnknownProjection(name);
  int active = s.summary.active;
  if (active == 0) {
    return Status::FailedPrecondition("projection " + std::string(name) + " has no active version to roll back");
  }
  auto replaced = s.replaced.find(active);
  if (replaced == s.replaced.end() || replaced->second == 0) {
    return Status::FailedPrecondition(VersionText(name, active) +
                                      " replaced no earlier version: there is no previous version to roll back to");
  }
  int previous = replaced->second;
  auto last = s.last.find(previous);
  if (last != s.last.end() && last->second == Kind::kAbandoned) {
    return Status::FailedPrecondition("cannot roll back " + VersionText(name, active) + ": the previous version " +
                                      std::to_string(previous) + " was abandoned (its tables were dropped)");
  }
  ESTORIA_ASSIGN_OR_RETURN(std::string versioned, VersionedName(name, previous));
  ESTORIA_ASSIGN_OR_RETURN(int64_t position, catalog.checkpoints().Load(versioned));
  ESTORIA_ASSIGN_OR_RETURN(int64_t head, reader.HeadPosition());
  ESTORIA_RETURN_IF_ERROR(catalog.versions().SetActiveVersion(name, previous));
  RebuildStep step;
  step.projection = std::string(name);
  step.kind = Kind::kRolledBack;
  step.version = active;
  step.active_version = previous;
  step.position = position;
  step.head = head;
  ESTORIA_RETURN_IF_ERROR(catalog.Record(step));
  return step;
}

Result<RebuildStep> AbandonProjectionVersion(RebuildCatalog& catalog, GlobalReader& reader, std::string_view name,
                                             std::optional<int> version) {
  ESTORIA_ASSIGN_OR_RETURN(VersionsState s, LoadState(catalog, name));
  if (!s.known) return UnknownProjection(name);
  int v = version.value_or(s.summary.unfinished);
  if (v == 0) {
    for (const auto& [candidate, kind] : s.last) {
      if (kind == Kind::kRolledBack && candidate != s.summary.active) v = candidate;
    }
  }
  if (v == 0) {
    return Status::NotFound("projection " + std::string(name) +
                            " has no unfinished or rolled-back version to abandon (name one with --version)");
  }
  if (v < 1 || v > s.summary.highest) {
    return Status::NotFound("projection " + std::string(name) + " has no version " + std::to_string(v) + " (highest " +
                            std::to_string(s.summary.highest) + ")");
  }
  if (v == s.summary.active) {
    return Status::FailedPrecondition(VersionText(name, v) + " is active: cut over or roll back first");
  }
  auto last = s.last.find(v);
  if (last != s.last.end() && last->second == Kind::kAbandoned) {
    return Status::FailedPrecondition(VersionText(name, v) + " was already abandoned");
  }
  auto recorded = s.tables.find(v);
  std::vector<std::string> base = SplitTables(recorded != s.tables.end() ? recorded->second : s.latest_tables);
  std::vector<std::string> tables;
  for (const auto& t : base) {
    ESTORIA_ASSIGN_OR_RETURN(std::string versioned, VersionedTable(t, v));
    tables.push_back(std::move(versioned));
  }
  ESTORIA_ASSIGN_OR_RETURN(std::string versioned, VersionedName(name, v));
  ESTORIA_ASSIGN_OR_RETURN(int64_t position, catalog.checkpoints().Load(versioned));
  ESTORIA_ASSIGN_OR_RETURN(int64_t head, reader.HeadPosition());
  ESTORIA_RETURN_IF_ERROR(catalog.DropTables(tables));
  Status deleted = catalog.checkpoints().Delete(versioned);
  if (!deleted.ok() && deleted.code() != StatusCode::kNotFound) return deleted;
  RebuildStep step;
  step.projection = std::string(name);
  step.kind = Kind::kAbandoned;
  step.version = v;
  step.active_version = s.summary.active;
  step.position = position;
  step.head = head;
  step.detail = "dropped " + (tables.empty() ? std::string("no tables") : JoinTables(tables));
  ESTORIA_RETURN_IF_ERROR(catalog.Record(step));
  return step;
}

}  // namespace estoria
