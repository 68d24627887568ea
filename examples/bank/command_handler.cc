#include "command_handler.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "estoria/fold.h"

namespace bank {
namespace {

// The global position of the last event appended by this thread through a
// PositionRecorder (Save reports versions, not positions; the reply needs both).
thread_local int64_t t_last_appended_position = 0;

// Sleeps a random 0..2^attempt * 100 us (at most 10 ms) so that contending
// commands spread out instead of colliding again in lock step.
void Backoff(int attempt) {
  thread_local std::minstd_rand rng(std::random_device{}());
  int64_t ceiling_us = std::min<int64_t>(int64_t{100} << std::min(attempt, 7), 10'000);
  std::uniform_int_distribution<int64_t> dist(0, ceiling_us);
  std::this_thread::sleep_for(std::chrono::microseconds(dist(rng)));
}

}  // namespace

// An EventStore decorator for the aggregate store: forwards everything (and
// every capability) and records the position of the events a thread appends.
class AccountCommandHandler::PositionRecorder final : public estoria::EventStore {
 public:
  explicit PositionRecorder(std::shared_ptr<estoria::EventStore> inner) : inner_(std::move(inner)) {}

  estoria::Result<std::vector<estoria::Event>> AppendStream(const estoria::TypeId& stream_id,
                                                            std::span<const estoria::WritableEvent> events,
                                                            const estoria::AppendOptions& options) override {
    auto appended = inner_->AppendStream(stream_id, events, options);
    if (appended.has_value() && !appended->empty()) t_last_appended_position = appended->back().global_position;
    return appended;
  }
  estoria::Result<std::unique_ptr<estoria::EventIterator>> ReadStream(
      const estoria::TypeId& stream_id, const estoria::ReadStreamOptions& options) override {
    return inner_->ReadStream(stream_id, options);
  }
  estoria::GlobalReader* global_reader() override { return inner_->global_reader(); }
  estoria::StreamDeleter* stream_deleter() override { return inner_->stream_deleter(); }
  estoria::StreamLister* stream_lister() override { return inner_->stream_lister(); }
  estoria::AppendWatcher* append_watcher() override { return inner_->append_watcher(); }

 private:
  std::shared_ptr<estoria::EventStore> inner_;
};

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
    : recorder_(std::make_shared<PositionRecorder>(std::move(store))),
      accounts_(recorder_, std::string(kAccountStreamType)),
      options_(options) {}

estoria::Result<CommandResult> AccountCommandHandler::ModifyBalance(const ModifyBalanceCommand& command) {
  CommandResult result;
  const int attempts = std::max(1, options_.max_attempts);
  for (int attempt = 0; attempt < attempts; ++attempt) {
    if (attempt > 0) Backoff(attempt);
    // Load (a new account has no events: start from version 0).
    auto loaded = accounts_.Load(command.account);
    if (!loaded.has_value() && !loaded.error().IsNotFound()) return loaded.error();
    bool exists = loaded.has_value();
    estoria::Aggregate<Account> account;
    if (exists) {
      account = std::move(loaded).value();
    } else {
      ESTORIA_ASSIGN_OR_RETURN(account, accounts_.New(command.account));
    }
    result.version = account.version();
    // Decide.
    if ((command.expected_version && *command.expected_version != account.version()) ||
        (command.expect_exists && !exists)) {
      result.outcome = CommandOutcome::kVersionMismatch;
      return result;
    }
    if (DecideModifyBalance(account.state(), command.amount) != Decision::kAccept) {
      result.outcome = CommandOutcome::kInsufficientFunds;
      return result;
    }
    // Append and save: the append expects the loaded version.
    account.Append(BalanceChanged{command.amount});
    estoria::Status saved = accounts_.Save(account);
    if (saved.ok()) {
      result.outcome = CommandOutcome::kApplied;
      result.version = account.version();
      result.position = t_last_appended_position;
      return result;
    }
    if (!saved.IsConflict()) return saved;
    ++result.conflicts;  // nothing written: reload and decide again
  }
  result.outcome = CommandOutcome::kTooManyConflicts;
  return result;
}

}  // namespace bank
