// estoria/fold.h: on-demand projections (the seed's "simple projection"): run a
// handler over the events of one stream, or over a range of the global log.
//
//   AccountView view;
//   Status st = estoria::FoldStream(*events, estoria::TypeId("account", id),
//                                   [&](const estoria::Event& e) { view.Apply(e); });
//
// A handler returns void, or a Status: a non-OK Status stops the fold and is
// returned. An exception thrown by a handler stops the fold and becomes Internal.
//
// Thread safety: the functions are reentrant; the handler runs on the calling
// thread, once per event, in order.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "estoria/event.h"
#include "estoria/event_store.h"
#include "estoria/status.h"

namespace estoria {

using FoldHandler = std::function<Status(const Event& event)>;

struct FoldStreamOptions {
  // Start after this version (exclusive). Default 0.
  int64_t after_version = 0;
  // Stop after this version (0 = the tip). Default 0.
  int64_t to_version = 0;
  // When set, stop at the first event with timestamp > to_time. Default unset.
  std::optional<Timestamp> to_time = std::nullopt;
};

// Folds the events of one stream in version order. Errors: NotFound (stream does
// not exist), InvalidArgument (bad options), whatever the handler returns,
// Internal (the handler threw), Unavailable and the reader's other errors.
Status FoldStream(StreamReader& reader, const TypeId& stream_id, const FoldHandler& handler,
                  const FoldStreamOptions& options = {});

// Folds a range of the global log (ReadAll with `options`) in position order.
// Errors: InvalidArgument (bad options), whatever the handler returns, Internal
// (the handler threw), Unavailable and the reader's other errors.
Status FoldAll(GlobalReader& reader, const FoldHandler& handler, const ReadAllOptions& options = {});

// Overloads for handlers returning void.
template <typename F>
requires std::is_void_v<std::invoke_result_t<F&, const Event&>> Status
FoldStream(StreamReader& reader, const TypeId& stream_id, F&& handler, const FoldStreamOptions& options = {}) {
  return FoldStream(reader, stream_id, FoldHandler([&handler](const Event& e) {
                      handler(e);
                      return Status::Ok();
                    }),
                    options);
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

}  // namespace estoria
