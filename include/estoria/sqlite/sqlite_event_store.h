// estoria/sqlite/sqlite_event_store.h: SqliteEventStore, the embedded event store
// (one SQLite file, no server) with every capability: GlobalReader (stream-type
// and event-type filters applied in SQL), StreamDeleter, StreamLister,
// AppendWatcher and EventImporter (positions can be preserved).
//
// Mechanism (details at the top of src/sqlite/group_commit_writer.cc):
//  - WAL mode; Durability::kStrict = synchronous FULL, kRelaxed = NORMAL.
//  - Group commit: concurrent appends are queued; one of the appending threads
//    becomes the leader and runs every queued append in ONE transaction
//    (BEGIN IMMEDIATE ... COMMIT, one fsync) on the single write connection.
//    Each append keeps its own expectation check and outcome (a SAVEPOINT per
//    append): one Conflict never fails its neighbours, and a later append in a
//    batch sees the versions written by earlier ones.
//  - Global positions are assigned by the writer inside the transaction, as
//    head+1, head+2, ... (the head read in that transaction): gap-free and in
//    commit order. Deleting events leaves gaps; positions are never reused (a
//    floor kept in the file remembers the head of deleted events).
//  - If a batch cannot commit (lock timeout, disk full, I/O error), every
//    append of the batch fails and nothing of it is written. Disk full is
//    Unavailable with "disk full" in the message; the store stays usable and
//    appends succeed again once space is freed (every append acknowledged
//    before stays readable; tests/sqlite/disk_full_test.cc).
//  - Reads use a small pool of their own connections (WAL snapshots) and never
//    block the writer. ReadAll fixes its frontier (the head) when called and
//    pages with position > cursor AND position <= frontier.
//  - Several processes may open the same file: each batch takes SQLite's write
//    lock (BEGIN IMMEDIATE) and reads the head inside it; a lock held by another
//    process is waited for up to busy_timeout, then the append fails with
//    Unavailable.
//  - sqlite::memory: (path ":memory:") uses a single connection shared by reads
//    and writes (serialised); nothing is persisted.
//
// Thread safety: safe for concurrent use from many threads. Iterators share
// ownership of the store's internals and hold no connection between pages.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "estoria/event_store.h"
#include "estoria/logger.h"

namespace estoria::sqlite {

struct SqliteOptions {
  // Database file; ":memory:" for a private in-memory store. Required.
  std::string path;
  // kStrict (default): synchronous=FULL, an acknowledged append is on disk.
  // kRelaxed: synchronous=NORMAL, the last commits may be lost on power loss.
  Durability durability = Durability::kStrict;
  // How long to wait for a lock held by another process before failing with
  // Unavailable. Default 5 s.
  std::chrono::milliseconds busy_timeout{5000};
  // Where warnings go. Default (null): StderrLogger().
  std::shared_ptr<Logger> logger{};
  // Open read-only: the file is never modified (no schema creation, no WAL
  // switch); appends and deletes fail with FailedPrecondition; the file must
  // exist and carry the current schema. Default false.
  bool read_only = false;
  // Most appends run in one group-commit transaction. Default 1024.
  int max_batch_appends = 1024;
  // The writer checkpoints the WAL into the database file once it holds this
  // many pages (PRAGMA wal_autocheckpoint), after which the WAL is rewritten
  // from its start. A larger value means fewer checkpoints but a longer WAL
  // file, and a WAL that is still growing makes each commit's flush costlier
  // (the file size changes too): bench/RESULTS.md measured 1000 faster than
  // 8192 for strict appends. URI option wal_autocheckpoint=N. Default 1000
  // (SQLite's default).
  int wal_autocheckpoint_pages = 1000;
  // Upper bound on the database file size in pages (PRAGMA max_page_count);
  // appends that would grow the file beyond it fail with Unavailable ("database
  // or disk is full; disk full ...") and write nothing. 0 = SQLite's default (no practical
  // limit). Default 0.
  int64_t max_page_count = 0;
  // Idle read connections kept open (more are opened on demand). Default 8.
  int max_idle_readers = 8;
  // The largest event data and metadata accepted (see EventLimits in
  // event_store.h); each in [1, 1000000000] (SQLite's default maximum string
  // or blob length, SQLITE_MAX_LENGTH). URI options max_event_data_bytes=N and
  // max_event_metadata_bytes=N. Default 1 MiB data, 64 KiB metadata.
  EventLimits event_limits{};
};

// Counters of the write path (monotonic since Open).
struct SqliteStats {
  int64_t appends = 0;    // appends acknowledged OK
  int64_t events = 0;     // events written by those appends
  int64_t batches = 0;    // group-commit transactions run (committed or not)
  int64_t commits = 0;    // group-commit transactions committed
  int64_t max_batch = 0;  // most appends seen in one batch
};

class SqliteEventStore final : public EventStore,
                               public GlobalReader,
                               public StreamDeleter,
                               public StreamLister,
                               public AppendWatcher,
                               public EventImporter {
 public:
  // Opens (creating when missing, unless read_only) the store at options.path.
  // Errors:
  //  InvalidArgument     empty path, missing directory, path is a directory,
  //                      file missing with read_only, bad options (event_limits
  //                      outside their range included)
  //  FailedPrecondition  a read-only file (no write permission bit) opened
  //                      without read_only; a file written by a newer schema
  //                      version (message names both; the file is not
  //                      modified); read_only on a file without the schema
  //  Corruption          not an SQLite database, or a damaged one
  //  Unavailable         locked by another process past busy_timeout
  //  Internal            anything else
  static Result<std::shared_ptr<SqliteEventStore>> Open(SqliteOptions options);
  // Opens by URI: "sqlite:PATH" or "sqlite::memory:", with optional query
  // options "?durability=strict|relaxed&busy_timeout_ms=N&mode=ro|rw&
  // wal_autocheckpoint=N&max_event_data_bytes=N&max_event_metadata_bytes=N".
  // Errors: InvalidArgument for a malformed URI or unknown option; as Open.
  static Result<std::shared_ptr<SqliteEventStore>> OpenUri(std::string_view uri);
  // Parses a URI into options (no I/O). InvalidArgument when malformed.
  static Result<SqliteOptions> ParseUri(std::string_view uri);

  ~SqliteEventStore() override;

  // StreamWriter, StreamReader: statuses as in event_store.h (an event over
  // event_limits is InvalidArgument); appends and
  // deletes on a read-only store return FailedPrecondition; an append or delete
  // on a full disk (or past max_page_count) returns Unavailable with "disk
  // full" in the message and writes nothing.
  Result<std::vector<Event>> AppendStream(const TypeId& stream_id, std::span<const WritableEvent> events,
                                          const AppendOptions& options = {}) override;
  Result<std::unique_ptr<EventIterator>> ReadStream(const TypeId& stream_id,
                                                    const ReadStreamOptions& options = {}) override;
  // GlobalReader. Positions have gaps only where events were deleted.
  Result<std::unique_ptr<EventIterator>> ReadAll(const ReadAllOptions& options = {}) override;
  Result<int64_t> HeadPosition() override;
  // StreamDeleter.
  Status DeleteStream(const TypeId& stream_id, const DeleteStreamOptions& options = {}) override;
  // StreamLister.
  Result<std::vector<StreamInfo>> ListStreams(const ListStreamsOptions& options = {}) override;
  // AppendWatcher: appends through this object wake waiters at once; appends by
  // other processes are seen when the wait times out (callers poll).
  Result<int64_t> WaitForAppend(int64_t after_position, std::chrono::milliseconds timeout) override;

  // EventImporter: one transaction on the write connection (all or none);
  // preserve_positions is supported (gaps are kept). A read-only store returns
  // FailedPrecondition.
  Result<std::vector<int64_t>> ImportEvents(std::span<const Event> events, const ImportOptions& options = {}) override;

  GlobalReader* global_reader() override { return this; }
  StreamDeleter* stream_deleter() override { return this; }
  StreamLister* stream_lister() override { return this; }
  AppendWatcher* append_watcher() override { return this; }
  EventImporter* event_importer() override { return this; }
  EventLimits event_limits() const override;

  // Write-path counters (group commit shows as commits < appends).
  SqliteStats stats() const;
  const SqliteOptions& options() const;

  struct Core;  // implementation detail, shared with iterators
  explicit SqliteEventStore(std::shared_ptr<Core> core);

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace estoria::sqlite
