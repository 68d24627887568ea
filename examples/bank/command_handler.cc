#include "command_handler.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

namespace bank {
namespace {

// Sleeps a random 0..2^attempt * 100 us (at most ~10 ms) so that contending
// commands spread out instead of colliding again in lock step.
void Backoff(int attempt) {
  thread_local std::minstd_rand rng(std::random_device{}());
  int64_t ceiling_us = std::min<int64_t>(int64_t{100} << std::min(attempt, 7), 10'000);
  std::uniform_int_distribution<int64_t> dist(0, ceiling_us);
  std::this_thread::sleep_for(std::chrono::microseconds(dist(rng)));
}

}  // namespace

estoria::Result<std::optional<AccountView>> FoldAccount(estoria::StreamReader& reader, const estoria::Uuid& id) {
  auto it = reader.ReadStream(AccountStream(id));
  if (!it.has_value()) {
    if (it.error().IsNotFound()) return std::optional<AccountView>();
    return it.error();
  }
  AccountView view;
  view.id = id;
  bool any = false;
  for (;;) {
    ESTORIA_ASSIGN_OR_RETURN(std::optional<estoria::Event> event, (*it)->Next());
    if (!event) break;
    ESTORIA_RETURN_IF_ERROR(FoldAccountEvent(*event, view));
    any = true;
  }
  if (!any) return std::optional<AccountView>();
  return std::optional<AccountView>(view);
}

AccountCommandHandler::AccountCommandHandler(std::shared_ptr<estoria::EventStore> store, CommandHandlerOptions options)
    : store_(std::move(store)), options_(options) {}

estoria::Result<CommandResult> AccountCommandHandler::ModifyBalance(const ModifyBalanceCommand& command) {
  CommandResult result;
  const int attempts = std::max(1, options_.max_attempts);
  for (int attempt = 0; attempt < attempts; ++attempt) {
    if (attempt > 0) Backoff(attempt);
    // Load.
    ESTORIA_ASSIGN_OR_RETURN(std::optional<AccountView> view, FoldAccount(*store_, command.account));
    Account account{view ? view->balance : 0};
    int64_t version = view ? view->version : 0;
    result.version = version;
    // Decide.
    if ((command.expected_version && *command.expected_version != version) || (command.expect_exists && !view)) {
      result.outcome = CommandOutcome::kVersionMismatch;
      return result;
    }
    if (DecideModifyBalance(account, command.amount) != Decision::kAccept) {
      result.outcome = CommandOutcome::kInsufficientFunds;
      return result;
    }
    // Append with an expectation on the version the decision saw.
    estoria::WritableEvent event;
    event.type = std::string(BalanceChanged::kType);
    event.data = nlohmann::json(BalanceChanged{command.amount}).dump();
    auto appended = store_->AppendStream(AccountStream(command.account), std::span(&event, 1),
                                         estoria::AppendOptions::ExpectVersion(version));
    if (appended.has_value()) {
      result.outcome = CommandOutcome::kApplied;
      result.version = appended->back().stream_version;
      result.position = appended->back().global_position;
      return result;
    }
    if (!appended.error().IsConflict()) return appended.error();
    ++result.conflicts;
  }
  result.outcome = CommandOutcome::kTooManyConflicts;
  return result;
}

}  // namespace bank
