// estoria cli: CopyStore copies every event of a source store into a target
// store in global-position order, in atomic batches, so that the target always
// holds a prefix of the source. It is resumable: when the target is not empty,
// its last event is looked up in the source (same stream, version and id) and
// the copy continues after that event's source position, so rerunning an
// interrupted copy finishes it without duplicates. A target holding anything
// else is refused (FailedPrecondition).
//
// Thread safety: one call at a time per target.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "estoria/event_store.h"

namespace estoria::cli {

struct CopyOptions {
  // Events per target transaction. Default 1000.
  int64_t batch = 1000;
  // Fall back to AppendStream when the target has no EventImporter. Default false.
  bool allow_append = false;
  // Limit the copy to about this many events per second (to spare a busy
  // production database); 0 = no limit. Default 0.
  int64_t max_events_per_sec = 0;
  // Called after each batch with (events copied so far, estimated total).
  std::function<void(int64_t, int64_t)> on_progress;
};

struct CopyReport {
  int64_t copied = 0;         // events written by this run
  int64_t resumed_after = 0;  // source position the run started after
  int64_t source_head = 0;    // source head position when the run started
  bool verbatim = false;      // written through EventImporter
  bool positions_preserved = false;
};

// Errors: NotSupported (source without ReadAll, target without ReadAll or
// without EventImporter unless allow_append), FailedPrecondition (target holds
// events that are not a copied prefix of the source), and any read/write error.
Result<CopyReport> CopyStore(EventStore& source, EventStore& target, const CopyOptions& options);

// The last live event of a store (highest position), or nullopt when it has
// none. Errors from ReadAll.
Result<std::optional<Event>> LastEvent(GlobalReader& reader);

}  // namespace estoria::cli
