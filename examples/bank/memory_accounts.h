// memory_accounts.h: MemoryAccounts, the account table held in memory (for
// --read-model memory:): a HandlerSink handler plus the queries. Rebuilt from
// the event store at every start (its checkpoint lives in memory too).
//
// Thread safety: safe for concurrent use (one mutex).
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "estoria/event.h"
#include "read_model.h"

namespace bank {

class MemoryAccounts final : public AccountQueries {
 public:
  // The projection handler: folds one event into its account's row. Events at
  // or below the row's version are skipped (at-least-once delivery).
  // Corruption for an undecodable payload.
  estoria::Status Apply(const estoria::Event& event);

  estoria::Result<std::optional<AccountView>> Get(const estoria::Uuid& id) override;
  estoria::Result<std::vector<AccountView>> List(const ListQuery& query) override;
  estoria::Status Ping() override { return estoria::Status::Ok(); }

 private:
  std::mutex mu_;
  std::map<std::string, AccountView> rows_;  // by id text
};

}  // namespace bank
