// memory_account_table.h: MemoryAccountTable, an AccountTable held in memory
// (for --read-model memory:, rebuilt from the store at every start).
//
// Thread safety: safe for concurrent use (one mutex).
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "read_model.h"

namespace bank {

class MemoryAccountTable final : public AccountTable {
 public:
  estoria::Result<int64_t> LoadCheckpoint() override;
  estoria::Status Apply(std::span<const estoria::Event> events, int64_t position) override;
  estoria::Result<std::optional<AccountView>> Get(const estoria::Uuid& id) override;
  estoria::Result<std::vector<AccountView>> List(const ListQuery& query) override;
  estoria::Status Ping() override { return estoria::Status::Ok(); }

 private:
  std::mutex mu_;
  std::map<std::string, AccountView> rows_;  // by id text
  int64_t checkpoint_ = 0;
};

}  // namespace bank
