#include "event_sink.h"

#include "reserved_metadata.h"

namespace estoria::cli {

Result<EventSink> EventSink::Make(EventStore& target, bool preserve_positions, bool allow_append) {
  EventImporter* importer = target.event_importer();
  if (!importer && !allow_append) {
    return Status::NotSupported(
        "the target store cannot import events verbatim (no EventImporter); pass --allow-append to "
        "append them instead (timestamps and positions are then assigned by the target)");
  }
  return EventSink(target, importer, importer != nullptr && preserve_positions);
}

Status EventSink::Write(std::span<const Event> batch) {
  if (batch.empty()) return Status::Ok();
  if (!importer_) return Append(batch);
  ImportOptions options;
  options.preserve_positions = preserve_;
  auto imported = importer_->ImportEvents(batch, options);
  if (!imported && preserve_ && imported.error().IsNotSupported()) {
    preserve_ = false;  // the backend assigns positions itself
    options.preserve_positions = false;
    imported = importer_->ImportEvents(batch, options);
  }
  if (!imported) {
    return imported.error().WithContext("importing events from position " +
                                        std::to_string(batch.front().global_position));
  }
  return Status::Ok();
}

Status EventSink::Append(std::span<const Event> batch) {
  size_t i = 0;
  while (i < batch.size()) {
    size_t j = i + 1;
    while (j < batch.size() && batch[j].stream_id == batch[i].stream_id &&
           batch[j].stream_version == batch[j - 1].stream_version + 1) {
      ++j;
    }
    ESTORIA_RETURN_IF_ERROR(AppendRun(batch.subspan(i, j - i)));
    i = j;
  }
  return Status::Ok();
}

Status EventSink::AppendRun(std::span<const Event> run) {
  std::vector<WritableEvent> events;
  events.reserve(run.size());
  for (const Event& e : run) events.push_back(WritableEvent{e.type(), e.id.uuid(), e.data, e.content_type, e.metadata});
  // A copy keeps reserved "estoria." metadata keys: the library's internal append path.
  internal::AllowReservedMetadata allow;
  auto written = target_->AppendStream(run.front().stream_id, events,
                                       AppendOptions::ExpectVersion(run.front().stream_version - 1));
  if (!written && written.error().IsInvalidArgument() && run.size() > 1) {
    // Some backends bound one append (NATS: the server's max_payload), and a run
    // need not be one append: write it in halves, in order, so that the target
    // still holds a prefix of the source if one half fails.
    const size_t half = run.size() / 2;
    ESTORIA_RETURN_IF_ERROR(AppendRun(run.first(half)));
    return AppendRun(run.subspan(half));
  }
  if (!written) {
    return written.error().WithContext("appending " + run.front().stream_id.ToString() + " version " +
                                       std::to_string(run.front().stream_version));
  }
  return Status::Ok();
}

}  // namespace estoria::cli
