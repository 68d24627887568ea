// read_model.h: the query side's dedicated read model.
//   AccountQueries      the queries a read-model table answers (one per database)
//   AccountReadModel    AccountQueries plus the projection processor that keeps
//                       the table: waiting for a position, health, shutdown
//
// Thread safety: implementations are safe for concurrent use from many threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bank.h"
#include "estoria/projection/processor.h"
#include "estoria/status.h"

namespace bank {

// The projection's name: its checkpoint key and lock name.
inline constexpr std::string_view kReadModelName = "bank_accounts_v1";

class AccountQueries {
 public:
  virtual ~AccountQueries() = default;
  // Errors: Unavailable, Internal.
  virtual estoria::Result<std::optional<AccountView>> Get(const estoria::Uuid& id) = 0;
  // Accounts ordered by id text. Errors: Unavailable, Internal.
  virtual estoria::Result<std::vector<AccountView>> List(const ListQuery& query) = 0;
  // OK when the database answers; Unavailable otherwise.
  virtual estoria::Status Ping() = 0;
};

class AccountReadModel {
 public:
  // Takes a started processor and the queries of the table it keeps.
  AccountReadModel(std::unique_ptr<estoria::Processor> processor, std::shared_ptr<AccountQueries> queries);
  ~AccountReadModel();

  // An account and the position reached (read before the row, so the row
  // reflects at least that position). Errors: Unavailable, Internal.
  estoria::Result<AccountLookup> Get(const estoria::Uuid& id);
  estoria::Result<AccountPage> List(const ListQuery& query);
  // Blocks until the processor reached `position` or `timeout` passed; returns
  // the position reached. Unavailable when the processor has stopped.
  estoria::Result<int64_t> WaitForPosition(int64_t position, std::chrono::milliseconds timeout);
  estoria::ProcessorState State() const;
  // OK while the processor runs and the table answers.
  estoria::Status Health();
  // Stops the processor, which commits its checkpoint. Idempotent.
  estoria::Status Close();

 private:
  std::unique_ptr<estoria::Processor> processor_;
  std::shared_ptr<AccountQueries> queries_;
};

}  // namespace bank
