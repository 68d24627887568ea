#include "history_checker.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <tuple>
#include <unordered_set>
#include <utility>

namespace bank_test {
namespace {

using Kind = Operation::Kind;
using Outcome = Operation::Outcome;

// At most this many violations are kept per account (the first ones say enough).
constexpr size_t kMaxViolationsPerAccount = 10;
// Unknown writes per account the search handles (a bit mask), and its budget.
constexpr size_t kMaxUnknownPerAccount = 64;
constexpr int64_t kMaxSearchNodes = 2'000'000;

std::string Ms(int64_t ns) {
  if (ns == Operation::kNever) return "never";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f ms", static_cast<double>(ns) / 1e6);
  return buf;
}

std::string ShortId(const std::string& account) { return account.substr(0, 8); }

// An operation that orders against others by its version: an acknowledged
// write (at its version), a summary read, a 412/422 refusal or a model read
// (after its version).
struct Point {
  const Operation* op;
  bool is_write;
  bool is_model;
  int64_t version;
};

class AccountChecker {
 public:
  AccountChecker(const std::string& account, const std::vector<const Operation*>& ops, HistoryReport& report)
      : account_(account), ops_(ops), report_(report) {}

  void Run() {
    Classify();
    CheckEachOperation();
    if (!CheckUniqueVersions()) return;
    CheckRealTimeOrder();
    CheckReadModel();
    CheckPositionsFollowVersions();
    CheckBalances();
  }

 private:
  void Violation(std::string message) {
    if (violations_++ < kMaxViolationsPerAccount) {
      report_.violations.push_back("account " + ShortId(account_) + ": " + std::move(message));
    }
  }

  void Classify() {
    for (const Operation* op : ops_) {
      if (op->kind == Kind::kWrite) {
        switch (op->outcome) {
          case Outcome::kOk:
            acked_.push_back(op);
            points_.push_back({op, true, false, op->version});
            break;
          case Outcome::kUnknown:
            unknown_.push_back(op);
            break;
          case Outcome::kPreconditionFailed:
          case Outcome::kInsufficientFunds:
            ++report_.writes_refused;
            points_.push_back({op, false, false, op->version});
            break;
          case Outcome::kConflict:
            ++report_.writes_refused;
            break;
          case Outcome::kNotFound:
          case Outcome::kNoInformation:
            Violation("a write cannot have outcome " + Describe(*op));
            break;
        }
        continue;
      }
      if (op->outcome == Outcome::kNoInformation) continue;
      if (op->outcome != Outcome::kOk && op->outcome != Outcome::kNotFound) {
        Violation("a read cannot have outcome " + Describe(*op));
        continue;
      }
      ++report_.reads;
      // 404: the account (in the store, or in the read model) had no events.
      int64_t version = op->outcome == Outcome::kNotFound ? 0 : op->version;
      points_.push_back({op, false, op->kind == Kind::kModelRead, version});
      reads_.push_back(op);
    }
    report_.writes_acknowledged += static_cast<int64_t>(acked_.size());
    report_.writes_unknown += static_cast<int64_t>(unknown_.size());
  }

  static int64_t Version(const Operation& op) { return op.outcome == Outcome::kNotFound ? 0 : op.version; }
  static int64_t Balance(const Operation& op) { return op.outcome == Outcome::kNotFound ? 0 : op.balance; }

  void CheckEachOperation() {
    for (const Point& p : points_) {
      const Operation& op = *p.op;
      if (p.version < 0 || (p.is_write && p.version < 1)) Violation("impossible version in " + Describe(op));
      if (op.completed < op.invoked) Violation("completed before it was invoked: " + Describe(op));
      if (op.kind == Kind::kWrite && op.outcome == Outcome::kOk) {
        if (op.if_match && op.version != *op.if_match + 1) {
          Violation("If-Match write not applied right after the version it asked for: " + Describe(op));
        }
        if (op.if_match_any && op.version < 2) Violation("If-Match: * write applied to a new account: " + Describe(op));
      }
      if (op.outcome == Outcome::kPreconditionFailed) {
        if (op.if_match && op.version == *op.if_match) {
          Violation("412 although the account was at the version asked for: " + Describe(op));
        }
        if (op.if_match_any && op.version != 0) {
          Violation("412 for If-Match: * although the account exists: " + Describe(op));
        }
        if (!op.if_match && !op.if_match_any) Violation("412 without If-Match: " + Describe(op));
      }
      if (op.kind == Kind::kModelRead && op.min_position > 0 && op.position < op.min_position) {
        Violation("read model answered below the min_position it was asked for: " + Describe(op));
      }
    }
  }

  bool CheckUniqueVersions() {
    bool unique = true;
    for (const Operation* op : acked_) {
      auto [it, inserted] = by_version_.emplace(op->version, op);
      if (!inserted) {
        Violation("duplicate version " + std::to_string(op->version) + ": " + Describe(*it->second) + " and " +
                  Describe(*op));
        unique = false;
      }
    }
    return unique;
  }

  // X completed before Y was invoked: an acknowledged write Y gets a version
  // above X's; a summary read or refusal Y sees at least X's version (X a
  // model read too: the read model shows committed events only); a model read
  // Y, which may lag, sees at least what a model read X saw.
  void CheckRealTimeOrder() {
    for (const Point& y : points_) {
      for (const Point& x : points_) {
        if (x.op->completed >= y.op->invoked) continue;
        if (y.is_model && !x.is_model) continue;
        if (y.is_write ? y.version > x.version : y.version >= x.version) continue;
        std::string what = y.is_write ? "a write got a version not above that of an operation completed before it began"
                           : y.is_model ? "the read model went back: it shows an older version than a read model "
                                          "read completed before this one began"
                                        : "stale read: it began after an operation with a newer version completed";
        Violation(what + ": " + Describe(*x.op) + " then " + Describe(*y.op));
        break;
      }
    }
  }

  // A model read at position P shows every acknowledged write of the account
  // at a position <= P, and no write invoked after the read completed (the
  // latter is part of CheckRealTimeOrder for every read).
  void CheckReadModel() {
    for (const Operation* r : reads_) {
      if (r->kind != Kind::kModelRead) continue;
      for (const Operation* w : acked_) {
        if (w->position <= r->position && Version(*r) < w->version) {
          Violation("read-your-writes: the read model at position " + std::to_string(r->position) +
                    " misses a write at position " + std::to_string(w->position) + ": " + Describe(*w) + " then " +
                    Describe(*r));
          break;
        }
      }
    }
  }

  void CheckPositionsFollowVersions() {
    const Operation* previous = nullptr;
    for (const auto& [version, op] : by_version_) {
      if (previous != nullptr && op->position <= previous->position) {
        Violation("positions do not grow with versions: " + Describe(*previous) + " and " + Describe(*op));
      }
      previous = op;
    }
  }

  struct Unknown {
    const Operation* op;
    int64_t above;                 // the version it gets is above this
    std::optional<int64_t> exact;  // If-Match: exactly this version
    int64_t at_least;              // If-Match: *: at least 2
  };

  // Balance at v (sum of the amounts of versions 1..v) as the observations
  // demand: reads of version v and 422 refusals at v; never negative.
  bool Holds(int64_t v, int64_t prefix) const {
    if (prefix < 0) return false;
    auto b = balances_.find(v);
    if (b != balances_.end()) {
      for (const Operation* r : b->second) {
        if (Balance(*r) != prefix) return false;
      }
    }
    auto f = refusals_.find(v);
    if (f != refusals_.end()) {
      for (const Operation* r : f->second) {
        if (prefix + r->amount >= 0) return false;
      }
    }
    return true;
  }

  void CheckBalances() {
    int64_t newest = 0;
    for (const Point& p : points_) newest = std::max(newest, p.version);
    newest_ = newest;
    for (const Operation* r : reads_) balances_[Version(*r)].push_back(r);
    for (const Point& p : points_) {
      if (p.op->kind == Kind::kWrite && p.op->outcome == Outcome::kInsufficientFunds) {
        refusals_[p.version].push_back(p.op);
      }
    }
    std::vector<int64_t> gaps;
    for (int64_t v = 1; v <= newest; ++v) {
      if (!by_version_.contains(v)) gaps.push_back(v);
    }
    if (gaps.size() > unknown_.size()) {
      std::string list;
      for (size_t i = 0; i < gaps.size() && i < 10; ++i) list += (i ? ", " : "") + std::to_string(gaps[i]);
      Violation("versions are not consecutive: " + std::to_string(gaps.size()) +
                " version(s) up to the newest observed (" + std::to_string(newest) +
                ") belong to no acknowledged write (" + list + (gaps.size() > 10 ? ", ..." : "") + ") and only " +
                std::to_string(unknown_.size()) + " write(s) have an unknown outcome");
      return;
    }
    if (gaps.empty()) return CheckKnownBalances();
    if (unknown_.size() > kMaxUnknownPerAccount) {
      Violation(std::to_string(unknown_.size()) + " writes with an unknown outcome: more than the checker handles");
      return;
    }
    for (const Operation* u : unknown_) {
      Unknown entry{u, 0, std::nullopt, u->if_match_any ? 2 : 1};
      if (u->if_match) entry.exact = *u->if_match + 1;
      for (const Point& x : points_) {
        if (x.op->completed < u->invoked) entry.above = std::max(entry.above, x.version);
      }
      unknowns_.push_back(entry);
    }
    if (!Holds(0, 0)) {
      Violation("a read of version 0 (404) or a refusal at version 0 contradicts an empty account");
      return;
    }
    uint64_t used = 0;
    if (Explore(1, 0, used)) {
      report_.unknown_applied += std::popcount(found_);
      return;
    }
    std::string list;
    for (size_t i = 0; i < gaps.size() && i < 10; ++i) list += (i ? ", " : "") + std::to_string(gaps[i]);
    Violation(std::string(exhausted_ ? "search budget exhausted: " : "") + "version(s) " + list +
              " belong to no acknowledged write, and no subset of the " + std::to_string(unknown_.size()) +
              " write(s) with an unknown outcome, in any order allowed, explains them and the balances read");
  }

  // No unknown write needed: every version has its amount; say exactly which
  // observation is wrong.
  void CheckKnownBalances() {
    int64_t prefix = 0;
    for (int64_t v = 0; v <= newest_; ++v) {
      if (v > 0) prefix += by_version_.at(v)->amount;
      if (prefix < 0) {
        Violation("the balance became negative (" + std::to_string(prefix) + ") at version " + std::to_string(v) +
                  ": " + Describe(*by_version_.at(v)));
      }
      auto b = balances_.find(v);
      if (b != balances_.end()) {
        for (const Operation* r : b->second) {
          if (Balance(*r) != prefix) {
            Violation("wrong balance: the writes up to version " + std::to_string(v) + " sum to " +
                      std::to_string(prefix) + ": " + Describe(*r));
          }
        }
      }
      auto f = refusals_.find(v);
      if (f != refusals_.end()) {
        for (const Operation* r : f->second) {
          if (prefix + r->amount >= 0) {
            Violation("refused for insufficient funds at version " + std::to_string(v) + " with balance " +
                      std::to_string(prefix) + ": " + Describe(*r));
          }
        }
      }
    }
  }

  // Depth-first over the versions without an acknowledged write, choosing an
  // unknown write for each; (version, used) determines the balance, so failed
  // states are remembered.
  bool Explore(int64_t v, int64_t prefix, uint64_t used) {
    for (; v <= newest_; ++v) {
      auto known = by_version_.find(v);
      if (known != by_version_.end()) {
        prefix += known->second->amount;
        if (!Holds(v, prefix)) return false;
        continue;
      }
      std::pair<int64_t, uint64_t> key{v, used};
      if (failed_.contains(key)) return false;
      if (++nodes_ > kMaxSearchNodes) {
        exhausted_ = true;
        return false;
      }
      std::set<std::tuple<int64_t, int64_t, int64_t, int64_t>> tried;  // interchangeable writes
      for (size_t i = 0; i < unknowns_.size(); ++i) {
        const Unknown& u = unknowns_[i];
        if ((used >> i) & 1) continue;
        if (v <= u.above || v < u.at_least || (u.exact && *u.exact != v)) continue;
        if (!tried.emplace(u.op->amount, u.above, u.exact.value_or(-1), u.at_least).second) continue;
        int64_t next = prefix + u.op->amount;
        if (!Holds(v, next)) continue;
        if (Explore(v + 1, next, used | (uint64_t{1} << i))) return true;
      }
      failed_.insert(key);
      return false;
    }
    found_ = used;
    return true;
  }

  struct KeyHash {
    size_t operator()(const std::pair<int64_t, uint64_t>& k) const {
      return std::hash<uint64_t>()(k.second * 0x9E3779B97F4A7C15ull ^ static_cast<uint64_t>(k.first));
    }
  };

  const std::string& account_;
  const std::vector<const Operation*>& ops_;
  HistoryReport& report_;
  size_t violations_ = 0;
  std::vector<const Operation*> acked_, unknown_, reads_;
  std::vector<Point> points_;
  std::map<int64_t, const Operation*> by_version_;
  std::map<int64_t, std::vector<const Operation*>> balances_, refusals_;
  std::vector<Unknown> unknowns_;
  int64_t newest_ = 0;
  std::unordered_set<std::pair<int64_t, uint64_t>, KeyHash> failed_;
  int64_t nodes_ = 0;
  bool exhausted_ = false;
  uint64_t found_ = 0;
};

// Across accounts: positions are unique, and a write that began after another
// one was acknowledged got a higher position.
void CheckGlobalPositions(const std::vector<Operation>& history, HistoryReport& report) {
  std::vector<const Operation*> acked;
  for (const Operation& op : history) {
    if (op.kind == Kind::kWrite && op.outcome == Outcome::kOk) acked.push_back(&op);
  }
  std::map<int64_t, const Operation*> by_position;
  for (const Operation* op : acked) {
    auto [it, inserted] = by_position.emplace(op->position, op);
    if (!inserted) {
      report.violations.push_back("duplicate position " + std::to_string(op->position) + ": " + Describe(*it->second) +
                                  " and " + Describe(*op));
    }
  }
  std::vector<const Operation*> by_completion = acked;
  std::sort(by_completion.begin(), by_completion.end(),
            [](const Operation* a, const Operation* b) { return a->completed < b->completed; });
  // highest[i]: the write with the highest position among the first i+1 completed.
  std::vector<const Operation*> highest;
  for (const Operation* op : by_completion) {
    highest.push_back(highest.empty() || highest.back()->position < op->position ? op : highest.back());
  }
  int reported = 0;
  for (const Operation* op : acked) {
    auto end = std::lower_bound(by_completion.begin(), by_completion.end(), op->invoked,
                                [](const Operation* a, int64_t t) { return a->completed < t; });
    if (end == by_completion.begin()) continue;
    const Operation* before = highest[end - by_completion.begin() - 1];
    if (before->position >= op->position && reported++ < 10) {
      report.violations.push_back("positions do not follow real time: " + Describe(*before) + " completed before " +
                                  Describe(*op) + " began");
    }
  }
}

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kWrite:
      return "write";
    case Kind::kSummaryRead:
      return "summary read";
    case Kind::kModelRead:
      return "model read";
  }
  return "?";
}

}  // namespace

std::string Describe(const Operation& op) {
  std::ostringstream out;
  out << "[client " << op.client << " " << KindName(op.kind);
  if (op.kind == Kind::kWrite) {
    out << " " << (op.amount >= 0 ? "+" : "") << op.amount;
    if (op.if_match) out << " If-Match \"" << *op.if_match << "\"";
    if (op.if_match_any) out << " If-Match *";
  }
  if (op.kind == Kind::kModelRead && op.min_position > 0) out << " min_position=" << op.min_position;
  out << " on " << ShortId(op.account) << " from " << Ms(op.invoked) << " to " << Ms(op.completed) << ": ";
  switch (op.outcome) {
    case Outcome::kOk:
      out << "version " << op.version;
      if (op.kind != Kind::kWrite) out << " balance " << op.balance;
      if (op.kind != Kind::kSummaryRead) out << " position " << op.position;
      break;
    case Outcome::kUnknown:
      out << "outcome unknown";
      break;
    case Outcome::kPreconditionFailed:
      out << "412 at version " << op.version;
      break;
    case Outcome::kInsufficientFunds:
      out << "422 at version " << op.version;
      break;
    case Outcome::kConflict:
      out << "409";
      break;
    case Outcome::kNotFound:
      out << "404";
      if (op.kind == Kind::kModelRead) out << " at position " << op.position;
      break;
    case Outcome::kNoInformation:
      out << "no information";
      break;
  }
  out << "]";
  return out.str();
}

void HistoryLog::Add(Operation op) {
  std::lock_guard lock(mu_);
  ops_.push_back(std::move(op));
}

std::vector<Operation> HistoryLog::Take() {
  std::lock_guard lock(mu_);
  return std::exchange(ops_, {});
}

std::string HistoryReport::ToString() const {
  std::ostringstream out;
  out << accounts << " accounts, " << writes_acknowledged << " writes acknowledged, " << writes_refused << " refused, "
      << writes_unknown << " with unknown outcome (" << unknown_applied << " applied), " << reads << " reads; "
      << (violations.empty() ? "linearizable" : std::to_string(violations.size()) + " violation(s):");
  for (size_t i = 0; i < violations.size() && i < 30; ++i) out << "\n  " << violations[i];
  return out.str();
}

HistoryReport CheckHistory(const std::vector<Operation>& history) {
  HistoryReport report;
  std::map<std::string, std::vector<const Operation*>> by_account;
  for (const Operation& op : history) by_account[op.account].push_back(&op);
  report.accounts = static_cast<int64_t>(by_account.size());
  for (const auto& [account, ops] : by_account) AccountChecker(account, ops, report).Run();
  CheckGlobalPositions(history, report);
  return report;
}

}  // namespace bank_test
