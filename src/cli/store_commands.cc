// streams, read, read-all (--follow), append and delete.
#include <atomic>
#include <csignal>
#include <iostream>
#include <thread>

#include "commands.h"
#include "estoria/open.h"
#include "event_json.h"
#include "printer.h"

namespace estoria::cli {
namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void OnInterrupt(int) { g_interrupted.store(true); }

Result<TypeId> ParseStreamId(const std::string& text) {
  auto id = TypeId::Parse(text);
  if (!id) return id.error().WithContext("invalid stream id \"" + text + "\"");
  return id;
}

Status PrintAll(EventIterator& it, Printer& printer, int64_t* last_position = nullptr) {
  while (true) {
    ESTORIA_ASSIGN_OR_RETURN(std::optional<Event> e, it.Next());
    if (!e) return Status::Ok();
    ESTORIA_RETURN_IF_ERROR(printer.PrintEvent(*e));
    if (last_position) *last_position = e->global_position;
  }
}

struct StreamsArgs {
  std::string type;
  int64_t limit = 0;
};

Status RunStreams(const GlobalFlags& flags, const StreamsArgs& args) {
  ESTORIA_ASSIGN_OR_RETURN(auto store, OpenStore(flags));
  StreamLister* lister = store->stream_lister();
  if (!lister) return Status::NotSupported("this store cannot list streams");
  Printer printer(std::cout, flags.json);
  ListStreamsOptions options;
  options.stream_type = args.type;
  int64_t printed = 0;
  // Page through the streams so that huge stores do not load every row at once.
  while (true) {
    options.limit = 1000;
    if (args.limit > 0) options.limit = std::min<int64_t>(options.limit, args.limit - printed);
    ESTORIA_ASSIGN_OR_RETURN(std::vector<StreamInfo> page, lister->ListStreams(options));
    for (const StreamInfo& s : page) printer.PrintStream(s);
    printed += static_cast<int64_t>(page.size());
    if (page.size() < static_cast<size_t>(options.limit) || (args.limit > 0 && printed >= args.limit)) break;
    options.after = page.back().stream_id.ToString();
  }
  if (printed == 0) printer.PrintMessage("(no streams)");
  return Status::Ok();
}

struct ReadArgs {
  std::string stream;
  bool reverse = false;
  int64_t after = 0;
  int64_t count = 0;
};

Status RunRead(const GlobalFlags& flags, const ReadArgs& args) {
  ESTORIA_ASSIGN_OR_RETURN(TypeId id, ParseStreamId(args.stream));
  ESTORIA_ASSIGN_OR_RETURN(auto store, OpenStore(flags));
  ReadStreamOptions options;
  options.direction = args.reverse ? Direction::kBackward : Direction::kForward;
  options.after_version = args.after;
  options.count = args.count;
  ESTORIA_ASSIGN_OR_RETURN(auto it, store->ReadStream(id, options));
  Printer printer(std::cout, flags.json);
  return PrintAll(*it, printer);
}

struct ReadAllArgs {
  int64_t after = 0;
  int64_t count = 0;
  std::vector<std::string> types;
  std::vector<std::string> event_types;
  bool follow = false;
  int64_t poll_ms = 500;
};

Status RunReadAll(const GlobalFlags& flags, const ReadAllArgs& args) {
  ESTORIA_ASSIGN_OR_RETURN(auto store, OpenStore(flags));
  GlobalReader* reader = store->global_reader();
  if (!reader) return Status::NotSupported("this store has no global log (ReadAll)");
  Printer printer(std::cout, flags.json);
  ReadAllOptions options;
  options.after_position = args.after;
  options.count = args.count;
  options.stream_types = args.types;
  options.event_types = args.event_types;
  if (!args.follow) {
    ESTORIA_ASSIGN_OR_RETURN(auto it, reader->ReadAll(options));
    return PrintAll(*it, printer);
  }
  // --follow: read what is there, then wait for appends (AppendWatcher, or
  // polling) until SIGINT/SIGTERM or --count events have been printed.
  printer.set_flush_each(true);
  std::signal(SIGINT, OnInterrupt);
  std::signal(SIGTERM, OnInterrupt);
  AppendWatcher* watcher = store->append_watcher();
  int64_t cursor = args.after;
  int64_t printed = 0;
  const auto wait = std::chrono::milliseconds(args.poll_ms);
  while (!g_interrupted.load()) {
    ESTORIA_ASSIGN_OR_RETURN(int64_t head, reader->HeadPosition());
    options.after_position = cursor;
    options.count = args.count > 0 ? args.count - printed : 0;
    ESTORIA_ASSIGN_OR_RETURN(auto it, reader->ReadAll(options));
    int64_t last = cursor;
    while (!g_interrupted.load()) {
      ESTORIA_ASSIGN_OR_RETURN(std::optional<Event> e, it->Next());
      if (!e) break;
      ESTORIA_RETURN_IF_ERROR(printer.PrintEvent(*e));
      last = e->global_position;
      ++printed;
    }
    if (args.count > 0 && printed >= args.count) break;
    // Filtered-out events up to the head seen before the read are skipped too.
    cursor = std::max(last, head);
    if (watcher) {
      ESTORIA_ASSIGN_OR_RETURN(int64_t known, watcher->WaitForAppend(cursor, wait));
      (void)known;
    } else {
      // No push signal: poll in short slices so that SIGINT stays prompt.
      for (auto slept = std::chrono::milliseconds(0); slept < wait && !g_interrupted.load();
           slept += std::chrono::milliseconds(20)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }
  return Status::Ok();
}

struct AppendArgs {
  std::string stream;
  std::string type;
  std::string data;
  std::string metadata;
  std::string content_type = std::string(kJsonContentType);
  std::optional<int64_t> expect_version;
  bool no_stream = false;
};

Status RunAppend(const GlobalFlags& flags, const AppendArgs& args) {
  ESTORIA_ASSIGN_OR_RETURN(TypeId id, ParseStreamId(args.stream));
  WritableEvent event;
  event.type = args.type;
  event.content_type = args.content_type;
  if (backend::IsJsonContentType(args.content_type)) {
    ESTORIA_ASSIGN_OR_RETURN(event.data, NormalizeJson(args.data, "--data"));
  } else {
    event.data = args.data;
  }
  if (!args.metadata.empty()) {
    ESTORIA_ASSIGN_OR_RETURN(event.metadata, ParseMetadata(args.metadata));
  }
  AppendOptions options;
  if (args.expect_version) options = AppendOptions::ExpectVersion(*args.expect_version);
  if (args.no_stream) options = AppendOptions::MustNotExist();
  ESTORIA_ASSIGN_OR_RETURN(auto store, OpenStore(flags));
  ESTORIA_ASSIGN_OR_RETURN(std::vector<Event> written, store->AppendStream(id, std::span(&event, 1), options));
  Printer printer(std::cout, flags.json);
  for (const Event& e : written) ESTORIA_RETURN_IF_ERROR(printer.PrintEvent(e));
  return Status::Ok();
}

struct DeleteArgs {
  std::string stream;
  std::optional<int64_t> to_version;
};

Status RunDelete(const GlobalFlags& flags, const DeleteArgs& args) {
  ESTORIA_ASSIGN_OR_RETURN(TypeId id, ParseStreamId(args.stream));
  ESTORIA_ASSIGN_OR_RETURN(auto store, OpenStore(flags));
  StreamDeleter* deleter = store->stream_deleter();
  if (!deleter) return Status::NotSupported("this store cannot delete streams");
  DeleteStreamOptions options;
  options.to_version = args.to_version;
  ESTORIA_RETURN_IF_ERROR(deleter->DeleteStream(id, options));
  Printer printer(std::cout, flags.json);
  Json j;
  j["stream_id"] = id.ToString();
  if (args.to_version) {
    j["deleted"] = "truncated";
    j["to_version"] = *args.to_version;
  } else {
    j["deleted"] = "stream";
  }
  printer.PrintObject(j);
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<EventStore>> OpenStore(const GlobalFlags& flags) {
  if (flags.store.empty()) {
    return Status::InvalidArgument(
        "no store given: pass --store URI (memory:, sqlite:PATH, postgres://..., nats://...)");
  }
  auto store = OpenEventStore(flags.store);
  if (!store) return store.error().WithContext("cannot open store " + flags.store);
  return store;
}

void AddStoreCommands(CLI::App& app, const GlobalFlags& flags, Action* action) {
  auto streams = std::make_shared<StreamsArgs>();
  auto* c = app.add_subcommand("streams", "List streams with their type, version and last timestamp");
  c->add_option("--type", streams->type, "Only streams of this type");
  c->add_option("--limit", streams->limit, "At most N streams (0 = all)")->check(CLI::NonNegativeNumber);
  c->callback([=, &flags] { *action = [=, &flags] { return RunStreams(flags, *streams); }; });

  auto read = std::make_shared<ReadArgs>();
  c = app.add_subcommand("read", "Read the events of one stream");
  c->add_option("STREAM_ID", read->stream, "Stream id, e.g. account_0190f1c2-...")->required();
  c->add_flag("--reverse", read->reverse, "Newest first");
  c->add_option("--after", read->after, "Forward: after this version; reverse: at or below it (0 = tip)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--count", read->count, "At most N events (0 = all)")->check(CLI::NonNegativeNumber);
  c->callback([=, &flags] { *action = [=, &flags] { return RunRead(flags, *read); }; });

  auto all = std::make_shared<ReadAllArgs>();
  c = app.add_subcommand("read-all", "Read the global log in position order");
  c->add_option("--after", all->after, "After this global position")->check(CLI::NonNegativeNumber);
  c->add_option("--count", all->count, "At most N events (0 = all)")->check(CLI::NonNegativeNumber);
  c->add_option("--type", all->types, "Only streams of this type (repeatable)");
  c->add_option("--event-type", all->event_types, "Only events of this type (repeatable)");
  c->add_flag("--follow,-f", all->follow, "Keep tailing new events until interrupted");
  c->add_option("--poll-ms", all->poll_ms, "--follow: longest wait between checks, in ms (default 500)")
      ->check(CLI::PositiveNumber);
  c->callback([=, &flags] { *action = [=, &flags] { return RunReadAll(flags, *all); }; });

  auto append = std::make_shared<AppendArgs>();
  c = app.add_subcommand("append", "Append one event to a stream");
  c->add_option("STREAM_ID", append->stream, "Stream id")->required();
  c->add_option("--type", append->type, "Event type")->required();
  c->add_option("--data", append->data, "Payload (JSON unless --content-type says otherwise)")->required();
  c->add_option("--metadata", append->metadata, "Metadata: a JSON object of strings");
  c->add_option("--content-type", append->content_type, "Payload content type (default application/json)");
  auto* ev = c->add_option("--expect-version", append->expect_version, "The stream must be at this version")
                 ->check(CLI::NonNegativeNumber);
  c->add_flag("--no-stream", append->no_stream, "The stream must not exist yet")->excludes(ev);
  c->callback([=, &flags] { *action = [=, &flags] { return RunAppend(flags, *append); }; });

  auto del = std::make_shared<DeleteArgs>();
  c = app.add_subcommand("delete", "Delete a stream, or truncate it with --to-version");
  c->add_option("STREAM_ID", del->stream, "Stream id")->required();
  c->add_option("--to-version", del->to_version, "Delete only events with version <= N")->check(CLI::NonNegativeNumber);
  c->callback([=, &flags] { *action = [=, &flags] { return RunDelete(flags, *del); }; });
}

}  // namespace estoria::cli
