// Opening bad files: each gives a clear error at open and leaves the file as it
// was (corrupted, non-SQLite, read-only, newer schema, missing directory).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "estoria/sqlite/database.h"
#include "estoria/sqlite/sqlite_checkpoint_store.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "estoria/sqlite/sqlite_snapshot_store.h"
#include "estoria/testing/matchers.h"
#include "sqlite_test_util.h"

namespace estoria::sqlite {
namespace {

using ::estoria::testing::StatusIs;
using testing::ReadBytes;
using testing::TempDir;

struct FileState {
  std::string bytes;
  struct timespec mtime {};
  bool operator==(const FileState& o) const {
    return bytes == o.bytes && mtime.tv_sec == o.mtime.tv_sec && mtime.tv_nsec == o.mtime.tv_nsec;
  }
};

FileState StateOf(const std::string& path) {
  FileState s;
  s.bytes = ReadBytes(path);
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  s.mtime = st.st_mtim;
  return s;
}

Status OpenStatus(const std::string& path, bool read_only = false) {
  SqliteOptions o;
  o.path = path;
  o.read_only = read_only;
  return SqliteEventStore::Open(o).error();
}

// A store with a few events, closed.
void MakeStore(const std::string& path, int events = 3) {
  SqliteOptions o;
  o.path = path;
  auto store = SqliteEventStore::Open(o);
  ASSERT_TRUE(store.has_value()) << store.error();
  WritableEvent e;
  e.type = "happened";
  e.data = "{}";
  TypeId id = TypeId::New("thing").value();
  for (int i = 0; i < events; ++i) ESTORIA_ASSERT_OK((*store)->AppendStream(id, std::vector<WritableEvent>{e}).error());
}

TEST(SqliteOpenErrorsTest, MissingDirectoryIsInvalidArgumentNamingThePath) {
  TempDir dir;
  std::string path = dir.File("no/such/dir/events.db");
  Status st = OpenStatus(path);
  EXPECT_TRUE(st.IsInvalidArgument()) << st;
  EXPECT_NE(st.message().find(path), std::string::npos) << st;
  EXPECT_NE(st.message().find("does not exist"), std::string::npos) << st;
  EXPECT_FALSE(std::filesystem::exists(dir.File("no")));
  EXPECT_THAT(SqliteSnapshotStore::Open({.path = path}), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(SqliteCheckpointStore::Open({.path = path}), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(OpenStatus(dir.path()), StatusIs(StatusCode::kInvalidArgument));  // a directory
  EXPECT_THAT(OpenStatus(dir.File("absent.db"), /*read_only=*/true), StatusIs(StatusCode::kInvalidArgument));
}

TEST(SqliteOpenErrorsTest, NonSqliteFileIsCorruptionAndUntouched) {
  TempDir dir;
  std::string path = dir.File("notes.txt");
  std::ofstream(path) << std::string(8192, 'x') << "\nnot a database\n";
  FileState before = StateOf(path);
  Status st = OpenStatus(path);
  EXPECT_TRUE(st.IsCorruption()) << st;
  EXPECT_NE(st.message().find(path), std::string::npos) << st;
  EXPECT_THAT(SqliteSnapshotStore::Open({.path = path}), StatusIs(StatusCode::kCorruption));
  EXPECT_TRUE(StateOf(path) == before);
  EXPECT_FALSE(std::filesystem::exists(path + "-wal"));
}

TEST(SqliteOpenErrorsTest, CorruptedFileIsCorruption) {
  TempDir dir;
  std::string path = dir.File("corrupt.db");
  MakeStore(path);
  std::string bytes = ReadBytes(path);
  ASSERT_GT(bytes.size(), 4096u);
  // Keep the 100-byte header, overwrite the schema page and everything after.
  for (size_t i = 100; i < bytes.size(); ++i) bytes[i] = static_cast<char>(0xA5 ^ (i * 7));
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  Status st = OpenStatus(path);
  EXPECT_TRUE(st.IsCorruption()) << st;
  // A damaged header magic: not a database at all.
  bytes[0] = 'X';
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  st = OpenStatus(path);
  EXPECT_TRUE(st.IsCorruption()) << st;
}

TEST(SqliteOpenErrorsTest, ReadOnlyFileIsNeverModified) {
  TempDir dir;
  std::string path = dir.File("ro.db");
  MakeStore(path, 5);
  ASSERT_EQ(::chmod(path.c_str(), 0444), 0);
  FileState before = StateOf(path);

  // Without read_only: refused up front, even as root (who ignores 0444).
  Status st = OpenStatus(path);
  EXPECT_TRUE(st.IsFailedPrecondition()) << st;
  EXPECT_NE(st.message().find(path), std::string::npos) << st;
  EXPECT_NE(st.message().find("read-only"), std::string::npos) << st;
  EXPECT_THAT(SqliteCheckpointStore::Open({.path = path}), StatusIs(StatusCode::kFailedPrecondition));

  // With read_only: readable, every write refused.
  {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, SqliteEventStore::OpenUri("sqlite:" + path + "?mode=ro"));
    ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, store->HeadPosition());
    EXPECT_EQ(head, 5);
    auto it = store->ReadAll();
    ASSERT_TRUE(it.has_value()) << it.error();
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, Collect(**it));
    EXPECT_EQ(all.size(), 5u);
    WritableEvent e;
    e.type = "happened";
    EXPECT_THAT(store->AppendStream(all[0].stream_id, std::vector<WritableEvent>{e}),
                StatusIs(StatusCode::kFailedPrecondition));
    EXPECT_THAT(store->DeleteStream(all[0].stream_id), StatusIs(StatusCode::kFailedPrecondition));
  }
  EXPECT_TRUE(StateOf(path) == before);
}

TEST(SqliteOpenErrorsTest, NewerSchemaIsRefusedAndFileUntouched) {
  TempDir dir;
  std::string path = dir.File("future.db");
  MakeStore(path);
  {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto raw, SqliteDatabase::Open(path));
    ESTORIA_ASSERT_OK(raw->Exec("UPDATE estoria_schema SET version = 99 WHERE component = 'events'"));
  }
  FileState before = StateOf(path);
  Status st = OpenStatus(path);
  EXPECT_TRUE(st.IsFailedPrecondition()) << st;
  EXPECT_NE(st.message().find("99"), std::string::npos) << st;
  EXPECT_NE(st.message().find("version 1"), std::string::npos) << st;
  EXPECT_NE(st.message().find(path), std::string::npos) << st;
  EXPECT_TRUE(StateOf(path) == before);
  // Another component in the same file is unaffected.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto checkpoints, SqliteCheckpointStore::Open({.path = path}));
  ESTORIA_ASSERT_OK(checkpoints->Save("p", 1));
}

TEST(SqliteOpenErrorsTest, EventsSnapshotsAndCheckpointsShareOneFile) {
  TempDir dir;
  std::string path = dir.File("all.db");
  MakeStore(path, 2);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto events, SqliteEventStore::Open({.path = path}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto snapshots, SqliteSnapshotStore::Open({.path = path}));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto checkpoints, SqliteCheckpointStore::Open({.path = path}));
  Snapshot s;
  s.aggregate_id = TypeId::New("thing").value();
  s.version = 2;
  s.timestamp = Now();
  s.data = "{\"n\":2}";
  ESTORIA_ASSERT_OK(snapshots->Save(s));
  ESTORIA_ASSERT_OK(checkpoints->Save("proj", 2));
  ESTORIA_ASSERT_OK_AND_ASSIGN(Snapshot loaded, snapshots->Load(s.aggregate_id));
  EXPECT_EQ(loaded, s);
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, events->HeadPosition());
  EXPECT_EQ(head, 2);
}

}  // namespace
}  // namespace estoria::sqlite
