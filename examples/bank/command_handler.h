// command_handler.h: AccountCommandHandler, the write side, as the seed's CQRS
// page describes it: load the Account aggregate (EventSourcedStore), decide,
// append a BalanceChanged, save (an append expecting the loaded version), and
// on a version conflict reload and retry, a bounded number of times.
// FoldAccount is the on-demand projection behind GET /accounts/{id}/summary.
//
// Thread safety: safe for concurrent use from many threads (the stores are;
// each command's aggregate lives on the calling thread).
#pragma once

#include <memory>

#include "account.h"
#include "bank.h"
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
  class PositionRecorder;
  std::shared_ptr<PositionRecorder> recorder_;
  estoria::EventSourcedStore<Account, BalanceChanged> accounts_;
  CommandHandlerOptions options_;
};

// Folds an account's stream (the on-demand projection); nullopt when it has no
// events. Errors: Unavailable, Corruption, Internal.
estoria::Result<std::optional<AccountView>> FoldAccount(estoria::StreamReader& reader, const estoria::Uuid& id);

}  // namespace bank
