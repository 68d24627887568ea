#include "memory_account_table.h"

namespace bank {

estoria::Result<int64_t> MemoryAccountTable::LoadCheckpoint() {
  std::lock_guard lock(mu_);
  return checkpoint_;
}

estoria::Status MemoryAccountTable::Apply(std::span<const estoria::Event> events, int64_t position) {
  std::lock_guard lock(mu_);
  std::map<std::string, AccountView> changed;  // applied only if all decode
  for (const estoria::Event& event : events) {
    if (event.stream_id.type() != kAccountStreamType) continue;
    std::string key = event.stream_id.uuid().ToString();
    auto it = changed.find(key);
    if (it == changed.end()) {
      auto row = rows_.find(key);
      it = changed.emplace(key, row == rows_.end() ? AccountView{} : row->second).first;
    }
    if (event.stream_version <= it->second.version) continue;
    ESTORIA_RETURN_IF_ERROR(FoldAccountEvent(event, it->second));
  }
  for (auto& [key, view] : changed) rows_[key] = view;
  checkpoint_ = position;
  return estoria::Status::Ok();
}

estoria::Result<std::optional<AccountView>> MemoryAccountTable::Get(const estoria::Uuid& id) {
  std::lock_guard lock(mu_);
  auto it = rows_.find(id.ToString());
  if (it == rows_.end()) return std::optional<AccountView>();
  return std::optional<AccountView>(it->second);
}

estoria::Result<std::vector<AccountView>> MemoryAccountTable::List(const ListQuery& query) {
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
