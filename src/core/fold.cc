#include "estoria/fold.h"

#include <exception>
#include <memory>
#include <string>

namespace estoria {
namespace {

Status RunHandler(const FoldHandler& handler, const Event& event) {
  try {
    return handler(event);
  } catch (const std::exception& e) {
    return Status::Internal("fold handler threw at " + event.stream_id.ToString() + " version " +
                            std::to_string(event.stream_version) + ": " + e.what());
  } catch (...) {
    return Status::Internal("fold handler threw an unknown exception at " + event.stream_id.ToString() + " version " +
                            std::to_string(event.stream_version));
  }
}

// Runs the handler on one event and counts the outcome. Returns the error that
// stops the fold (a handler error without continue_on_error), else OK.
Status Project(const FoldHandler& handler, Event& event, const EventUpcasting* upcasting, bool continue_on_error,
               FoldResult& result) {
  result.last_version = event.stream_version;
  result.last_position = event.global_position;
  Status st;
  if (upcasting != nullptr) {
    st = upcasting->Upcast(event);
    if (!st.ok()) {
      st = st.WithContext("fold: upcasting " + event.stream_id.ToString() + " version " +
                          std::to_string(event.stream_version));
    }
  }
  if (st.ok()) st = RunHandler(handler, event);
  if (st.ok()) {
    ++result.projected;
    return st;
  }
  ++result.failed;
  if (result.first_error.ok()) result.first_error = st;
  return continue_on_error ? Status::Ok() : st;
}

}  // namespace

Status FoldStream(StreamReader& reader, const TypeId& stream_id, const FoldHandler& handler,
                  const FoldStreamOptions& options, FoldResult* result) {
  FoldResult local;
  FoldResult& out = result != nullptr ? *result : local;
  out = FoldResult{};
  if (!handler) return Status::InvalidArgument("FoldStream: null handler");
  if (options.upcasting) ESTORIA_RETURN_IF_ERROR(options.upcasting->upcasters.status().WithContext("FoldStream"));
  if (options.after_version < 0 || options.to_version < 0) {
    return Status::InvalidArgument("FoldStream: negative after_version or to_version");
  }
  if (options.to_version != 0 && options.to_version <= options.after_version) return Status::Ok();
  ReadStreamOptions read;
  read.after_version = options.after_version;
  if (options.to_version != 0) read.count = options.to_version - options.after_version;
  auto it = reader.ReadStream(stream_id, read);
  if (!it) return it.error().WithContext("FoldStream " + stream_id.ToString());
  for (;;) {
    auto next = (*it)->Next();
    if (!next) return next.error().WithContext("FoldStream " + stream_id.ToString());
    if (!next->has_value()) return Status::Ok();
    if (options.to_time && (*next)->timestamp > *options.to_time) return Status::Ok();
    ESTORIA_RETURN_IF_ERROR(Project(handler, **next, options.upcasting, options.continue_on_error, out));
  }
}

Status FoldAll(GlobalReader& reader, const FoldHandler& handler, const FoldAllOptions& options, FoldResult* result) {
  FoldResult local;
  FoldResult& out = result != nullptr ? *result : local;
  out = FoldResult{};
  if (!handler) return Status::InvalidArgument("FoldAll: null handler");
  if (options.upcasting) ESTORIA_RETURN_IF_ERROR(options.upcasting->upcasters.status().WithContext("FoldAll"));
  auto it = reader.ReadAll(options.read);
  if (!it) return it.error().WithContext("FoldAll");
  for (;;) {
    auto next = (*it)->Next();
    if (!next) return next.error().WithContext("FoldAll");
    if (!next->has_value()) return Status::Ok();
    ESTORIA_RETURN_IF_ERROR(Project(handler, **next, options.upcasting, options.continue_on_error, out));
  }
}

Status FoldAll(GlobalReader& reader, const FoldHandler& handler, const ReadAllOptions& options) {
  return FoldAll(reader, handler, FoldAllOptions{.read = options}, nullptr);
}

}  // namespace estoria
