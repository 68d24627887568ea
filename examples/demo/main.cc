// estoria-demo: a short walk-through of Estoria C++ on one event store, printing
// each step: open accounts, append and save, reload, time travel, fold a view,
// and a conflict being retried.
//
//   estoria-demo [URI]   default "sqlite:data/demo.db" when the SQLite backend is
//                        built, else "memory:"
#include <cstdio>
#include <filesystem>
#include <string>

#include "estoria/event_sourced_store.h"
#include "estoria/fold.h"
#include "estoria/open.h"

namespace {

struct Account {
  std::string owner;
  int64_t balance = 0;
};

struct Opened {
  static constexpr std::string_view kType = "opened";
  std::string owner;
  void ApplyTo(Account& a) const { a.owner = owner; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Opened, owner)

struct BalanceChanged {
  static constexpr std::string_view kType = "balancechanged";
  int64_t amount = 0;
  void ApplyTo(Account& a) const { a.balance += amount; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(BalanceChanged, amount)

using Accounts = estoria::EventSourcedStore<Account, Opened, BalanceChanged>;

// A read-side view folded from raw events.
struct AccountView {
  int64_t balance = 0;
  int changes = 0;
  std::string last_updated;
  void Apply(const estoria::Event& e) {
    if (e.type() != "balancechanged") return;
    balance += nlohmann::json::parse(e.data).at("amount").get<int64_t>();
    ++changes;
    last_updated = estoria::FormatTimestamp(e.timestamp);
  }
};

int step = 0;
void Step(const std::string& text) { std::printf("%2d. %s\n", ++step, text.c_str()); }
int Fail(const std::string& what, const estoria::Status& st) {
  std::fprintf(stderr, "estoria-demo: %s: %s\n", what.c_str(), st.ToString().c_str());
  return 1;
}

// The command handler of design §7: load, decide, append, save; retry on conflict.
estoria::Status ChangeBalance(Accounts& accounts, const estoria::Uuid& id, int64_t amount) {
  for (int attempt = 1; attempt <= 5; ++attempt) {
    auto account = accounts.Load(id);
    if (!account) return account.error();
    if (account->state().balance + amount < 0) return estoria::Status::FailedPrecondition("overdraft");
    account->Append(BalanceChanged{.amount = amount});
    estoria::Status saved = accounts.Save(*account);
    if (!saved.IsConflict()) return saved;
    Step("   conflict on attempt " + std::to_string(attempt) + " (" + saved.message() + "): reload and retry");
  }
  return estoria::Status::Unavailable("too many conflicts");
}

}  // namespace

int main(int argc, char** argv) {
  std::string uri = argc > 1 ? argv[1] : "sqlite:data/demo.db";
  if (uri.starts_with("sqlite:") && uri != "sqlite::memory:") {
    std::filesystem::path parent = std::filesystem::path(uri.substr(7)).parent_path();
    std::error_code ignored;
    if (!parent.empty()) std::filesystem::create_directories(parent, ignored);
  }
  auto opened = estoria::OpenEventStore(uri);
  if (!opened && opened.error().IsNotSupported() && argc <= 1) {
    uri = "memory:";
    opened = estoria::OpenEventStore(uri);
  }
  if (!opened) return Fail("open " + uri, opened.error());
  std::shared_ptr<estoria::EventStore> events = *opened;
  Step("opened the event store " + uri);
  int64_t start_position = 0;
  if (auto* global = events->global_reader()) start_position = global->HeadPosition().value_or(0);

  Accounts accounts(events, "account");

  // Open two accounts: New, Append, Save.
  auto alice = accounts.New().value();
  alice.Append(Opened{"alice"}, BalanceChanged{.amount = 100});
  if (auto st = accounts.Save(alice); !st.ok()) return Fail("save alice", st);
  Step("opened " + alice.id().ToString() + " for alice with 100 (version " + std::to_string(alice.version()) + ")");
  auto bob = accounts.New().value();
  bob.Append(Opened{"bob"}, BalanceChanged{.amount = 20});
  if (auto st = accounts.Save(bob); !st.ok()) return Fail("save bob", st);
  Step("opened " + bob.id().ToString() + " for bob with 20 (version " + std::to_string(bob.version()) + ")");

  // Commands through the handler.
  if (auto st = ChangeBalance(accounts, alice.id().uuid(), -30); !st.ok()) return Fail("withdraw", st);
  Step("alice withdrew 30");
  if (auto st = ChangeBalance(accounts, alice.id().uuid(), 45); !st.ok()) return Fail("deposit", st);
  Step("alice deposited 45");
  estoria::Status overdraft = ChangeBalance(accounts, bob.id().uuid(), -500);
  Step("bob tried to withdraw 500: " + overdraft.ToString() + " (nothing appended)");

  // Reload and time travel.
  auto reloaded = accounts.Load(alice.id().uuid());
  if (!reloaded) return Fail("load alice", reloaded.error());
  Step("reloaded alice: balance " + std::to_string(reloaded->state().balance) + " at version " +
       std::to_string(reloaded->version()));
  auto past = accounts.Load(alice.id().uuid(), {.to_version = 2});
  if (!past) return Fail("load alice at version 2", past.error());
  Step("alice as of version 2: balance " + std::to_string(past->state().balance));

  // A conflict: two clients load alice; the first save wins, the second retries.
  auto first = accounts.Load(alice.id().uuid()).value();
  auto second = accounts.Load(alice.id().uuid()).value();
  first.Append(BalanceChanged{.amount = 5});
  if (auto st = accounts.Save(first); !st.ok()) return Fail("save first client", st);
  Step("client 1 added 5 and saved version " + std::to_string(first.version()));
  second.Append(BalanceChanged{.amount = 7});
  estoria::Status conflict = accounts.Save(second);
  Step("client 2 added 7 from version " + std::to_string(second.version()) + ": " + conflict.ToString());
  if (!conflict.IsConflict()) return Fail("expected a conflict", conflict);
  if (auto st = ChangeBalance(accounts, alice.id().uuid(), 7); !st.ok()) return Fail("retry", st);
  Step("client 2 reloaded and retried: saved");

  // Query side: fold a view of alice's stream on demand.
  AccountView view;
  estoria::Status folded = estoria::FoldStream(*events, alice.id(), [&](const estoria::Event& e) { view.Apply(e); });
  if (!folded.ok()) return Fail("fold alice", folded);
  Step("folded alice's view: balance " + std::to_string(view.balance) + " after " + std::to_string(view.changes) +
       " changes, last updated " + view.last_updated);

  // And a range of the global log: every account event appended by this run.
  if (auto* global = events->global_reader()) {
    estoria::ReadAllOptions range;
    range.after_position = start_position;
    range.stream_types = {"account"};
    int64_t total = 0, count = 0;
    estoria::Status all = estoria::FoldAll(
        *global,
        [&](const estoria::Event& e) {
          ++count;
          if (e.type() == "balancechanged") total += nlohmann::json::parse(e.data).at("amount").get<int64_t>();
        },
        range);
    if (!all.ok()) return Fail("fold all", all);
    Step("folded the global log: " + std::to_string(count) + " events, money in the bank " + std::to_string(total));
  }
  Step("done");
  return 0;
}
