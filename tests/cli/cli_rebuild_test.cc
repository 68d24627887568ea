// `estoria projections history|rebuild|cutover|rollback|abandon` against a real
// SQLite file, with the rebuilds run by the library (RebuildProjection) as the
// application that owns the handlers would run them.
#include <gtest/gtest.h>

#include <thread>

#include "cli_test_util.h"
#include "estoria/projection/rebuild.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "estoria/sqlite/sqlite_projection_stores.h"
#include "estoria/sqlite/sqlite_read_model.h"
#include "estoria/testing/matchers.h"

namespace estoria_cli_test {
namespace {

using namespace std::chrono_literals;
using estoria::Result;
using estoria::Status;

class CliRebuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.File("store.db");
    store_uri_ = "sqlite:" + path_;
    estoria::sqlite::SqliteOptions o;
    o.path = path_;
    o.durability = estoria::Durability::kRelaxed;
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, estoria::sqlite::SqliteEventStore::Open(o));
    store_ = store;
    ESTORIA_ASSERT_OK_AND_ASSIGN(catalog_, estoria::sqlite::SqliteRebuildCatalog::Open({path_}));
    estoria::TypeId stream("item", estoria::Uuid::NewV7());
    for (int i = 0; i < 20; ++i) {
      estoria::WritableEvent e;
      e.type = "added";
      e.data = "{}";
      ESTORIA_ASSERT_OK(store_->AppendStream(stream, {&e, 1}).status());
    }
  }
  // The application's side: a read model "items" with one table, items_vN.
  Result<estoria::RebuildResult> Rebuild(int64_t fail_at, bool cutover) {
    estoria::RebuildOptions o;
    o.name = "items";
    o.tables = {"items"};
    o.cutover = cutover;
    o.progress_interval = 20ms;
    o.processor.retry_interval = 20ms;
    auto factory = [&](int version) -> Result<estoria::RebuildSink> {
      estoria::sqlite::SqliteReadModelOptions mo;
      mo.path = path_;
      mo.durability = estoria::Durability::kRelaxed;
      std::string table = "items_v" + std::to_string(version);
      mo.setup = [table](estoria::sqlite::SqliteDatabase& db) {
        return db.Exec("CREATE TABLE IF NOT EXISTS " + table + " (position INTEGER)");
      };
      mo.lease_ttl = 300ms;
      ESTORIA_ASSIGN_OR_RETURN(
          auto model,
          estoria::sqlite::SqliteReadModel::Open(
              mo, [table, fail_at](estoria::sqlite::SqliteDatabase& db, const estoria::Event& e) -> Status {
                if (e.global_position == fail_at) return Status::Internal("handler bug");
                return db.Exec("INSERT INTO " + table + " VALUES (" + std::to_string(e.global_position) + ")");
              }));
      return estoria::RebuildSink{model, model};
    };
    return estoria::RebuildProjection(store_, *catalog_, factory, o);
  }
  RunResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), "projections");
    args.insert(args.begin(), kBinary);
    args.push_back("--store=" + store_uri_);
    return RunCommand(args);
  }

  TempDir dir_;
  std::string path_, store_uri_;
  std::shared_ptr<estoria::EventStore> store_;
  std::shared_ptr<estoria::sqlite::SqliteRebuildCatalog> catalog_;
};

TEST_F(CliRebuildTest, HistoryCutOverRollbackAbandonAndErrors) {
  RunResult r = Cli({"history", "items"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("projection items has no active version"), std::string::npos) << r.err;

  ESTORIA_ASSERT_OK(Rebuild(0, true).status());
  r = Cli({"rollback", "items"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("no previous version to roll back to"), std::string::npos) << r.err;
  r = Cli({"rebuild", "items"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("has no rebuild in progress"), std::string::npos) << r.err;

  // Version 2 stops on a handler bug half-way: not caught up, no cut-over.
  EXPECT_FALSE(Rebuild(10, true).ok());
  r = Cli({"cutover", "items"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("not caught up"), std::string::npos) << r.err;
  r = Cli({"rebuild", "items", "--no-cutover", "--timeout", "1", "--json"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("timeout"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find(R"("state":"following")"), std::string::npos) << r.out;

  // The fixed application resumes version 2 and keeps it caught up
  // (--no-cutover on its side); `projections rebuild` follows it and cuts over.
  Result<estoria::RebuildResult> app = Status::Internal("not run");
  std::thread application([&] { app = Rebuild(0, false); });
  r = Cli({"rebuild", "items", "--json", "--timeout", "60"});
  application.join();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(R"("state":"promoted")"), std::string::npos) << r.out;
  ESTORIA_ASSERT_OK(app.status());
  EXPECT_TRUE(app->promoted);
  EXPECT_TRUE(app->resumed);

  r = Cli({"rollback", "items", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(R"("active_version":1)"), std::string::npos) << r.out;
  r = Cli({"abandon", "items", "--version", "1"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("is active"), std::string::npos) << r.err;
  r = Cli({"abandon", "items"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("dropped items_v2"), std::string::npos) << r.out;

  r = Cli({"history", "items", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> steps;
  static const std::regex kStep(R"re("step":"(\w+)","version":(\d+))re");
  for (std::sregex_iterator it(r.out.begin(), r.out.end(), kStep), end; it != end; ++it) {
    steps.push_back((*it)[1].str() + (*it)[2].str());
  }
  EXPECT_EQ(steps, (std::vector<std::string>{"started1", "caught_up1", "promoted1", "started2", "resumed2",
                                             "caught_up2", "promoted2", "rolled_back2", "abandoned2"}))
      << r.out;
  r = Cli({"history", "items"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("rolled_back"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("replaced version 1"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace estoria_cli_test
