// bank.h: Bank, the small interface between the HTTP layer and the domain: the
// ModifyBalance command, the on-demand summary, and the read-model queries.
//
// Thread safety: implementations are safe for concurrent use from many threads
// (one HTTP worker thread per request).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "account.h"
#include "estoria/status.h"
#include "estoria/type_id.h"

namespace bank {

struct ModifyBalanceCommand {
  estoria::Uuid account;
  int64_t amount = 0;  // non-zero
  // If-Match: the account must be at exactly this version (0 = no events yet).
  std::optional<int64_t> expected_version;
  // If-Match: *: the account must have at least one event.
  bool expect_exists = false;
};

enum class CommandOutcome {
  kApplied,            // one BalanceChanged appended
  kVersionMismatch,    // expected_version differs from the account's version
  kInsufficientFunds,  // the balance would become negative (or leave int64)
  kTooManyConflicts,   // concurrent commands won every attempt
};

struct CommandResult {
  CommandOutcome outcome = CommandOutcome::kApplied;
  int64_t version = 0;   // kApplied: the new version; otherwise the version seen
  int64_t position = 0;  // kApplied: global position of the appended event
  int conflicts = 0;     // version conflicts met (and retried) on the way
};

// One account from the read model, plus the position the read model had
// reached (at least) when it was read.
struct AccountLookup {
  std::optional<AccountView> account;
  int64_t position = 0;
};

struct ListQuery {
  int64_t limit = 100;                 // 1..1000
  std::optional<estoria::Uuid> after;  // exclusive, ordered by id text
  std::optional<int64_t> min_balance;  // inclusive
};

struct AccountPage {
  std::vector<AccountView> accounts;
  int64_t position = 0;
};

struct ProjectionStats {
  int64_t position = 0;        // read model position
  int64_t head_position = 0;   // the store's head
  double lag_seconds = 0;      // age of the oldest event not yet in the read model
  std::string phase;           // the processor's phase (replaying, tailing, ...)
  int64_t events_handled = 0;  // by the processor since start
};

class Bank {
 public:
  virtual ~Bank() = default;

  // Decide against the account's current state and append (commands for one
  // account are serialized and batched in the process); version conflicts
  // with other processes are retried a bounded number of times. Outcomes
  // other than kApplied append nothing.
  // Errors: Unavailable (store unreachable), Corruption, Internal.
  virtual estoria::Result<CommandResult> ModifyBalance(const ModifyBalanceCommand& command) = 0;

  // The on-demand projection folded from the account's stream; nullopt when it
  // has no events. Errors: Unavailable, Corruption, Internal.
  virtual estoria::Result<std::optional<AccountView>> Summary(const estoria::Uuid& id) = 0;

  // Read-model queries. Errors: Unavailable, Internal.
  virtual estoria::Result<AccountLookup> GetAccount(const estoria::Uuid& id) = 0;
  virtual estoria::Result<AccountPage> ListAccounts(const ListQuery& query) = 0;

  // Waits until the read model has reached `position` or `timeout` passed;
  // returns the position reached (< position on timeout). Errors: Unavailable,
  // Internal (e.g. the processor stopped on an error).
  virtual estoria::Result<int64_t> WaitForReadModel(int64_t position, std::chrono::milliseconds timeout) = 0;

  // OK when the store and the read model are reachable and the processor runs;
  // otherwise the first problem found.
  virtual estoria::Status Health() = 0;

  virtual ProjectionStats Stats() = 0;

  // Stops the read-model processor after its current batch and saves its
  // checkpoint. Idempotent. Errors: Unavailable, Internal.
  virtual estoria::Status Close() = 0;
};

}  // namespace bank
