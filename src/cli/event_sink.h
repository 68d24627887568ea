// estoria cli: EventSink writes batches of stored events (read from another
// store or an export file) into a target store, in order.
//   verbatim: through the target's EventImporter, keeping ids, versions,
//             timestamps, content types, payloads and metadata, and global
//             positions too when `preserve_positions` is asked for and supported;
//   append fallback (only when allowed): through AppendStream with the original
//             event ids and ExpectVersion(version - 1) per stream; ids, versions,
//             content types, payloads and metadata are kept, timestamps and
//             positions are assigned by the target. Events already in the
//             target fail the write (AlreadyExists or Conflict): nothing is
//             written twice. A run of one stream's events that the target
//             refuses as InvalidArgument (e.g. larger than one NATS message)
//             is written in halves, down to single events.
//
// Thread safety: one thread at a time.
#pragma once

#include <span>

#include "estoria/event_store.h"

namespace estoria::cli {

class EventSink {
 public:
  // NotSupported when the target has no EventImporter and !allow_append.
  static Result<EventSink> Make(EventStore& target, bool preserve_positions, bool allow_append);

  // Writes one batch atomically (verbatim mode) or stream run by stream run
  // (append mode). Errors from the target, with the failing event named.
  Status Write(std::span<const Event> batch);

  bool verbatim() const { return importer_ != nullptr; }
  bool positions_preserved() const { return preserve_; }

 private:
  EventSink(EventStore& target, EventImporter* importer, bool preserve)
      : target_(&target), importer_(importer), preserve_(preserve) {}
  Status Append(std::span<const Event> batch);
  // One stream's consecutive events, in as few appends as the target takes.
  Status AppendRun(std::span<const Event> run);

  EventStore* target_;
  EventImporter* importer_;
  bool preserve_;
};

}  // namespace estoria::cli
