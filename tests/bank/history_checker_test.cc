// Unit tests of the bank history checker: it accepts linearizable histories
// (with lagging read-model reads and writes of unknown outcome, applied or not)
// and rejects each kind of bad history with a message naming the fault.
#include "history_checker.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace bank_test {
namespace {

using Kind = Operation::Kind;
using Outcome = Operation::Outcome;

const std::string kA = "aaaaaaaa-0000-4000-8000-000000000000";
const std::string kB = "bbbbbbbb-0000-4000-8000-000000000000";

// Builders: times are in ms (stored as ns).
Operation Write(int64_t from, int64_t to, int64_t amount, int64_t version, int64_t position,
                const std::string& account = kA) {
  Operation op;
  op.account = account;
  op.kind = Kind::kWrite;
  op.invoked = from * 1'000'000;
  op.completed = to * 1'000'000;
  op.amount = amount;
  op.version = version;
  op.position = position;
  return op;
}

Operation Unknown(int64_t from, int64_t amount, const std::string& account = kA) {
  Operation op = Write(from, 0, amount, 0, 0, account);
  op.completed = Operation::kNever;
  op.outcome = Outcome::kUnknown;
  return op;
}

Operation Summary(int64_t from, int64_t to, int64_t version, int64_t balance, const std::string& account = kA) {
  Operation op;
  op.account = account;
  op.kind = Kind::kSummaryRead;
  op.invoked = from * 1'000'000;
  op.completed = to * 1'000'000;
  op.version = version;
  op.balance = balance;
  if (version == 0) op.outcome = Outcome::kNotFound;
  return op;
}

Operation Model(int64_t from, int64_t to, int64_t version, int64_t balance, int64_t position, int64_t min_position = 0,
                const std::string& account = kA) {
  Operation op = Summary(from, to, version, balance, account);
  op.kind = Kind::kModelRead;
  op.position = position;
  op.min_position = min_position;
  return op;
}

Operation Refused(int64_t from, int64_t to, Outcome outcome, int64_t amount, int64_t seen) {
  Operation op = Write(from, to, amount, seen, 0);
  op.outcome = outcome;
  return op;
}

// Expects a rejection whose messages mention `what`.
void ExpectRejected(const std::vector<Operation>& history, const std::string& what) {
  HistoryReport report = CheckHistory(history);
  ASSERT_FALSE(report.ok()) << "accepted a bad history: " << report.ToString();
  bool found = false;
  for (const auto& v : report.violations) found = found || v.find(what) != std::string::npos;
  EXPECT_TRUE(found) << "expected a violation mentioning \"" << what << "\", got: " << report.ToString();
}

void ExpectAccepted(const std::vector<Operation>& history) {
  HistoryReport report = CheckHistory(history);
  EXPECT_TRUE(report.ok()) << report.ToString();
}

// Three deposits and a withdrawal, one after another, with reads in between.
std::vector<Operation> GoodSequentialHistory() {
  return {
      Summary(0, 1, 0, 0),                                    // no account yet
      Write(2, 3, 100, 1, 1),                                 //
      Write(4, 5, 50, 2, 2),                                  //
      Summary(6, 7, 2, 150),                                  //
      Model(8, 9, 2, 150, 2, 2),                              // read-your-writes
      Refused(10, 11, Outcome::kInsufficientFunds, -151, 2),  //
      Write(12, 13, -150, 3, 3),                              //
      Model(14, 15, 2, 150, 2),                               // the read model may lag
      Write(16, 17, 7, 4, 5),                                 //
      Write(16, 17, 9, 1, 4, kB),                             // another account, overlapping
      Summary(18, 19, 4, 7),                                  //
      Summary(18, 19, 1, 9, kB),                              //
  };
}

TEST(HistoryCheckerTest, AcceptsASequentialHistory) {
  HistoryReport report = CheckHistory(GoodSequentialHistory());
  EXPECT_TRUE(report.ok()) << report.ToString();
  EXPECT_EQ(report.accounts, 2);
  EXPECT_EQ(report.writes_acknowledged, 5);
  EXPECT_EQ(report.writes_refused, 1);
  EXPECT_EQ(report.reads, 6);
}

TEST(HistoryCheckerTest, AcceptsEitherOrderOfOverlappingOperations) {
  // Two overlapping writes: either may come first; a read overlapping a write
  // may see it or not.
  ExpectAccepted(
      {Write(0, 10, 5, 2, 2), Write(1, 9, 3, 1, 1), Summary(2, 3, 0, 0), Summary(8, 12, 1, 3), Summary(11, 12, 2, 8)});
  ExpectAccepted({Write(0, 10, 5, 1, 1), Write(1, 9, 3, 2, 2), Summary(2, 3, 1, 5), Summary(11, 12, 2, 8)});
}

TEST(HistoryCheckerTest, RejectsADuplicateVersion) {
  auto history = GoodSequentialHistory();
  history[2].version = 1;  // the second deposit reports version 1 too
  ExpectRejected(history, "duplicate version 1");
}

TEST(HistoryCheckerTest, RejectsAGapInTheVersions) {
  ExpectRejected({Write(0, 1, 10, 1, 1), Write(2, 3, 10, 3, 2), Summary(4, 5, 3, 20)}, "not consecutive");
}

TEST(HistoryCheckerTest, RejectsAWrongBalance) {
  auto history = GoodSequentialHistory();
  history[3].balance = 140;  // summary at version 2
  ExpectRejected(history, "wrong balance");
  history = GoodSequentialHistory();
  history[7].balance = 149;  // a lagging model read must still be a true prefix
  ExpectRejected(history, "wrong balance");
}

TEST(HistoryCheckerTest, RejectsAStaleReadYourWritesRead) {
  // The model read waited for position 2 (the second deposit) but shows version 1.
  ExpectRejected({Write(0, 1, 10, 1, 1), Write(2, 3, 20, 2, 2), Model(4, 5, 1, 10, 2, 2)}, "read-your-writes");
  // The reply reports position 3 but misses the write at position 3.
  ExpectRejected({Write(0, 1, 10, 1, 1), Write(2, 3, 20, 2, 3), Model(4, 5, 1, 10, 3)}, "read-your-writes");
  // And a reply below the min_position it was asked for.
  ExpectRejected({Write(0, 1, 10, 1, 1), Write(2, 3, 20, 2, 2), Model(4, 5, 1, 10, 1, 2)}, "below the min_position");
}

TEST(HistoryCheckerTest, RejectsAReadOlderThanACompletedWrite) {
  ExpectRejected({Write(0, 1, 10, 1, 1), Write(2, 3, 20, 2, 2), Summary(4, 5, 1, 10)}, "stale read");
  // Reads too: a later read may not go back.
  ExpectRejected({Write(0, 10, 10, 1, 1), Summary(2, 3, 1, 10), Summary(4, 5, 0, 0)}, "stale read");
  // A 422 refusal is a read of the version it reports.
  ExpectRejected({Write(0, 1, 10, 1, 1), Write(2, 3, 20, 2, 2), Refused(4, 5, Outcome::kInsufficientFunds, -20, 1)},
                 "stale read");
}

TEST(HistoryCheckerTest, RejectsAReadModelGoingBack) {
  // Lagging is fine, going back is not: model reads in real-time order...
  ExpectAccepted({Write(0, 1, 10, 1, 1), Write(2, 3, 20, 2, 2), Model(4, 5, 1, 10, 1), Model(6, 7, 2, 30, 2)});
  ExpectRejected({Write(0, 1, 10, 1, 1), Write(2, 3, 20, 2, 2), Model(4, 5, 2, 30, 2), Model(6, 7, 1, 10, 1)},
                 "went back");
  // ...and a summary read after a model read (which shows committed events).
  ExpectRejected({Write(0, 10, 10, 1, 1), Model(4, 5, 1, 10, 1), Summary(6, 7, 0, 0)}, "stale read");
}

TEST(HistoryCheckerTest, RejectsAWriteOrderedBeforeACompletedOne) {
  ExpectRejected({Write(0, 1, 10, 2, 2), Write(2, 3, 20, 1, 1), Summary(4, 5, 2, 30)}, "not above");
}

TEST(HistoryCheckerTest, RejectsAReadOfAWriteNotYetInvoked) {
  // The model read completed at 3 ms; the write began at 4 ms.
  ExpectRejected({Model(2, 3, 1, 10, 1), Write(4, 5, 10, 1, 1)}, "not above");
}

TEST(HistoryCheckerTest, RejectsWrongRefusals) {
  // 422 although the balance (10) covered the withdrawal.
  ExpectRejected({Write(0, 1, 10, 1, 1), Refused(2, 3, Outcome::kInsufficientFunds, -10, 1)}, "insufficient funds");
  // 412 although the account was at the version asked for.
  Operation refused = Refused(2, 3, Outcome::kPreconditionFailed, 5, 1);
  refused.if_match = 1;
  ExpectRejected({Write(0, 1, 10, 1, 1), refused}, "412");
  // An If-Match write must land right after the version it asked for.
  Operation conditional = Write(2, 3, 5, 3, 3);
  conditional.if_match = 1;
  ExpectRejected({Write(0, 1, 10, 1, 1), Write(0, 1, 10, 2, 2), conditional}, "If-Match");
}

TEST(HistoryCheckerTest, RejectsANegativeBalance) {
  ExpectRejected({Write(0, 1, 10, 1, 1), Write(2, 3, -20, 2, 2), Summary(4, 5, 2, -10)}, "negative");
}

TEST(HistoryCheckerTest, RejectsPositionsAgainstRealTime) {
  ExpectRejected({Write(0, 1, 10, 1, 5), Write(2, 3, 10, 1, 4, kB)}, "real time");
  ExpectRejected({Write(0, 1, 10, 1, 5), Write(0, 1, 10, 1, 5, kB)}, "duplicate position 5");
  ExpectRejected({Write(0, 10, 10, 1, 5), Write(0, 10, 10, 2, 4)}, "positions do not grow");
}

TEST(HistoryCheckerTest, AcceptsAnUnknownWriteAppliedOrNot) {
  // Applied: version 2 is the unknown +7 (found in the final read).
  HistoryReport applied = CheckHistory(
      {Write(0, 1, 10, 1, 1), Unknown(2, 7), Unknown(2, 1000), Write(20, 21, 5, 3, 3), Summary(22, 23, 3, 22)});
  EXPECT_TRUE(applied.ok()) << applied.ToString();
  EXPECT_EQ(applied.writes_unknown, 2);
  EXPECT_EQ(applied.unknown_applied, 1);
  // Not applied.
  HistoryReport not_applied =
      CheckHistory({Write(0, 1, 10, 1, 1), Unknown(2, 7), Write(20, 21, 5, 2, 3), Summary(22, 23, 2, 15)});
  EXPECT_TRUE(not_applied.ok()) << not_applied.ToString();
  EXPECT_EQ(not_applied.unknown_applied, 0);
  // Both, in either order, with a read between that pins the order.
  ExpectAccepted(
      {Write(0, 1, 10, 1, 1), Unknown(2, 7), Unknown(2, 100), Summary(30, 31, 2, 110), Summary(32, 33, 3, 117)});
}

TEST(HistoryCheckerTest, RejectsAFinalStateNoSubsetOfUnknownWritesExplains) {
  // Version 2 exists but the balance is not 10 + 7, nor 10 + 100.
  ExpectRejected({Write(0, 1, 10, 1, 1), Unknown(2, 7), Unknown(2, 100), Summary(22, 23, 2, 18)}, "no subset");
  // Versions 2 and 3 exist, but only one write has an unknown outcome.
  ExpectRejected({Write(0, 1, 10, 1, 1), Unknown(2, 7), Summary(22, 23, 3, 24)}, "not consecutive");
  // Version 2 holds one write: 17 or 110, never 117.
  ExpectRejected({Write(0, 1, 10, 1, 1), Unknown(2, 7), Unknown(2, 100), Summary(30, 31, 2, 117)}, "no subset");
}

TEST(HistoryCheckerTest, RejectsAnUnknownWriteBeforeItWasInvoked) {
  // The unknown write began at 10 ms, after a read had seen version 2: it
  // cannot be version 2 (nor explain the balance 17 seen there).
  ExpectRejected({Write(0, 1, 10, 1, 1), Summary(8, 9, 2, 17), Unknown(10, 7), Summary(20, 21, 2, 17)}, "no subset");
  // An unknown If-Match write can only land right after its version.
  Operation conditional = Unknown(2, 7);
  conditional.if_match = 0;
  ExpectRejected({Write(0, 1, 10, 1, 1), conditional, Summary(20, 21, 2, 17)}, "no subset");
}

}  // namespace
}  // namespace bank_test
