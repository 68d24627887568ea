// estoria/event_store.h: the event store interfaces and their options.
//   EventIterator   a finite sequence of events returned by a read
//   StreamReader    ReadStream
//   StreamWriter    AppendStream, with optimistic concurrency
//   GlobalReader    ReadAll: the global, commit-ordered log (capability)
//   StreamDeleter   DeleteStream: delete or truncate (capability)
//   StreamLister    ListStreams (capability)
//   AppendWatcher   wait for new appends without polling (capability)
//   EventImporter   write already-stored events verbatim: copy, restore (capability)
//   EventStore      a reader + writer that exposes its capabilities
//   EventLimits     the largest event payload and metadata a store accepts
//
// Thread safety: every EventStore implementation is safe for concurrent use from
// many threads. An EventIterator is used from one thread at a time; it owns what
// it needs (built-in iterators share ownership of the backend's internals and hold
// no lock between calls), so it stays valid even if the store object is destroyed
// first.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "estoria/event.h"
#include "estoria/status.h"
#include "estoria/type_id.h"

namespace estoria {

// Durability of acknowledged appends.
enum class Durability {
  kStrict,   // acknowledged = on disk (fsync). The default.
  kRelaxed,  // may lose the last moments on power loss; never corrupts or reorders
};

class EventIterator {
 public:
  virtual ~EventIterator() = default;
  // The next event, or std::nullopt at the end. Errors: Unavailable (backend
  // unreachable), Corruption (undecodable row), Internal.
  virtual Result<std::optional<Event>> Next() = 0;
};

// Drains an iterator. Same errors as EventIterator::Next.
Result<std::vector<Event>> Collect(EventIterator& it);

// ---- Append ----------------------------------------------------------------

enum class StreamState {
  kAny,           // no expectation on existence
  kMustNotExist,  // the stream must not exist (never written, or fully deleted)
  kMustExist,     // the stream must exist (version >= 1)
};

struct AppendOptions {
  // When set, the stream's current version must equal it (0 = must not exist
  // or be empty). Default: unset.
  std::optional<int64_t> expect_version{};
  // Existence expectation. Default kAny. Combining with expect_version is
  // InvalidArgument.
  StreamState stream_state = StreamState::kAny;

  static AppendOptions ExpectVersion(int64_t v) { return AppendOptions{v, StreamState::kAny}; }
  static AppendOptions MustNotExist() { return AppendOptions{std::nullopt, StreamState::kMustNotExist}; }
  static AppendOptions MustExist() { return AppendOptions{std::nullopt, StreamState::kMustExist}; }
};

// ---- Limits ------------------------------------------------------------------

// The default limits of the built-in backends (NATS uses a lower data default,
// see estoria/nats/nats_event_store.h).
inline constexpr int64_t kDefaultMaxEventDataBytes = int64_t{1} << 20;       // 1 MiB
inline constexpr int64_t kDefaultMaxEventMetadataBytes = int64_t{64} << 10;  // 64 KiB

// The largest event a store accepts, set per store in each backend's options
// (and URI options max_event_data_bytes / max_event_metadata_bytes). An event's
// data size is data.size(); its metadata size is the sum of the bytes of every
// key and value (reserved "estoria." entries included). Appends and imports
// holding an event over a limit are refused whole (InvalidArgument) before
// anything is written.
struct EventLimits {
  int64_t max_event_data_bytes = kDefaultMaxEventDataBytes;
  int64_t max_event_metadata_bytes = kDefaultMaxEventMetadataBytes;
  friend bool operator==(const EventLimits&, const EventLimits&) = default;
};

class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  // Appends all events atomically, or none, at versions tip+1.. with no gaps.
  // Returns the events exactly as a later read returns them.
  // Errors:
  //  InvalidArgument  empty list, invalid stream id or event type, reserved
  //                   metadata key, both expectation kinds, negative version,
  //                   an event id reused other than as an exact re-append,
  //                   an event whose data or metadata is larger than the
  //                   store's EventLimits (the message names the event index,
  //                   its size and the limit; nothing of the append is written)
  //  Conflict         an expectation failed (conflict() carries the details)
  //  AlreadyExists    every event id was already appended, in this order, to this
  //                   stream (idempotent retry); nothing is written
  //  Unavailable      the backend is unreachable or busy past its timeout
  //  Internal         anything else
  virtual Result<std::vector<Event>> AppendStream(const TypeId& stream_id, std::span<const WritableEvent> events,
                                                  const AppendOptions& options = {}) = 0;
};

// ---- Read a stream ---------------------------------------------------------

enum class Direction { kForward, kBackward };

struct ReadStreamOptions {
  // Default kForward.
  Direction direction = Direction::kForward;
  // Forward: start after this version (exclusive). Backward: start at this
  // version (inclusive upper bound), 0 = the tip. Default 0. Negative is
  // InvalidArgument.
  int64_t after_version = 0;
  // Maximum number of events; 0 = all. Default 0. Negative is InvalidArgument.
  int64_t count = 0;
};

class StreamReader {
 public:
  virtual ~StreamReader() = default;
  // Errors: NotFound when the stream does not exist (never written or fully
  // deleted); reading past the tip, or a stream truncated to empty, yields an
  // empty iterator. InvalidArgument for bad options, Unavailable, Internal.
  virtual Result<std::unique_ptr<EventIterator>> ReadStream(const TypeId& stream_id,
                                                            const ReadStreamOptions& options = {}) = 0;
};

// ---- Read the global log -------------------------------------------------

struct ReadAllOptions {
  // Start after this global position (exclusive). Default 0.
  int64_t after_position = 0;
  // Maximum number of events; 0 = all. Default 0.
  int64_t count = 0;
  // When non-empty, only events of streams of these types. Default: all.
  std::vector<std::string> stream_types{};
  // When non-empty, only events of these types. Default: all.
  std::vector<std::string> event_types{};
};

class GlobalReader {
 public:
  virtual ~GlobalReader() = default;
  // All streams in ascending global position. Guarantees:
  //  finite read:   appends committed after ReadAll returns are not yielded;
  //  stable prefix: once position P is yielded, no later commit lands at or
  //                 below P. Gaps appear only where events were deleted.
  // Errors: InvalidArgument for negative after_position/count, Unavailable,
  // Internal.
  virtual Result<std::unique_ptr<EventIterator>> ReadAll(const ReadAllOptions& options = {}) = 0;
  // The highest committed global position (0 when empty). Unavailable, Internal.
  virtual Result<int64_t> HeadPosition() = 0;
};

// ---- Delete ------------------------------------------------------------------

struct DeleteStreamOptions {
  // Unset (default): delete the whole stream; its id may be reused from
  // version 1. Set: truncate, deleting events with version <= to_version; later
  // events keep their versions and appends continue from the old tip.
  std::optional<int64_t> to_version{};
};

class StreamDeleter {
 public:
  virtual ~StreamDeleter() = default;
  // Deleted events disappear from ReadStream and ReadAll; survivors keep their
  // positions. Errors: NotFound for a stream never written (or already fully
  // deleted); InvalidArgument for to_version < 0; Unavailable; Internal.
  virtual Status DeleteStream(const TypeId& stream_id, const DeleteStreamOptions& options = {}) = 0;
};

// ---- List streams -----------------------------------------------------------

struct StreamInfo {
  TypeId stream_id{};
  int64_t version = 0;         // the tip version (survives truncation)
  Timestamp last_timestamp{};  // timestamp of the last append
  friend bool operator==(const StreamInfo&, const StreamInfo&) = default;
};

struct ListStreamsOptions {
  // Only streams of this type. Default: all.
  std::string stream_type{};
  // Streams ordered by id text; start after this id text (exclusive). Default "".
  std::string after{};
  // Maximum number of streams; 0 = all. Default 0.
  int64_t limit = 0;
};

class StreamLister {
 public:
  virtual ~StreamLister() = default;
  // Existing streams ordered by id text. Errors: InvalidArgument, Unavailable,
  // Internal.
  virtual Result<std::vector<StreamInfo>> ListStreams(const ListStreamsOptions& options = {}) = 0;
};

// ---- Wait for appends ------------------------------------------------------

class AppendWatcher {
 public:
  virtual ~AppendWatcher() = default;
  // Blocks until the store knows of a committed global position greater than
  // after_position, or until timeout. Returns the highest position known (which
  // may be <= after_position on timeout). Appends made through this store object
  // wake waiters at once; a backend may also be woken by other processes
  // (PostgreSQL LISTEN/NOTIFY). Errors: Unavailable, Internal.
  virtual Result<int64_t> WaitForAppend(int64_t after_position, std::chrono::milliseconds timeout) = 0;
};

// ---- Import stored events verbatim ----------------------------------------

struct ImportOptions {
  // false (default): global positions are assigned head+1, head+2, ... in the
  // order given, ignoring Event::global_position.
  // true: each event keeps its global_position; they must be strictly increasing
  // and above the current head (gaps are kept, as where the source had deleted
  // events). A backend that cannot do this returns NotSupported.
  bool preserve_positions = false;
};

class EventImporter {
 public:
  virtual ~EventImporter() = default;
  // Writes events read from another store exactly as they are: event ids and
  // types, stream ids, stream versions, timestamps, content types, payloads and
  // metadata (reserved "estoria." keys included). Used by copy, restore and
  // migration tools; applications append with AppendStream. Atomic: all events
  // are written, or none. Within a stream, versions must continue the target's
  // tip (tip + 1, tip + 2, ...); a stream new to the target may start at any
  // version >= 1 (a truncated source stream). Appended events wake AppendWatcher
  // waiters like appends do. Returns the positions assigned, in order.
  // Errors:
  //  InvalidArgument  invalid ids or types, a version that does not continue its
  //                   stream, positions not increasing when preserved, an event
  //                   over the store's EventLimits
  //  AlreadyExists    an event id is already stored (nothing is written)
  //  NotSupported     preserve_positions requested but unsupported
  //  Unavailable      the backend is unreachable or busy past its timeout
  //  Internal         anything else
  virtual Result<std::vector<int64_t>> ImportEvents(std::span<const Event> events,
                                                    const ImportOptions& options = {}) = 0;
};

// ---- The store ---------------------------------------------------------------

class EventStore : public StreamReader, public StreamWriter {
 public:
  // Capabilities: null when unsupported. The pointers live as long as the store.
  virtual GlobalReader* global_reader() { return nullptr; }
  virtual StreamDeleter* stream_deleter() { return nullptr; }
  virtual StreamLister* stream_lister() { return nullptr; }
  virtual AppendWatcher* append_watcher() { return nullptr; }
  virtual EventImporter* event_importer() { return nullptr; }
  // The limits this store enforces on appends and imports. The default
  // implementation returns the default limits; a backend returns the ones it
  // was configured with (the conformance suite checks that they hold).
  virtual EventLimits event_limits() const { return EventLimits{}; }
};

}  // namespace estoria
