// estoria ui (internal): what the UI reads from a read-model database (SQLite
// file or PostgreSQL schema) besides the event store: checkpoints, dead letters
// (paged, counted), leases and the failure policy processors record.
//
// Reads are indexed: checkpoints by name, dead letters by (projection,
// global_position) primary key ranges, leases by name.
//
// Thread safety: safe for concurrent use (one connection behind a mutex, plus
// the stores, which are thread-safe themselves).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "estoria/checkpoint_store.h"
#include "estoria/event_store.h"
#include "estoria/projection/dead_letter_store.h"
#include "estoria/projection/rebuild.h"
#include "estoria/status.h"

namespace estoria::ui {

struct LeaseInfo {
  std::string holder;                   // owner text (SQLite) or "pid N (application) from ADDR" (PostgreSQL)
  std::optional<Timestamp> expires_at;  // SQLite leases expire; PostgreSQL advisory locks do not
};

// A projection's lag in time: the age in milliseconds of the oldest event after
// `position` (one indexed ReadAll of one event), 0 when there is none.
// Errors: those of ReadAll.
Result<int64_t> OldestUnhandledAgeMs(GlobalReader& reader, int64_t position);

class ReadModelInfo {
 public:
  virtual ~ReadModelInfo() = default;

  // Opens the read model at `uri` (sqlite:PATH or postgres://...).
  // NotSupported for another scheme (the memory and NATS stores keep no
  // projection state the UI could read; the message names `flag`, the option
  // that chooses the read model); errors of the backends' Open.
  static Result<std::unique_ptr<ReadModelInfo>> Open(const std::string& uri, std::string_view flag = "--read-model");

  virtual CheckpointStore& checkpoints() = 0;
  virtual DeadLetterStore& dead_letters() = 0;
  // Number of parked events of a projection. Unavailable, Internal.
  virtual Result<int64_t> CountDeadLetters(std::string_view projection) = 0;
  // Up to `limit` parked events with position > after, ascending.
  virtual Result<std::vector<DeadLetter>> PageDeadLetters(std::string_view projection, int64_t after,
                                                          int64_t limit) = 0;
  // The current holder of the projection's lease, nullopt when none.
  virtual Result<std::optional<LeaseInfo>> Lease(std::string_view projection) = 0;
  // The failure policy recorded by the projection's processor, nullopt when
  // none was recorded.
  virtual Result<std::optional<std::string>> FailurePolicy(std::string_view projection) = 0;
};

// The RebuildCatalog (versions, checkpoints, rebuild history, version tables)
// of the read model at `uri`. Errors as ReadModelInfo::Open.
Result<std::shared_ptr<RebuildCatalog>> OpenRebuildCatalog(const std::string& uri, std::string_view flag);

}  // namespace estoria::ui
