// history_checker.h: a linearizability checker for histories of the bank
// example, recorded by concurrent clients over HTTP (bank_history_test.cc).
//   Operation      one command or read: who, which account, when it was invoked
//                  and when its reply arrived, and what the reply said
//   HistoryLog     collects operations from many client threads
//   CheckHistory   verifies a history, account by account, and says why it is
//                  not linearizable
//
// What a linearizable history of the bank must satisfy, per account:
//   - versions: acknowledged commands got unique versions; every version up to
//     the newest one observed belongs to exactly one command: an acknowledged
//     one, or one whose outcome is unknown (in flight during a crash, no
//     reply); an If-Match command lands at exactly the version after it;
//   - balances: every read's balance is the sum of the amounts up to its
//     version; no prefix is negative (the bank refuses such withdrawals); a
//     refusal for insufficient funds was right at the version it reports;
//   - real-time order (commands, summary reads, 412/422 refusals): an
//     operation invoked after another one completed is ordered after it (a
//     read sees at least the versions completed before it began; a command
//     gets a version above everything completed before it began);
//   - the read model (GET /accounts/{id}) may lag, but it never shows a
//     command invoked after the read completed, never goes back (a read sees
//     at least what a read-model read completed before it began saw; so does
//     a summary read), and a read at position P (the position the reply
//     reports, at least min_position) shows every acknowledged command of the
//     account at a position <= P (read-your-writes);
//   - positions: the positions of one account's commands grow with their
//     versions; positions are unique and follow the real-time order of the
//     commands across all accounts.
// Commands with an unknown outcome may or may not have been applied: the
// checker searches for a subset of them and an assignment to versions that
// explains every observation (the final reads after recovery included), and
// accepts nothing else.
//
// Thread safety: HistoryLog is safe for concurrent use; CheckHistory is a pure
// function.
#pragma once

#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace bank_test {

struct Operation {
  enum class Kind {
    kWrite,        // POST /accounts/{id}/balance
    kSummaryRead,  // GET /accounts/{id}/summary (folded from the store)
    kModelRead,    // GET /accounts/{id}[?min_position=] (the read model)
  };
  enum class Outcome {
    kOk,                  // write: 204 (version, position); read: 200 (version, balance[, position])
    kUnknown,             // write: no reply or 5xx; it may or may not have been applied
    kPreconditionFailed,  // write: 412, the account was at `version`; not applied
    kInsufficientFunds,   // write: 422, refused at `version`; not applied
    kConflict,            // write: 409, not applied
    kNotFound,            // read: 404, the account had no events (model: at `position`)
    kNoInformation,       // read: no reply or 503; ignored
  };
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

  int client = 0;
  std::string account;
  Kind kind = Kind::kWrite;
  int64_t invoked = 0;         // ns on one steady clock, before the request was sent
  int64_t completed = kNever;  // ns, after the reply arrived (kNever: none)
  // Writes.
  int64_t amount = 0;
  std::optional<int64_t> if_match;  // If-Match: "<version>"
  bool if_match_any = false;        // If-Match: *
  // Model reads: min_position asked for (0: none).
  int64_t min_position = 0;
  // The reply.
  Outcome outcome = Outcome::kOk;
  int64_t version = 0;   // write kOk: the new version; 412/422: version seen; read: version
  int64_t balance = 0;   // reads
  int64_t position = 0;  // write kOk: global position; model read: position reached
};

// A one-line description of an operation, for messages.
std::string Describe(const Operation& op);

class HistoryLog {
 public:
  void Add(Operation op);
  std::vector<Operation> Take();

 private:
  std::mutex mu_;
  std::vector<Operation> ops_;
};

struct HistoryReport {
  std::vector<std::string> violations;  // empty: the history is linearizable
  int64_t accounts = 0;
  int64_t writes_acknowledged = 0;
  int64_t writes_refused = 0;  // 409, 412, 422
  int64_t writes_unknown = 0;
  int64_t unknown_applied = 0;  // unknown writes the explanation needs
  int64_t reads = 0;            // reads with an answer (200 or 404)
  bool ok() const { return violations.empty(); }
  // The counts and the first violations.
  std::string ToString() const;
};

HistoryReport CheckHistory(const std::vector<Operation>& history);

}  // namespace bank_test
