// The PostgreSQL server restarted during a copy (the copier of `estoria copy`,
// src/cli/copier.cc), SQLite -> PostgreSQL and PostgreSQL -> SQLite. The
// server is stopped from the copy's progress callback once a known number of
// events has been copied (a deterministic point), so the next batch (a write
// to, or a read from, PostgreSQL) meets the outage. The copy must fail cleanly
// (Unavailable), the destination must hold a prefix of the source, and after
// the server is started again a rerun must resume and complete the copy with
// the destination identical to the source (ids, versions, positions, payloads,
// timestamps): no duplicates, nothing missing. Runs alone (RUN_SERIAL): it
// stops the shared test server.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "copier.h"
#include "estoria/postgres/postgres_event_store.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "estoria/testing/matchers.h"
#include "pg_server_control.h"
#include "pg_test_util.h"

namespace estoria::postgres {
namespace {

using namespace std::chrono_literals;
using ::estoria::testing::ServerControl;
using ::estoria::testing::StatusIs;
using testing::ScopedSchema;
using testing::TestOptions;

constexpr int kEvents = 3000;
constexpr int64_t kBatch = 100;
constexpr int64_t kStopAfter = 1000;

std::vector<Event> ReadAllOf(EventStore& store) {
  auto it = store.global_reader()->ReadAll();
  EXPECT_TRUE(it.has_value()) << it.error();
  if (!it) return {};
  auto all = Collect(**it);
  EXPECT_TRUE(all.has_value()) << all.error();
  return all.value_or(std::vector<Event>{});
}

// kEvents events in 30 streams, appended 10 at a time, with metadata and a
// binary payload now and then.
void Fill(EventStore& store) {
  std::vector<TypeId> streams;
  for (int s = 0; s < 30; ++s) streams.push_back(TypeId("account", Uuid::NewV7()));
  for (int i = 0; i < kEvents; i += 10) {
    std::vector<WritableEvent> evs(10);
    for (int k = 0; k < 10; ++k) {
      evs[k].type = "deposited";
      evs[k].data = "{\"n\":" + std::to_string(i + k) + "}";
      if ((i + k) % 7 == 0) evs[k].metadata = {{"user", "u" + std::to_string(i + k)}};
      if ((i + k) % 11 == 0) {
        evs[k].content_type = "application/octet-stream";
        evs[k].data = std::string("\x00\xff", 2);
      }
    }
    auto r = store.AppendStream(streams[(i / 10) % streams.size()], evs);
    ASSERT_TRUE(r.has_value()) << r.error();
  }
}

class CopyRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ESTORIA_REQUIRE_POSTGRES();
    const char* ctl = std::getenv("ESTORIA_TEST_PG_CTL");
    if (ctl == nullptr || *ctl == '\0') GTEST_SKIP() << "ESTORIA_TEST_PG_CTL is unset: cannot restart the server";
    server_ = std::make_unique<ServerControl>(ctl);
    sqlite_path_ = (std::filesystem::temp_directory_path() /
                    ("estoria_copy_restart_" + std::to_string(getpid()) + "_" + schema_.name() + ".db"))
                       .string();
    sqlite::SqliteOptions so;
    so.path = sqlite_path_;
    ESTORIA_ASSERT_OK_AND_ASSIGN(sqlite_, sqlite::SqliteEventStore::Open(so));
    PostgresOptions o = TestOptions(schema_.name());
    o.connect_timeout = 1000ms;
    o.query_timeout = 5000ms;
    o.logger = NullLogger();
    ESTORIA_ASSERT_OK_AND_ASSIGN(pg_, PostgresEventStore::Open(o));
  }
  void TearDown() override {
    sqlite_.reset();
    if (!sqlite_path_.empty()) {
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(sqlite_path_ + suffix);
    }
  }

  // Copies source -> target, stopping the server after kStopAfter events; then
  // starts it again and reruns the copy to completion.
  void CopyThroughARestart(EventStore& source, EventStore& target) {
    cli::CopyOptions options;
    options.batch = kBatch;
    bool stopped = false;
    options.on_progress = [&](int64_t copied, int64_t) {
      if (!stopped && copied >= kStopAfter) {
        stopped = true;
        ASSERT_TRUE(server_->Run("stop"));
      }
    };
    auto interrupted = cli::CopyStore(source, target, options);
    ASSERT_TRUE(stopped);
    ASSERT_FALSE(interrupted.has_value()) << "the copy went on while the server was down";
    EXPECT_THAT(interrupted.error(), StatusIs(StatusCode::kUnavailable)) << interrupted.error();

    ASSERT_TRUE(server_->Run("start"));
    // The destination holds a prefix of the source, whole batches only.
    std::vector<Event> src = ReadAllOf(source), prefix = ReadAllOf(target);
    ASSERT_EQ(src.size(), static_cast<size_t>(kEvents));
    ASSERT_GE(prefix.size(), static_cast<size_t>(kStopAfter));
    ASSERT_LT(prefix.size(), src.size());
    EXPECT_EQ(prefix.size() % kBatch, 0u);
    EXPECT_EQ(prefix, std::vector<Event>(src.begin(), src.begin() + static_cast<std::ptrdiff_t>(prefix.size())));

    options.on_progress = nullptr;
    auto rerun = cli::CopyStore(source, target, options);
    ASSERT_TRUE(rerun.has_value()) << rerun.error();
    EXPECT_EQ(rerun->resumed_after, static_cast<int64_t>(prefix.size()));
    EXPECT_EQ(rerun->copied, kEvents - static_cast<int64_t>(prefix.size()));
    EXPECT_TRUE(rerun->positions_preserved);
    EXPECT_EQ(ReadAllOf(target), src);  // every field, positions included; no duplicates
    auto head = target.global_reader()->HeadPosition();
    ASSERT_TRUE(head.has_value()) << head.error();
    EXPECT_EQ(*head, kEvents);
  }

  ScopedSchema schema_{"copy_restart"};
  std::unique_ptr<ServerControl> server_;
  std::string sqlite_path_;
  std::shared_ptr<sqlite::SqliteEventStore> sqlite_;
  std::shared_ptr<PostgresEventStore> pg_;
};

TEST_F(CopyRestartTest, SqliteToPostgresFailsCleanlyThenResumes) {
  ASSERT_NO_FATAL_FAILURE(Fill(*sqlite_));
  CopyThroughARestart(*sqlite_, *pg_);
}

TEST_F(CopyRestartTest, PostgresToSqliteFailsCleanlyThenResumes) {
  ASSERT_NO_FATAL_FAILURE(Fill(*pg_));
  CopyThroughARestart(*pg_, *sqlite_);
}

}  // namespace
}  // namespace estoria::postgres
