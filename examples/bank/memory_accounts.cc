#include "memory_accounts.h"

namespace bank {

estoria::Status MemoryAccounts::Apply(const estoria::Event& event) {
  if (event.stream_id.type() != kAccountStreamType) return estoria::Status::Ok();
  std::lock_guard lock(mu_);
  AccountView row = rows_[event.stream_id.uuid().ToString()];
  if (event.stream_version <= row.version) return estoria::Status::Ok();
  ESTORIA_RETURN_IF_ERROR(FoldAccountEvent(event, row));
  rows_[event.stream_id.uuid().ToString()] = row;
  return estoria::Status::Ok();
}

estoria::Result<std::optional<AccountView>> MemoryAccounts::Get(const estoria::Uuid& id) {
  std::lock_guard lock(mu_);
  auto it = rows_.find(id.ToString());
  if (it == rows_.end()) return std::optional<AccountView>();
  return std::optional<AccountView>(it->second);
}

estoria::Result<std::vector<AccountView>> MemoryAccounts::List(const ListQuery& query) {
  std::lock_guard lock(mu_);
  std::vector<AccountView> out;
  auto it = query.after ? rows_.upper_bound(query.after->ToString()) : rows_.begin();
  for (; it != rows_.end() && static_cast<int64_t>(out.size()) < query.limit; ++it) {
    if (query.min_balance && it->second.balance < *query.min_balance) continue;
    out.push_back(it->second);
  }
  return out;
}

}  // namespace bank
