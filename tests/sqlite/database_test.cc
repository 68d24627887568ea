// Tests of the SQLite RAII wrappers (estoria/sqlite/database.h).
#include "estoria/sqlite/database.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "estoria/testing/matchers.h"
#include "estoria/testing/temp_dir.h"

namespace estoria::sqlite {
namespace {
using ::estoria::testing::StatusIs;

using ::estoria::testing::TempDir;

TEST(SqliteDatabaseTest, ExecPrepareBindStepRoundTrip) {
  TempDir dir;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto db, SqliteDatabase::Open(dir.File("a.db")));
  ESTORIA_ASSERT_OK(db->ConfigureWal(Durability::kStrict));
  ESTORIA_ASSERT_OK(db->Exec("CREATE TABLE t(i INTEGER, s TEXT, b BLOB, n TEXT)"));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto ins, db->Prepare("INSERT INTO t VALUES (?, ?, ?, ?)"));
  std::string bytes("a\0b\xff", 4);
  ESTORIA_ASSERT_OK(ins.BindInt64(1, -42));
  ESTORIA_ASSERT_OK(ins.BindText(2, "hello"));
  ESTORIA_ASSERT_OK(ins.BindBlob(3, bytes));
  ESTORIA_ASSERT_OK(ins.BindNull(4));
  ESTORIA_ASSERT_OK(ins.Run());
  EXPECT_EQ(db->Changes(), 1);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto sel, db->Prepare("SELECT i, s, b, n FROM t"));
  ESTORIA_ASSERT_OK_AND_ASSIGN(bool row, sel.Step());
  ASSERT_TRUE(row);
  EXPECT_EQ(sel.ColumnInt64(0), -42);
  EXPECT_EQ(sel.ColumnText(1), "hello");
  EXPECT_EQ(sel.ColumnBlob(2), bytes);
  EXPECT_TRUE(sel.ColumnIsNull(3));
  ESTORIA_ASSERT_OK_AND_ASSIGN(row, sel.Step());
  EXPECT_FALSE(row);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto mode, db->QueryText("PRAGMA journal_mode"));
  EXPECT_EQ(mode, "wal");
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto sync, db->QueryInt64("PRAGMA synchronous"));
  EXPECT_EQ(sync, 2);  // FULL
  ESTORIA_ASSERT_OK(db->ConfigureWal(Durability::kRelaxed));
  ESTORIA_ASSERT_OK_AND_ASSIGN(sync, db->QueryInt64("PRAGMA synchronous"));
  EXPECT_EQ(sync, 1);  // NORMAL
}

TEST(SqliteDatabaseTest, TransactionGuardRollsBackUnlessCommitted) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto db, SqliteDatabase::Open(":memory:"));
  ESTORIA_ASSERT_OK(db->Exec("CREATE TABLE t(i INTEGER)"));
  {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto tx, SqliteTransaction::Begin(*db));
    ESTORIA_ASSERT_OK(db->Exec("INSERT INTO t VALUES (1)"));
  }
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto n, db->QueryInt64("SELECT count(*) FROM t"));
  EXPECT_EQ(n, 0);
  {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto tx, SqliteTransaction::Begin(*db));
    ESTORIA_ASSERT_OK(db->Exec("INSERT INTO t VALUES (1)"));
    ESTORIA_ASSERT_OK(tx.Commit());
  }
  ESTORIA_ASSERT_OK_AND_ASSIGN(n, db->QueryInt64("SELECT count(*) FROM t"));
  EXPECT_EQ(n, 1);
}

TEST(SqliteDatabaseTest, CachedStatementsAreResetOnReuse) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto db, SqliteDatabase::Open(":memory:"));
  ESTORIA_ASSERT_OK(db->Exec("CREATE TABLE t(i INTEGER PRIMARY KEY)"));
  for (int i = 1; i <= 3; ++i) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(SqliteStatement * ins, db->PrepareCached("INSERT INTO t VALUES (?)"));
    ESTORIA_ASSERT_OK(ins->BindInt64(1, i));
    ESTORIA_ASSERT_OK(ins->Run());
  }
  ESTORIA_ASSERT_OK_AND_ASSIGN(SqliteStatement * ins, db->PrepareCached("INSERT INTO t VALUES (?)"));
  ESTORIA_ASSERT_OK(ins->BindInt64(1, 2));
  EXPECT_THAT(ins->Run(), StatusIs(StatusCode::kAlreadyExists));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto n, db->QueryInt64("SELECT count(*) FROM t"));
  EXPECT_EQ(n, 3);
}

TEST(SqliteDatabaseTest, BusyPastTimeoutIsUnavailable) {
  TempDir dir;
  SqliteDatabaseOptions opts;
  opts.busy_timeout = std::chrono::milliseconds(50);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto a, SqliteDatabase::Open(dir.File("b.db"), opts));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto b, SqliteDatabase::Open(dir.File("b.db"), opts));
  ESTORIA_ASSERT_OK(a->ConfigureWal(Durability::kRelaxed));
  ESTORIA_ASSERT_OK(a->Exec("CREATE TABLE t(i INTEGER)"));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto tx, SqliteTransaction::Begin(*a));
  auto second = SqliteTransaction::Begin(*b);
  ASSERT_FALSE(second.has_value());
  EXPECT_TRUE(second.error().IsUnavailable()) << second.error();
}

TEST(SqliteDatabaseTest, ClearErrorsAtOpen) {
  TempDir dir;
  auto missing = SqliteDatabase::Open(dir.File("no/such/dir/x.db"));
  ASSERT_FALSE(missing.has_value());
  EXPECT_TRUE(missing.error().IsInvalidArgument()) << missing.error();
  EXPECT_NE(missing.error().message().find("does not exist"), std::string::npos);

  std::string text = dir.File("text.db");
  std::ofstream(text) << "this is not an SQLite database, just some text that is long enough to matter\n";
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto db, SqliteDatabase::Open(text));
  EXPECT_THAT(db->Validate(), StatusIs(StatusCode::kCorruption));
}

TEST(SqliteDatabaseTest, SyntaxErrorIsInvalidArgument) {
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto db, SqliteDatabase::Open(":memory:"));
  EXPECT_THAT(db->Prepare("SELEC 1").error(), StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace estoria::sqlite
