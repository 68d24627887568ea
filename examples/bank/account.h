// account.h: the bank example's domain: the Account state, the BalanceChanged
// event, the ModifyBalance decision and the AccountView that queries return.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "estoria/event.h"
#include "estoria/status.h"
#include "estoria/type_id.h"

namespace bank {

// Stream type of account streams: "account_<uuid>".
inline constexpr std::string_view kAccountStreamType = "account";

// The aggregate state.
struct Account {
  int64_t balance = 0;
};

// The only event: the balance changed by `amount` (never zero).
struct BalanceChanged {
  static constexpr std::string_view kType = "balancechanged";
  int64_t amount = 0;
  void ApplyTo(Account& account) const { account.balance += amount; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(BalanceChanged, amount)

// What the decision says about a ModifyBalance command.
enum class Decision {
  kAccept,             // append BalanceChanged{amount}
  kInsufficientFunds,  // the balance would become negative
  kOverflow,           // the balance would leave int64
};
Decision DecideModifyBalance(const Account& account, int64_t amount);

// An account as queries return it.
struct AccountView {
  estoria::Uuid id;
  int64_t balance = 0;
  int64_t version = 0;                // number of events of the account
  estoria::Timestamp last_updated{};  // timestamp of its last event
  friend bool operator==(const AccountView&, const AccountView&) = default;
};

// {"id", "balance", "version", "last_updated"}.
nlohmann::json ToJson(const AccountView& view);

// The stream id of an account.
estoria::TypeId AccountStream(const estoria::Uuid& id);

// Decodes a stored BalanceChanged payload. Corruption when it is not one.
estoria::Result<BalanceChanged> DecodeBalanceChanged(const estoria::Event& event);

// Folds one stored event of the account into `view` (the on-demand projection).
// Events of other types are ignored. Corruption for an undecodable payload.
estoria::Status FoldAccountEvent(const estoria::Event& event, AccountView& view);

}  // namespace bank
