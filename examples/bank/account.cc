#include "account.h"

#include <limits>

namespace bank {

Decision DecideModifyBalance(const Account& account, int64_t amount) {
  if (amount > 0 && account.balance > std::numeric_limits<int64_t>::max() - amount) return Decision::kOverflow;
  if (amount < 0 && account.balance + amount < 0) return Decision::kInsufficientFunds;
  return Decision::kAccept;
}

nlohmann::json ToJson(const AccountView& view) {
  return nlohmann::json{{"id", view.id.ToString()},
                        {"balance", view.balance},
                        {"version", view.version},
                        {"last_updated", estoria::FormatTimestamp(view.last_updated)}};
}

estoria::TypeId AccountStream(const estoria::Uuid& id) { return estoria::TypeId(std::string(kAccountStreamType), id); }

estoria::Result<BalanceChanged> DecodeBalanceChanged(const estoria::Event& event) {
  auto json = nlohmann::json::parse(event.data, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object() || !json.contains("amount") || !json["amount"].is_number_integer()) {
    return estoria::Status::Corruption("event " + event.id.ToString() + " is not a valid balancechanged payload");
  }
  BalanceChanged changed;
  changed.amount = json["amount"].get<int64_t>();
  return changed;
}

estoria::Status FoldAccountEvent(const estoria::Event& event, AccountView& view) {
  if (event.type() == BalanceChanged::kType) {
    ESTORIA_ASSIGN_OR_RETURN(BalanceChanged changed, DecodeBalanceChanged(event));
    view.balance += changed.amount;
  }
  view.id = event.stream_id.uuid();
  view.version = event.stream_version;
  view.last_updated = event.timestamp;
  return estoria::Status::Ok();
}

}  // namespace bank
