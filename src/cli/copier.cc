#include "copier.h"

#include <thread>
#include <vector>

#include "event_sink.h"

namespace estoria::cli {

Result<std::optional<Event>> LastEvent(GlobalReader& reader) {
  ESTORIA_ASSIGN_OR_RETURN(int64_t head, reader.HeadPosition());
  // Positions may have gaps where events were deleted: widen the window until a
  // live event shows up.
  for (int64_t window = 1;; window *= 16) {
    int64_t after = std::max<int64_t>(0, head - window);
    ReadAllOptions options;
    options.after_position = after;
    ESTORIA_ASSIGN_OR_RETURN(auto it, reader.ReadAll(options));
    std::optional<Event> last;
    while (true) {
      ESTORIA_ASSIGN_OR_RETURN(std::optional<Event> e, it->Next());
      if (!e) break;
      last = std::move(e);
    }
    if (last || after == 0) return last;
  }
}

namespace {

// Where to resume: the source position of the target's last event.
struct ResumePoint {
  int64_t after = 0;
  bool preserve_positions = false;
};

Result<ResumePoint> FindResumePoint(EventStore& source, GlobalReader& target) {
  ESTORIA_ASSIGN_OR_RETURN(int64_t head, target.HeadPosition());
  if (head == 0) return ResumePoint{0, true};
  ESTORIA_ASSIGN_OR_RETURN(std::optional<Event> last, LastEvent(target));
  if (!last) return ResumePoint{0, false};  // everything deleted: nothing to match
  ReadStreamOptions options;
  options.after_version = last->stream_version - 1;
  options.count = 1;
  auto refuse = [&] {
    return Status::FailedPrecondition("the target store is not empty and its last event (" + last->id.ToString() +
                                      " in " + last->stream_id.ToString() +
                                      ") is not in the source: copy into an empty store, or resume a copy "
                                      "from the same source");
  };
  auto it = source.ReadStream(last->stream_id, options);
  if (!it) {
    if (it.error().IsNotFound()) return refuse();
    return it.error();
  }
  ESTORIA_ASSIGN_OR_RETURN(std::optional<Event> match, (*it)->Next());
  if (!match || match->id != last->id || match->stream_version != last->stream_version) return refuse();
  return ResumePoint{match->global_position, match->global_position == last->global_position};
}

}  // namespace

Result<CopyReport> CopyStore(EventStore& source, EventStore& target, const CopyOptions& options) {
  GlobalReader* reader = source.global_reader();
  if (!reader) return Status::NotSupported("the source store has no global log (ReadAll)");
  GlobalReader* target_reader = target.global_reader();
  if (!target_reader) return Status::NotSupported("the target store has no global log (ReadAll) to resume from");
  ESTORIA_ASSIGN_OR_RETURN(ResumePoint resume, FindResumePoint(source, *target_reader));
  ESTORIA_ASSIGN_OR_RETURN(EventSink sink, EventSink::Make(target, resume.preserve_positions, options.allow_append));

  CopyReport report;
  report.resumed_after = resume.after;
  ESTORIA_ASSIGN_OR_RETURN(report.source_head, reader->HeadPosition());
  const int64_t estimate = std::max<int64_t>(0, report.source_head - resume.after);
  ReadAllOptions read;
  read.after_position = resume.after;
  ESTORIA_ASSIGN_OR_RETURN(auto it, reader->ReadAll(read));
  std::vector<Event> batch;
  const size_t batch_size = static_cast<size_t>(std::max<int64_t>(1, options.batch));
  batch.reserve(batch_size);
  const auto start = std::chrono::steady_clock::now();
  auto flush = [&]() -> Status {
    ESTORIA_RETURN_IF_ERROR(sink.Write(batch));
    report.copied += static_cast<int64_t>(batch.size());
    batch.clear();
    if (options.max_events_per_sec > 0) {
      std::this_thread::sleep_until(start +
                                    std::chrono::microseconds(report.copied * 1'000'000 / options.max_events_per_sec));
    }
    if (options.on_progress) options.on_progress(report.copied, estimate);
    return Status::Ok();
  };
  while (true) {
    ESTORIA_ASSIGN_OR_RETURN(std::optional<Event> e, it->Next());
    if (!e) break;
    batch.push_back(std::move(*e));
    if (batch.size() >= batch_size) ESTORIA_RETURN_IF_ERROR(flush());
  }
  ESTORIA_RETURN_IF_ERROR(flush());
  report.verbatim = sink.verbatim();
  report.positions_preserved = sink.positions_preserved();
  return report;
}

}  // namespace estoria::cli
