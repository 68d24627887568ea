// The README usage example: state and events, append, save, load, fold.
#include <cstdio>

#include "estoria/event_sourced_store.h"
#include "estoria/fold.h"
#include "estoria/open.h"

struct Account {
  int64_t balance = 0;
};

struct BalanceChanged {
  static constexpr std::string_view kType = "balancechanged";
  int64_t amount = 0;
  void ApplyTo(Account& a) const { a.balance += amount; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(BalanceChanged, amount)

int main() {
  auto events = estoria::OpenEventStore("memory:").value();  // or "sqlite:data/bank.db"
  estoria::EventSourcedStore<Account, BalanceChanged> accounts(events, "account");

  auto account = accounts.New().value();  // version 0, nothing written yet
  account.Append(BalanceChanged{.amount = 100}, BalanceChanged{.amount = -30});
  if (estoria::Status st = accounts.Save(account); !st.ok()) return std::puts(st.ToString().c_str()), 1;

  auto loaded = accounts.Load(account.id().uuid());  // replays the stream
  if (!loaded) return std::puts(loaded.error().ToString().c_str()), 1;
  std::printf("balance %lld at version %lld\n", static_cast<long long>(loaded->state().balance),
              static_cast<long long>(loaded->version()));

  int changes = 0;  // query side: fold the stream on demand
  estoria::Status folded = estoria::FoldStream(*events, account.id(), [&](const estoria::Event& e) {
    if (e.type() == "balancechanged") ++changes;
  });
  std::printf("%d balance changes (%s)\n", changes, folded.ToString().c_str());
  return folded.ok() ? 0 : 1;
}
