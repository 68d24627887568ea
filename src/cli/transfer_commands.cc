// copy, export and import.
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <optional>

#include "commands.h"
#include "copier.h"
#include "estoria/open.h"
#include "event_json.h"
#include "event_sink.h"
#include "printer.h"
#include "progress.h"

namespace estoria::cli {
namespace {

// Progress on stderr, or none with --no-progress.
std::optional<Progress> MakeProgress(bool no_progress, const char* label, int64_t total) {
  if (no_progress) return std::nullopt;
  return std::optional<Progress>(std::in_place, stderr, label, total, isatty(fileno(stderr)) == 1);
}

Result<std::shared_ptr<EventStore>> OpenUri(const std::string& uri, const char* role) {
  auto store = OpenEventStore(uri);
  if (!store) return store.error().WithContext(std::string("cannot open ") + role + " store " + uri);
  return store;
}

struct CopyArgs {
  std::string from;
  std::string to;
  int64_t batch = 1000;
  bool allow_append = false;
  bool no_progress = false;
  int64_t max_rate = 0;
};

Status RunCopy(const GlobalFlags& flags, const CopyArgs& args) {
  ESTORIA_ASSIGN_OR_RETURN(auto source, OpenUri(args.from, "source"));
  ESTORIA_ASSIGN_OR_RETURN(auto target, OpenUri(args.to, "target"));
  std::optional<Progress> progress = MakeProgress(args.no_progress, "copy", 0);
  CopyOptions options;
  options.batch = args.batch;
  options.allow_append = args.allow_append;
  options.max_events_per_sec = args.max_rate;
  if (progress) {
    options.on_progress = [&](int64_t done, int64_t total) {
      progress->SetTotal(total);
      progress->Update(done);
    };
  }
  auto start = std::chrono::steady_clock::now();
  ESTORIA_ASSIGN_OR_RETURN(CopyReport report, CopyStore(*source, *target, options));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (progress) progress->Finish(report.copied);
  Json j;
  j["copied"] = report.copied;
  j["resumed_after_position"] = report.resumed_after;
  j["source_head"] = report.source_head;
  j["verbatim"] = report.verbatim;
  j["positions_preserved"] = report.positions_preserved;
  j["seconds"] = seconds;
  Printer printer(std::cout, flags.json);
  if (flags.json) {
    printer.PrintObject(j);
  } else {
    std::string text = "copied " + std::to_string(report.copied) + " events";
    if (report.resumed_after > 0)
      text += " (resumed after source position " + std::to_string(report.resumed_after) + ")";
    if (!report.verbatim) text += "; timestamps and positions were assigned by the target (--allow-append)";
    printer.PrintMessage(text);
  }
  return Status::Ok();
}

struct ExportArgs {
  std::string to;
  bool no_progress = false;
};

Status RunExport(const GlobalFlags& flags, const ExportArgs& args) {
  ESTORIA_ASSIGN_OR_RETURN(auto store, OpenStore(flags));
  GlobalReader* reader = store->global_reader();
  if (!reader) return Status::NotSupported("this store has no global log (ReadAll) to export");
  std::ofstream file;
  std::ostream* out = &std::cout;
  if (!args.to.empty() && args.to != "-") {
    file.open(args.to, std::ios::binary | std::ios::trunc);
    if (!file) return Status::InvalidArgument("cannot write " + args.to);
    out = &file;
  }
  // The head bounds the events to export (deleted events leave gaps).
  ESTORIA_ASSIGN_OR_RETURN(int64_t head, reader->HeadPosition());
  // No progress drawn over events written to the same terminal.
  const bool to_terminal = out == &std::cout && isatty(fileno(stdout)) == 1;
  std::optional<Progress> progress = MakeProgress(args.no_progress || to_terminal, "export", head);
  ESTORIA_ASSIGN_OR_RETURN(auto it, reader->ReadAll());
  int64_t n = 0;
  while (true) {
    ESTORIA_ASSIGN_OR_RETURN(std::optional<Event> e, it->Next());
    if (!e) break;
    ESTORIA_ASSIGN_OR_RETURN(std::string line, backend::EventToJsonLine(*e));
    *out << line << '\n';
    ++n;
    if (progress) progress->Update(n);
  }
  out->flush();
  if (progress) progress->Finish(n);
  if (!*out) return Status::Internal("write failed" + (args.to.empty() ? std::string() : ": " + args.to));
  if (out != &std::cout) {
    Json j;
    j["exported"] = n;
    j["file"] = args.to;
    if (flags.json) {
      std::cout << j.dump() << '\n';
    } else {
      std::cout << "exported " << n << " events to " << args.to << '\n';
    }
  }
  return Status::Ok();
}

struct ImportArgs {
  std::string from;
  int64_t batch = 1000;
  bool allow_append = false;
  bool no_progress = false;
};

Status RunImport(const GlobalFlags& flags, const ImportArgs& args) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (!args.from.empty() && args.from != "-") {
    file.open(args.from, std::ios::binary);
    if (!file) return Status::NotFound("cannot read " + args.from);
    in = &file;
  }
  ESTORIA_ASSIGN_OR_RETURN(auto store, OpenStore(flags));
  bool empty = false;
  if (GlobalReader* reader = store->global_reader()) {
    ESTORIA_ASSIGN_OR_RETURN(int64_t head, reader->HeadPosition());
    empty = head == 0;
  }
  ESTORIA_ASSIGN_OR_RETURN(EventSink sink, EventSink::Make(*store, empty, args.allow_append));
  // The total is estimated from a file's size and the bytes read so far
  // (unknown on stdin).
  int64_t file_bytes = 0;
  if (in == &file) {
    file.seekg(0, std::ios::end);
    file_bytes = static_cast<int64_t>(file.tellg());
    file.seekg(0, std::ios::beg);
  }
  std::optional<Progress> progress = MakeProgress(args.no_progress, "import", 0);
  std::vector<Event> batch;
  int64_t line_no = 0, imported = 0, bytes_read = 0;
  std::string line;
  auto flush = [&]() -> Status {
    ESTORIA_RETURN_IF_ERROR(sink.Write(batch));
    imported += static_cast<int64_t>(batch.size());
    batch.clear();
    if (progress) {
      if (file_bytes > 0 && bytes_read > 0) progress->SetTotal(imported * file_bytes / bytes_read);
      progress->Update(imported);
    }
    return Status::Ok();
  };
  while (std::getline(*in, line)) {
    ++line_no;
    bytes_read += static_cast<int64_t>(line.size()) + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto e = backend::EventFromJsonLine(line);
    if (!e) {
      return e.error().WithContext("line " + std::to_string(line_no) + " (" + std::to_string(imported) +
                                   " events imported before it)");
    }
    batch.push_back(std::move(*e));
    if (static_cast<int64_t>(batch.size()) >= args.batch) ESTORIA_RETURN_IF_ERROR(flush());
  }
  ESTORIA_RETURN_IF_ERROR(flush());
  if (progress) progress->Finish(imported);
  Json j;
  j["imported"] = imported;
  j["verbatim"] = sink.verbatim();
  j["positions_preserved"] = sink.positions_preserved();
  if (flags.json) {
    std::cout << j.dump() << '\n';
  } else {
    std::cout << "imported " << imported << " events" << '\n';
  }
  return Status::Ok();
}

}  // namespace

void AddTransferCommands(CLI::App& app, const GlobalFlags& flags, Action* action) {
  auto copy = std::make_shared<CopyArgs>();
  auto* c = app.add_subcommand("copy", "Copy every stream and event from one store to another (resumable)");
  c->add_option("--from", copy->from, "Source store URI")->required();
  c->add_option("--to", copy->to, "Target store URI")->required();
  c->add_option("--batch", copy->batch, "Events per target transaction (default 1000)")->check(CLI::PositiveNumber);
  c->add_flag("--allow-append", copy->allow_append,
              "If the target cannot import verbatim, append instead (new timestamps and positions)");
  c->add_flag("--no-progress", copy->no_progress, "Do not report progress on stderr");
  c->add_option("--max-rate", copy->max_rate, "At most about N events per second (default: no limit)")
      ->check(CLI::NonNegativeNumber);
  c->callback([=, &flags] { *action = [=, &flags] { return RunCopy(flags, *copy); }; });

  auto exp = std::make_shared<ExportArgs>();
  c = app.add_subcommand("export", "Write every event as JSON lines");
  c->add_option("--to", exp->to, "Output file (default: stdout)");
  c->add_flag("--no-progress", exp->no_progress,
              "Do not report progress on stderr (never drawn when the events go to a terminal)");
  c->callback([=, &flags] { *action = [=, &flags] { return RunExport(flags, *exp); }; });

  auto imp = std::make_shared<ImportArgs>();
  c = app.add_subcommand("import", "Read events from JSON lines (as written by export) into the store");
  c->add_option("--from", imp->from, "Input file (default: stdin)");
  c->add_option("--batch", imp->batch, "Events per transaction (default 1000)")->check(CLI::PositiveNumber);
  c->add_flag("--allow-append", imp->allow_append,
              "If the store cannot import verbatim, append instead (new timestamps and positions)");
  c->add_flag("--no-progress", imp->no_progress, "Do not report progress on stderr");
  c->callback([=, &flags] { *action = [=, &flags] { return RunImport(flags, *imp); }; });
}

}  // namespace estoria::cli
