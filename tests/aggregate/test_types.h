// Shared test types for the aggregate tests: an Account state and its events.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "estoria/aggregate.h"
#include "estoria/codec.h"

namespace estoria_test {

struct Account {
  std::string owner;
  int64_t balance = 0;
  int64_t changes = 0;
  bool closed = false;
  friend bool operator==(const Account&, const Account&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Account, owner, balance, changes, closed)

struct Opened {
  static constexpr std::string_view kType = "opened";
  std::string owner;
  void ApplyTo(Account& a) const { a.owner = owner; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Opened, owner)

struct BalanceChanged {
  static constexpr std::string_view kType = "balancechanged";
  int64_t amount = 0;
  void ApplyTo(Account& a) const {
    a.balance += amount;
    ++a.changes;
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(BalanceChanged, amount)

// Applied through a free function.
struct Closed {
  static constexpr std::string_view kType = "closed";
  std::string reason;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Closed, reason)
inline Account Apply(Account a, const Closed&) {
  a.closed = true;
  return a;
}

// A raw-bytes event.
struct Note {
  static constexpr std::string_view kType = "note";
  using Codec = estoria::BytesCodec;
  std::string text;
  std::string ToBytes() const { return text; }
  static Note FromBytes(std::string_view b) { return Note{std::string(b)}; }
  void ApplyTo(Account&) const {}
};

// Throws when applied with explode = true.
struct Fragile {
  static constexpr std::string_view kType = "fragile";
  bool explode = false;
  void ApplyTo(Account&) const {
    if (explode) throw std::runtime_error("fragile event exploded");
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Fragile, explode)

// Applies to Account but is registered with no store.
struct Unregistered {
  static constexpr std::string_view kType = "unregistered";
  int x = 0;
  void ApplyTo(Account&) const {}
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Unregistered, x)

}  // namespace estoria_test
