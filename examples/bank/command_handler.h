// command_handler.h: AccountCommandHandler, the write side: ModifyBalance runs
// through an estoria::CommandExecutor over the Account aggregate
// (EventSourcedStore): commands for one account are serialized and batched in
// this process (no version conflicts among them), decided against the warm
// state, and an append that conflicts with another process is refreshed and
// retried a bounded number of times.
// FoldAccount is the on-demand projection behind GET /accounts/{id}/summary.
//
// Thread safety: safe for concurrent use from many threads.
#pragma once

#include <memory>

#include "account.h"
#include "bank.h"
#include "estoria/command_executor.h"
#include "estoria/event_sourced_store.h"
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
  CommandHandlerOptions options_;
  estoria::CommandExecutor<Account> executor_;
};

// Folds an account's stream (the on-demand projection); nullopt when it has no
// events. Errors: Unavailable, Corruption, Internal.
estoria::Result<std::optional<AccountView>> FoldAccount(estoria::StreamReader& reader, const estoria::Uuid& id);

}  // namespace bank
