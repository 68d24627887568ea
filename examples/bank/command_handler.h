// command_handler.h: AccountCommandHandler, the write side: load the account,
// decide, append one BalanceChanged with an expectation on the loaded version,
// and retry on version conflicts a bounded number of times.
//
// Thread safety: safe for concurrent use from many threads (the store is).
#pragma once

#include <memory>

#include "bank.h"
#include "estoria/event_store.h"

namespace bank {

struct CommandHandlerOptions {
  // Attempts per command before answering kTooManyConflicts. Default 100.
  int max_attempts = 100;
};

class AccountCommandHandler {
 public:
  AccountCommandHandler(std::shared_ptr<estoria::EventStore> store, CommandHandlerOptions options);

  // See Bank::ModifyBalance.
  estoria::Result<CommandResult> ModifyBalance(const ModifyBalanceCommand& command);

 private:
  std::shared_ptr<estoria::EventStore> store_;
  CommandHandlerOptions options_;
};

// Folds an account's stream (the on-demand projection); nullopt when it has no
// events. Errors: Unavailable, Corruption, Internal.
estoria::Result<std::optional<AccountView>> FoldAccount(estoria::StreamReader& reader, const estoria::Uuid& id);

}  // namespace bank
