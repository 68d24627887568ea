#include "command_handler.h"

#include <algorithm>
#include <chrono>

#include "estoria/fold.h"

namespace bank {
namespace {

// The refusals of the decide function (compared whole: code and message).
estoria::Status InsufficientFunds() {
  return estoria::Status::FailedPrecondition("the balance would become negative or overflow");
}
estoria::Status AccountMissing() {
  return estoria::Status::FailedPrecondition("If-Match: * on an account without events");
}

std::shared_ptr<estoria::AggregateStore<Account>> AccountStore(std::shared_ptr<estoria::EventStore> store) {
  return estoria::EventSourcedStore<Account, BalanceChanged>::Create(std::move(store), std::string(kAccountStreamType));
}

estoria::CommandExecutorOptions ExecutorOptions(const CommandHandlerOptions& options) {
  estoria::CommandExecutorOptions out;
  out.max_attempts = std::max(1, options.max_attempts);
  out.initial_backoff = std::chrono::microseconds(100);
  out.max_backoff = std::chrono::milliseconds(10);
  return out;
}

}  // namespace

estoria::Result<std::optional<AccountView>> FoldAccount(estoria::StreamReader& reader, const estoria::Uuid& id) {
  AccountView view;
  view.id = id;
  estoria::Status status = estoria::FoldStream(
      reader, AccountStream(id), [&view](const estoria::Event& event) { return FoldAccountEvent(event, view); });
  if (status.IsNotFound()) return std::optional<AccountView>();
  if (!status.ok()) return status;
  if (view.version == 0) return std::optional<AccountView>();
  return std::optional<AccountView>(view);
}

AccountCommandHandler::AccountCommandHandler(std::shared_ptr<estoria::EventStore> store, CommandHandlerOptions options)
    : options_(options), executor_(AccountStore(std::move(store)), ExecutorOptions(options)) {}

estoria::Result<CommandResult> AccountCommandHandler::ModifyBalance(const ModifyBalanceCommand& command) {
  // Written by the decide function (possibly on another request's thread, and
  // possibly more than once); read after Execute returned.
  int64_t seen_version = 0;
  estoria::ExecuteOptions options;
  options.expected_version = command.expected_version;
  auto done = executor_.Execute(
      command.account,
      [&](estoria::Aggregate<Account>& account) {
        seen_version = account.version();
        if (command.expect_exists && account.version() == 0) return AccountMissing();
        if (DecideModifyBalance(account.state(), command.amount) != Decision::kAccept) return InsufficientFunds();
        account.Append(BalanceChanged{command.amount});
        return estoria::Status::Ok();
      },
      options);
  CommandResult result;
  if (done.has_value()) {
    result.outcome = CommandOutcome::kApplied;
    result.version = done->version;
    result.position = done->global_positions.empty() ? 0 : done->global_positions.back();
    result.conflicts = done->conflicts;
    return result;
  }
  const estoria::Status& error = done.error();
  if (error == AccountMissing()) {
    result.outcome = CommandOutcome::kVersionMismatch;
    result.version = seen_version;
  } else if (error == InsufficientFunds()) {
    result.outcome = CommandOutcome::kInsufficientFunds;
    result.version = seen_version;
  } else if (error.IsConflict() && command.expected_version && error.conflict() &&
             error.conflict()->actual_version != *command.expected_version) {
    // Decided against exactly the If-Match version, and the account is elsewhere.
    result.outcome = CommandOutcome::kVersionMismatch;
    result.version = error.conflict()->actual_version;
  } else if (error.IsConflict()) {
    // Other processes' appends won every attempt.
    result.outcome = CommandOutcome::kTooManyConflicts;
    result.conflicts = std::max(1, options_.max_attempts);
  } else {
    return error;
  }
  return result;
}

}  // namespace bank
