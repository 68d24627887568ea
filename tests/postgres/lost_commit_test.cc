// The lost COMMIT: the writer's (or the importer's) connection is cut after
// its COMMIT was sent and before the answer arrived, at the test-only sync
// points PostgresAppendWriter::AfterCommitSent and
// PostgresEventStore::ImportAfterCommitSent (passed once the pipeline holding
// the COMMIT is on the wire, before any answer is read). Each outcome is made
// deterministic:
//   - committed: the callback waits until the events are visible from another
//     connection, terminates the backend (pg_terminate_backend) and throws the
//     answer away by reading the socket to its end, so the client never sees
//     the COMMIT's result. The call must report OK, the events exist once.
//   - not committed: another transaction holds log_head's row lock, so the
//     pipeline blocks at UPDATE log_head, before the COMMIT; the callback waits
//     until the backend waits for that lock, then terminates it. The call must
//     report Unavailable "... not committed" and no event may exist.
//   - outcome unknown: as committed, but the store's login role is made
//     NOLOGIN before the writer reconnects to look the batch up. The call must
//     report Unavailable "... outcome unknown"; the events exist once.
// Each for a cold writer (two round trips), a predicting writer (everything in
// one pipeline) and ImportEvents. After each, the same store works again.
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "estoria/postgres/postgres_event_store.h"
#include "estoria/testing/matchers.h"
#include "pg_test_util.h"
#include "pg_wire.h"
#include "sync_point.h"

namespace estoria::postgres {
namespace {

#ifdef ESTORIA_ENABLE_SYNC_POINTS

using ::estoria::testing::StatusIs;
using testing::RawConnection;
using testing::ScopedSchema;
using testing::TestOptions;
using testing_internal::ScopedSyncPointCallback;

constexpr char kWriterAfterCommitSent[] = "PostgresAppendWriter::AfterCommitSent";
constexpr char kImportAfterCommitSent[] = "PostgresEventStore::ImportAfterCommitSent";

enum class Path { kAppendCold, kAppendPredicted, kImport };

std::string PathName(const ::testing::TestParamInfo<Path>& info) {
  switch (info.param) {
    case Path::kAppendCold:
      return "AppendTwoRoundTrips";
    case Path::kAppendPredicted:
      return "AppendOnePipeline";
    case Path::kImport:
      return "ImportEvents";
  }
  return "unknown";
}

WritableEvent Ev(const Uuid& id) {
  WritableEvent e;
  e.type = "deposited";
  e.id = id;
  e.data = R"({"amount":1})";
  return e;
}

// Polls `done` until it returns true or 20 s pass (a condition observed in
// the database, not a sleep that hopes).
template <typename F>
bool WaitUntil(F done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// Reads and discards everything the server sent on `fd` until it closes the
// connection: the answers are lost as if the network had dropped them.
bool DrainToEof(int fd) {
  char buf[4096];
  for (;;) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 20000) <= 0) return false;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return errno == ECONNRESET;
  }
}

class LostCommitTest : public ::testing::TestWithParam<Path> {
 protected:
  void SetUp() override {
    ESTORIA_REQUIRE_POSTGRES();
    observer_ = RawConnection();
    ASSERT_NE(observer_, nullptr);
    stream_ = TypeId::New("account").value();
  }

  void Open(PostgresOptions o) {
    o.logger = NullLogger();
    auto store = PostgresEventStore::Open(std::move(o));
    ASSERT_TRUE(store.has_value()) << store.error();
    store_ = *store;
    // Appends before the tested write (checked afterwards). The writer
    // predicts from its third quiet batch on (append_writer.cc): after three,
    // the next append runs in one pipeline; after two, in two round trips.
    const int warm_up = GetParam() == Path::kAppendPredicted ? 3 : 2;
    for (int i = 0; i < warm_up; ++i) {
      Uuid id = Uuid::NewV7();
      std::vector<WritableEvent> evs{Ev(id)};
      ASSERT_TRUE(store_->AppendStream(stream_, evs).has_value());
      before_.push_back(id);
    }
  }

  // The sync point the tested path passes.
  const char* Point() const { return GetParam() == Path::kImport ? kImportAfterCommitSent : kWriterAfterCommitSent; }

  // The write under test: `ids` as one append (or one import) to stream_.
  Status Write(const std::vector<Uuid>& ids) {
    if (GetParam() == Path::kImport) {
      std::vector<Event> events;
      for (size_t i = 0; i < ids.size(); ++i) {
        Event e;
        e.id = TypeId("deposited", ids[i]);
        e.stream_id = stream_;
        e.stream_version = static_cast<int64_t>(before_.size() + i + 1);
        e.timestamp = Now();
        e.content_type = "application/json";
        e.data = R"({"amount":1})";
        events.push_back(std::move(e));
      }
      return store_->ImportEvents(events).error();
    }
    std::vector<WritableEvent> evs;
    for (const Uuid& id : ids) evs.push_back(Ev(id));
    const int64_t predicted_before = store_->stats().mispredictions;
    Status st = store_->AppendStream(stream_, evs).error();
    EXPECT_EQ(store_->stats().mispredictions, predicted_before);
    return st;
  }

  // How many of `ids` are stored, seen from another connection.
  int64_t CountStored(const std::vector<Uuid>& ids) {
    std::string literal = "{";
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i > 0) literal += ',';
      literal += ids[i].ToString();
    }
    literal += '}';
    auto r = observer_->ExecParams(
        "SELECT count(*) FROM " + QuoteIdentifier(schema_.name()) + ".events WHERE event_id = ANY($1::uuid[])",
        PgParams().Text(literal));
    EXPECT_TRUE(r.has_value()) << r.error();
    return r ? r->Int64(0, 0) : -1;
  }

  bool Terminate(int pid) {
    auto r =
        observer_->ExecParams("SELECT pg_terminate_backend($1::int4, 20000)", PgParams().Text(std::to_string(pid)));
    EXPECT_TRUE(r.has_value()) << r.error();
    return r && r->String(0, 0) == "t";
  }

  // The store's whole log: every id once, versions 1..n, positions 1..n.
  void ExpectLog(const std::vector<Uuid>& expected) {
    auto it = store_->ReadAll();
    ASSERT_TRUE(it.has_value()) << it.error();
    auto all = Collect(**it);
    ASSERT_TRUE(all.has_value()) << all.error();
    ASSERT_EQ(all->size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ((*all)[i].id.uuid(), expected[i]) << i;
      EXPECT_EQ((*all)[i].global_position, static_cast<int64_t>(i + 1));
      EXPECT_EQ((*all)[i].stream_version, static_cast<int64_t>(i + 1));
    }
    auto head = store_->HeadPosition();
    ASSERT_TRUE(head.has_value()) << head.error();
    EXPECT_EQ(*head, static_cast<int64_t>(expected.size()));
  }

  // The store is usable again: one more append lands right after `log`.
  void ExpectUsableAfter(std::vector<Uuid> log) {
    Uuid id = Uuid::NewV7();
    std::vector<WritableEvent> evs{Ev(id)};
    auto r = store_->AppendStream(stream_, evs, AppendOptions::ExpectVersion(static_cast<int64_t>(log.size())));
    ASSERT_TRUE(r.has_value()) << r.error();
    log.push_back(id);
    ExpectLog(log);
  }

  ScopedSchema schema_{"lost_commit"};
  std::unique_ptr<PgConnection> observer_;
  std::shared_ptr<PostgresEventStore> store_;
  TypeId stream_;
  std::vector<Uuid> before_;
};

TEST_P(LostCommitTest, CommittedButAnswerLostIsReportedOkAndStoredOnce) {
  ASSERT_NO_FATAL_FAILURE(Open(TestOptions(schema_.name())));
  const std::vector<Uuid> ids{Uuid::NewV7(), Uuid::NewV7()};
  bool cut = false;
  ScopedSyncPointCallback at(Point(), [&](void* arg) {
    testing_internal::SyncPoint::Get()->ClearCallback(Point());  // once
    PGconn* conn = static_cast<PGconn*>(arg);
    const int pid = PQbackendPID(conn), fd = PQsocket(conn);
    EXPECT_TRUE(WaitUntil([&] { return CountStored(ids) == 2; })) << "the COMMIT was not applied";
    EXPECT_TRUE(Terminate(pid));
    cut = DrainToEof(fd);
  });
  Status st = Write(ids);
  ASSERT_TRUE(cut) << "the connection was not cut after the COMMIT";
  ESTORIA_EXPECT_OK(st);
  EXPECT_EQ(CountStored(ids), 2);
  std::vector<Uuid> log = before_;
  log.insert(log.end(), ids.begin(), ids.end());
  ExpectLog(log);
  ExpectUsableAfter(log);
}

TEST_P(LostCommitTest, KilledBeforeTheCommitAppliedIsUnavailableNotCommitted) {
  ASSERT_NO_FATAL_FAILURE(Open(TestOptions(schema_.name())));
  // Hold log_head's row lock: the pipeline (lock, inserts, UPDATE log_head,
  // NOTIFY, COMMIT) is sent in full but blocks at UPDATE log_head.
  auto holder = RawConnection();
  ASSERT_NE(holder, nullptr);
  ESTORIA_ASSERT_OK(holder->Exec("BEGIN"));
  ESTORIA_ASSERT_OK(
      holder->Exec("SELECT position FROM " + QuoteIdentifier(schema_.name()) + ".log_head WHERE id = 1 FOR UPDATE"));
  const std::vector<Uuid> ids{Uuid::NewV7(), Uuid::NewV7()};
  bool cut = false;
  ScopedSyncPointCallback at(Point(), [&](void* arg) {
    testing_internal::SyncPoint::Get()->ClearCallback(Point());
    const int pid = PQbackendPID(static_cast<PGconn*>(arg));
    EXPECT_TRUE(WaitUntil([&] {
      auto r = observer_->ExecParams("SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1::int4",
                                     PgParams().Text(std::to_string(pid)));
      return r && r->rows() == 1 && r->String(0, 0) == "Lock";
    })) << "the writer never waited for log_head's lock";
    cut = Terminate(pid);
    EXPECT_TRUE(holder->Exec("ROLLBACK").has_value());
  });
  Status st = Write(ids);
  ASSERT_TRUE(cut) << "the backend was not terminated while blocked before its COMMIT";
  EXPECT_THAT(st, StatusIs(StatusCode::kUnavailable));
  EXPECT_NE(st.message().find("not committed"), std::string::npos) << st;
  EXPECT_EQ(CountStored(ids), 0);
  ExpectLog(before_);
  ExpectUsableAfter(before_);
}

TEST_P(LostCommitTest, UnreachableAfterTheCutIsUnavailableOutcomeUnknown) {
  // The store logs in as its own role, so that logins can be refused to it
  // alone while the writer tries to reconnect.
  const std::string role = schema_.name();
  ESTORIA_ASSERT_OK(observer_->Exec("CREATE ROLE " + QuoteIdentifier(role) + " LOGIN SUPERUSER"));
  struct DropRole {  // also on a failed ASSERT's early return
    std::shared_ptr<PostgresEventStore>& store;
    PgConnection& observer;
    std::string role;
    ~DropRole() {
      store.reset();  // closes the role's sessions
      (void)observer.Exec("DROP SCHEMA IF EXISTS " + QuoteIdentifier(role) + " CASCADE");
      (void)observer.Exec("DROP ROLE IF EXISTS " + QuoteIdentifier(role));
    }
  };
  PostgresOptions o = TestOptions(schema_.name());
  o.conninfo += "&user=" + role;
  o.connect_timeout = std::chrono::milliseconds(2000);
  {
    DropRole drop{store_, *observer_, role};
    ASSERT_NO_FATAL_FAILURE(Open(o));
    auto who = observer_->ExecParams("SELECT DISTINCT usename FROM pg_stat_activity WHERE application_name = $1",
                                     PgParams().Text(schema_.name()));
    ESTORIA_ASSERT_OK(who);
    ASSERT_EQ(who->rows(), 1);
    ASSERT_EQ(who->String(0, 0), role);  // the store's sessions use the role

    const std::vector<Uuid> ids{Uuid::NewV7(), Uuid::NewV7()};
    bool cut = false;
    ScopedSyncPointCallback at(Point(), [&](void* arg) {
      testing_internal::SyncPoint::Get()->ClearCallback(Point());
      PGconn* conn = static_cast<PGconn*>(arg);
      const int pid = PQbackendPID(conn), fd = PQsocket(conn);
      EXPECT_TRUE(WaitUntil([&] { return CountStored(ids) == 2; })) << "the COMMIT was not applied";
      EXPECT_TRUE(observer_->Exec("ALTER ROLE " + QuoteIdentifier(role) + " NOLOGIN").has_value());
      EXPECT_TRUE(Terminate(pid));
      cut = DrainToEof(fd);
    });
    Status st = Write(ids);
    ASSERT_TRUE(cut) << "the connection was not cut after the COMMIT";
    EXPECT_THAT(st, StatusIs(StatusCode::kUnavailable));
    EXPECT_NE(st.message().find("outcome unknown"), std::string::npos) << st;
    // It had committed: stored once; once logins work again, so does the store.
    EXPECT_EQ(CountStored(ids), 2);
    ESTORIA_ASSERT_OK(observer_->Exec("ALTER ROLE " + QuoteIdentifier(role) + " LOGIN"));
    std::vector<Uuid> log = before_;
    log.insert(log.end(), ids.begin(), ids.end());
    // The writer could not make the batch durable (logins were refused), so
    // strict readers hold at the old durable frontier until one of them
    // raises it after the store's grace period (store_core.cc, kGapGrace):
    // the batch becomes visible without any further append.
    EXPECT_TRUE(WaitUntil([&] {
      auto head = store_->HeadPosition();
      return head && *head == static_cast<int64_t>(log.size());
    })) << "the committed batch never became visible to readers";
    ExpectLog(log);
    ExpectUsableAfter(log);
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, LostCommitTest,
                         ::testing::Values(Path::kAppendCold, Path::kAppendPredicted, Path::kImport), PathName);

#else

TEST(LostCommitTest, NeedsSyncPoints) { GTEST_SKIP() << "built without ESTORIA_ENABLE_SYNC_POINTS"; }

#endif  // ESTORIA_ENABLE_SYNC_POINTS

}  // namespace
}  // namespace estoria::postgres
