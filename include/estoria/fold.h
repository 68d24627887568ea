// estoria/fold.h: on-demand projections (the seed's "simple projection"): run a
// handler over the events of one stream, or over a range of the global log.
//
//   AccountView view;
//   Status st = estoria::FoldStream(*events, estoria::TypeId("account", id),
//                                   [&](const estoria::Event& e) { view.Apply(e); });
//
// A handler returns void, or a Status: a non-OK Status stops the fold and is
// returned. An exception thrown by a handler stops the fold and becomes Internal.
// With continue_on_error, a handler error or exception is counted instead and
// the fold goes on; the counts, the first error and the last event reached are
// reported in a FoldResult:
//
//   estoria::FoldResult result;
//   Status st = estoria::FoldAll(*global, handler, {.continue_on_error = true}, &result);
//   // st: OK unless reading failed; result.projected, result.failed, result.first_error
//
// Thread safety: the functions are reentrant; the handler runs on the calling
// thread, once per event, in order. A FoldResult is written by the calling
// thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "estoria/event.h"
#include "estoria/event_store.h"
#include "estoria/status.h"
#include "estoria/upcaster.h"

namespace estoria {

using FoldHandler = std::function<Status(const Event& event)>;

struct FoldStreamOptions {
  // Start after this version (exclusive). Default 0.
  int64_t after_version = 0;
  // Stop after this version (0 = the tip). Default 0.
  int64_t to_version = 0;
  // When set, stop at the first event with timestamp > to_time. Default unset.
  std::optional<Timestamp> to_time = std::nullopt;
  // false (default): the first handler error (or exception) stops the fold and
  // is returned. true: it is counted in FoldResult::failed (the first one kept
  // in first_error) and the fold goes on with the next event.
  bool continue_on_error = false;
  // When set, each event is brought to its type's current schema version
  // (EventUpcasting::Upcast) before the handler sees it, e.g. with an
  // EventSourcedStore's upcasting(). An upcasting error counts as a handler
  // error. Not owned; must outlive the call. Default null: events as stored.
  const EventUpcasting* upcasting = nullptr;
};

struct FoldAllOptions {
  // The range of the global log (GlobalReader::ReadAll). Default: all of it.
  ReadAllOptions read{};
  // As FoldStreamOptions::continue_on_error. Default false.
  bool continue_on_error = false;
  // As FoldStreamOptions::upcasting. Default null.
  const EventUpcasting* upcasting = nullptr;
};

// What a fold did. Filled whether the fold succeeded or not.
struct FoldResult {
  int64_t projected = 0;  // events the handler accepted (returned OK)
  int64_t failed = 0;     // events the handler refused or threw on
  Status first_error;     // the first handler error (OK when failed == 0)
  // The stream version and global position of the last event given to the
  // handler (accepted or not); 0 when none was. A fold that returned OK has
  // covered its range up to here.
  int64_t last_version = 0;
  int64_t last_position = 0;
};

// Folds the events of one stream in version order. Errors: NotFound (stream does
// not exist), InvalidArgument (bad options, an invalid upcaster registration),
// unless continue_on_error: whatever the handler returns, Internal (the handler
// threw) and upcasting errors (Corruption, ...); Unavailable and the reader's
// other errors. When `result` is not null it is reset, then filled.
Status FoldStream(StreamReader& reader, const TypeId& stream_id, const FoldHandler& handler,
                  const FoldStreamOptions& options = {}, FoldResult* result = nullptr);

// Folds a range of the global log (ReadAll with `options`) in position order.
// Errors: InvalidArgument (bad options), whatever the handler returns, Internal
// (the handler threw), Unavailable and the reader's other errors.
Status FoldAll(GlobalReader& reader, const FoldHandler& handler, const ReadAllOptions& options = {});
// The same with FoldAllOptions (continue_on_error) and a result (may be null;
// reset, then filled). Errors as above; handler errors only without
// continue_on_error.
Status FoldAll(GlobalReader& reader, const FoldHandler& handler, const FoldAllOptions& options, FoldResult* result);

// Overloads for handlers returning void.
template <typename F>
requires std::is_void_v<std::invoke_result_t<F&, const Event&>> Status FoldStream(StreamReader& reader,
                                                                                  const TypeId& stream_id, F&& handler,
                                                                                  const FoldStreamOptions& options = {},
                                                                                  FoldResult* result = nullptr) {
  return FoldStream(reader, stream_id, FoldHandler([&handler](const Event& e) {
                      handler(e);
                      return Status::Ok();
                    }),
                    options, result);
}
template <typename F>
requires std::is_void_v<std::invoke_result_t<F&, const Event&>> Status FoldAll(GlobalReader& reader, F&& handler,
                                                                               const ReadAllOptions& options = {}) {
  return FoldAll(reader, FoldHandler([&handler](const Event& e) {
                   handler(e);
                   return Status::Ok();
                 }),
                 options);
}
template <typename F>
requires std::is_void_v<std::invoke_result_t<F&, const Event&>> Status FoldAll(GlobalReader& reader, F&& handler,
                                                                               const FoldAllOptions& options,
                                                                               FoldResult* result) {
  return FoldAll(reader, FoldHandler([&handler](const Event& e) {
                   handler(e);
                   return Status::Ok();
                 }),
                 options, result);
}

}  // namespace estoria
