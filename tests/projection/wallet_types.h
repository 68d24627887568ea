// Shared by the upcasting tests (projections, and the folds of
// tests/aggregate/fold_result_test.cc): a wallet whose "deposited" event
// has two schema versions (v1 {"amount": units}, v2 {"cents", "currency"}),
// the v1 -> v2 upcaster, and a read-side fold that knows only v2.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "estoria/event.h"
#include "estoria/status.h"
#include "estoria/upcaster.h"

namespace estoria::testing {

struct Wallet {
  int64_t cents = 0;
  std::string currency;
  int64_t deposits = 0;
  friend bool operator==(const Wallet&, const Wallet&) = default;
};

// Schema version 1, as an old build wrote it.
struct DepositedV1 {
  static constexpr std::string_view kType = "deposited";
  int64_t amount = 0;  // whole units
  void ApplyTo(Wallet& w) const {
    w.cents += amount * 100;
    ++w.deposits;
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(DepositedV1, amount)

// Schema version 2, the current shape.
struct Deposited {
  static constexpr std::string_view kType = "deposited";
  static constexpr int kSchemaVersion = 2;
  int64_t cents = 0;
  std::string currency;
  void ApplyTo(Wallet& w) const {
    w.cents += cents;
    w.currency = currency;
    ++w.deposits;
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Deposited, cents, currency)

// v1 -> v2 (a negative amount is refused: the step throws), and "credited",
// an older name of "deposited", renamed.
inline UpcasterRegistry WalletUpcasters() {
  UpcasterRegistry r;
  r.Add("deposited", 1, JsonUpcaster([](nlohmann::json& j) {
          if (j.at("amount").get<int64_t>() < 0) throw std::runtime_error("negative deposit");
          j["cents"] = j.at("amount").get<int64_t>() * 100;
          j.erase("amount");
          j["currency"] = "EUR";
        }));
  r.Add("credited", 1, [](UpcastEvent& e) {  // an older name of "deposited"
    e.type = "deposited";
    return Status::Ok();
  });
  return r;
}

// A read-side view that knows only the current shape: an old payload is an
// error.
inline Status ApplyCurrent(Wallet& w, const Event& e) {
  if (e.type() != "deposited") return Status::InvalidArgument("unexpected type " + e.type());
  auto j = nlohmann::json::parse(e.data, nullptr, false);
  if (!j.is_object() || !j.contains("cents")) return Status::InvalidArgument("old shape: " + e.data);
  j.get<Deposited>().ApplyTo(w);
  return Status::Ok();
}

}  // namespace estoria::testing
