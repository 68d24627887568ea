// read_model.h: the query side's dedicated read model.
//   AccountReadModel  what the service asks of a read model (queries, waiting
//                     for a position, health, shutdown)
//   AccountTable      where a read model keeps its rows and checkpoint; Apply
//                     writes both atomically (exactly-once effects)
//
// Thread safety: implementations are safe for concurrent use from many threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "bank.h"
#include "estoria/event.h"
#include "estoria/status.h"

namespace bank {

class AccountReadModel {
 public:
  virtual ~AccountReadModel() = default;
  // An account and the position reached (read before the row, so the row
  // reflects at least that position). Errors: Unavailable, Internal.
  virtual estoria::Result<AccountLookup> Get(const estoria::Uuid& id) = 0;
  // Accounts ordered by id. Errors: Unavailable, Internal.
  virtual estoria::Result<AccountPage> List(const ListQuery& query) = 0;
  // Blocks until the position reaches `position` or `timeout` passes; returns
  // the position reached. Errors: Internal when the read model stopped.
  virtual estoria::Result<int64_t> WaitForPosition(int64_t position, std::chrono::milliseconds timeout) = 0;
  // The global position reached.
  virtual int64_t Position() = 0;
  // OK while the storage is reachable and the processor makes progress.
  virtual estoria::Status Health() = 0;
  // Stops the processor after its current batch; the checkpoint is saved.
  // Idempotent. Errors: Unavailable, Internal.
  virtual estoria::Status Close() = 0;
};

class AccountTable {
 public:
  virtual ~AccountTable() = default;
  // The stored checkpoint, 0 when none. Errors: Unavailable, Internal.
  virtual estoria::Result<int64_t> LoadCheckpoint() = 0;
  // Folds the events into the rows and stores `position` as the checkpoint, in
  // one transaction. Events of other stream or event types are skipped; events
  // at or below a row's version are skipped (idempotent).
  // Errors: Corruption (undecodable payload), Unavailable, Internal.
  virtual estoria::Status Apply(std::span<const estoria::Event> events, int64_t position) = 0;
  // Errors: Unavailable, Internal.
  virtual estoria::Result<std::optional<AccountView>> Get(const estoria::Uuid& id) = 0;
  virtual estoria::Result<std::vector<AccountView>> List(const ListQuery& query) = 0;
  // OK when the storage answers.
  virtual estoria::Status Ping() = 0;
};

}  // namespace bank
