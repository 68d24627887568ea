// SqliteSnapshotStore and SqliteCheckpointStore beyond the conformance suites:
// persistence across reopen, and a checkpoint written in the caller's
// transaction together with read-model rows.
#include <gtest/gtest.h>

#include "estoria/sqlite/database.h"
#include "estoria/sqlite/sqlite_checkpoint_store.h"
#include "estoria/sqlite/sqlite_snapshot_store.h"
#include "estoria/testing/matchers.h"
#include "sqlite_test_util.h"

namespace estoria::sqlite {
namespace {

using ::estoria::testing::StatusIs;
using testing::TempDir;

TEST(SqliteStoresTest, SnapshotsAndCheckpointsSurviveReopen) {
  TempDir dir;
  std::string path = dir.File("stores.db");
  Snapshot s;
  s.aggregate_id = TypeId::New("account").value();
  s.version = 12;
  s.timestamp = Now();
  s.schema_version = 2;
  s.content_type = "application/octet-stream";
  s.data = std::string("\0\xff state", 8);
  {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto snapshots, SqliteSnapshotStore::Open({.path = path}, {.keep_last = 2}));
    ESTORIA_ASSERT_OK(snapshots->Save(s));
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto checkpoints, SqliteCheckpointStore::Open({.path = path}));
    ESTORIA_ASSERT_OK(checkpoints->Save("balances", 99));
  }
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto snapshots, SqliteSnapshotStore::Open({.path = path}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(Snapshot loaded, snapshots->Load(s.aggregate_id));
  EXPECT_EQ(loaded, s);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto checkpoints, SqliteCheckpointStore::Open({.path = path}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t p, checkpoints->Load("balances"));
  EXPECT_EQ(p, 99);
}

TEST(SqliteStoresTest, CheckpointCommitsOrRollsBackWithReadModelRows) {
  TempDir dir;
  std::string path = dir.File("readmodel.db");
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto db, SqliteDatabase::Open(path));
  ESTORIA_ASSERT_OK(db->ConfigureWal(Durability::kStrict));
  ESTORIA_ASSERT_OK(SqliteCheckpointStore::EnsureSchema(*db));
  ESTORIA_ASSERT_OK(db->Exec("CREATE TABLE balances (account TEXT PRIMARY KEY, amount INTEGER NOT NULL)"));
  {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto tx, SqliteTransaction::Begin(*db));
    ESTORIA_ASSERT_OK(db->Exec("INSERT INTO balances VALUES ('a', 10)"));
    ESTORIA_ASSERT_OK(SqliteCheckpointStore::SaveIn(*db, "balances", 1));
    ESTORIA_ASSERT_OK(tx.Commit());
  }
  {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto tx, SqliteTransaction::Begin(*db));
    ESTORIA_ASSERT_OK(db->Exec("UPDATE balances SET amount = amount + 5 WHERE account = 'a'"));
    ESTORIA_ASSERT_OK(SqliteCheckpointStore::SaveIn(*db, "balances", 2));
    // no commit: the handler failed, both roll back together
  }
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t amount, db->QueryInt64("SELECT amount FROM balances WHERE account = 'a'"));
  EXPECT_EQ(amount, 10);
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t p, SqliteCheckpointStore::LoadIn(*db, "balances"));
  EXPECT_EQ(p, 1);
  // The store API sees the same table.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, SqliteCheckpointStore::Open({.path = path}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(p, store->Load("balances"));
  EXPECT_EQ(p, 1);
  EXPECT_THAT(SqliteCheckpointStore::SaveIn(*db, "", 1), StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace estoria::sqlite
