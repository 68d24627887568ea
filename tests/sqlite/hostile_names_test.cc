// Hostile names against SQLite: injection strings, quotes, dotted names, empty,
// over-long, NUL and non-ASCII values through every public entry point that
// takes a name (the store path and URI, table names given to DropTables and
// VersionedName, checkpoint, dead-letter, version, lease and read-model names,
// stream and event types, metadata). Each is rejected with InvalidArgument or
// stored and read back verbatim, and nothing outside the intended objects
// changes: a sentinel table keeps its row and the database's list of tables,
// indexes and triggers is the same before and after.
#include <filesystem>
#include <set>

#include "estoria/open.h"
#include "estoria/projection/versioning.h"
#include "estoria/sqlite/database.h"
#include "estoria/sqlite/sqlite_checkpoint_store.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "estoria/sqlite/sqlite_lease.h"
#include "estoria/sqlite/sqlite_projection_stores.h"
#include "estoria/sqlite/sqlite_read_model.h"
#include "estoria/testing/matchers.h"
#include "sqlite_test_util.h"

namespace estoria::sqlite {
namespace {

using ::estoria::testing::StatusIs;
using ::testing::HasSubstr;

std::vector<std::string> HostileNames() {
  return {
      "x\"; DROP TABLE sentinel; --",
      "x'; DROP TABLE sentinel; --",
      "a'b",
      "main.estoria_events",
      "sentinel",
      "\"",
      "",
      std::string(64, 'a'),
      std::string(300, 'b'),
      std::string("ab\0cd", 5),
      "caf\xc3\xa9",
      "Upper",
      "9lives",
      "a b",
      "a]b",
      "a`b",
  };
}

class SqliteHostileNamesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.File("events.db");
    ESTORIA_ASSERT_OK_AND_ASSIGN(store_, SqliteEventStore::Open(SqliteOptions{.path = path_}));
    SqliteStoreOptions options{.path = path_};
    ESTORIA_ASSERT_OK_AND_ASSIGN(checkpoints_, SqliteCheckpointStore::Open(options));
    ESTORIA_ASSERT_OK_AND_ASSIGN(dead_letters_, SqliteDeadLetterStore::Open(options));
    ESTORIA_ASSERT_OK_AND_ASSIGN(versions_, SqliteVersionRegistry::Open(options));
    ESTORIA_ASSERT_OK_AND_ASSIGN(lease_, SqliteLease::Open(SqliteLeaseOptions{.path = path_, .owner = "me"}));
    ESTORIA_ASSERT_OK_AND_ASSIGN(db_, SqliteProjectionTables::Open(options));
    ESTORIA_ASSERT_OK(db_->Exec("CREATE TABLE sentinel (v TEXT NOT NULL); INSERT INTO sentinel VALUES ('alive')"));
    before_ = Catalog();
    ASSERT_TRUE(before_.contains("table:sentinel"));
    ASSERT_TRUE(before_.contains("table:estoria_events"));
  }

  void TearDown() override {
    if (db_) {
      EXPECT_EQ(Catalog(), before_);
      ESTORIA_ASSERT_OK_AND_ASSIGN(std::string v, db_->QueryText("SELECT group_concat(v) FROM sentinel"));
      EXPECT_EQ(v, "alive");
    }
  }

  // Every table, index, view and trigger of the database.
  std::set<std::string> Catalog() {
    std::set<std::string> out;
    auto st = db_->Prepare("SELECT type || ':' || name FROM sqlite_master");
    EXPECT_TRUE(st.has_value()) << st.error();
    if (!st) return out;
    while (true) {
      auto row = st->Step();
      EXPECT_TRUE(row.has_value()) << row.error();
      if (!row || !*row) break;
      out.insert(std::string(st->ColumnText(0)));
    }
    return out;
  }

  ::estoria::testing::TempDir dir_;
  std::string path_;
  std::shared_ptr<SqliteEventStore> store_;
  std::shared_ptr<SqliteCheckpointStore> checkpoints_;
  std::shared_ptr<SqliteDeadLetterStore> dead_letters_;
  std::shared_ptr<SqliteVersionRegistry> versions_;
  std::shared_ptr<SqliteLease> lease_;
  std::unique_ptr<SqliteDatabase> db_;
  std::set<std::string> before_;
};

TEST_F(SqliteHostileNamesTest, TableNamesAreValidatedBeforeReachingSql) {
  for (const std::string& name : HostileNames()) {
    SCOPED_TRACE("table \"" + name + "\"");
    Status st = SqliteProjectionTables::DropTables(*db_, {name});
    if (name == "sentinel") {
      // A valid identifier: DropTables drops exactly that table. Put it back.
      ESTORIA_ASSERT_OK(st);
      ESTORIA_ASSERT_OK(db_->Exec("CREATE TABLE sentinel (v TEXT NOT NULL); INSERT INTO sentinel VALUES ('alive')"));
      continue;
    }
    EXPECT_THAT(st, StatusIs(StatusCode::kInvalidArgument));
    EXPECT_THAT(st.message(), HasSubstr("is not a valid SQL identifier")) << st;
    EXPECT_THAT(VersionedName(name, 1), StatusIs(StatusCode::kInvalidArgument));
    // A valid name listed after a hostile one is not dropped either.
    EXPECT_THAT(SqliteProjectionTables::DropTables(*db_, {"sentinel", name}), StatusIs(StatusCode::kInvalidArgument));
  }
  EXPECT_THAT(ValidateIdentifier(std::string(49, 'a')).message(), HasSubstr("it has 49 bytes, more than 48"));
  EXPECT_THAT(ValidateIdentifier("a'b").message(), HasSubstr("\"a'b\" is not a valid SQL identifier: byte 1"));
  EXPECT_THAT(ValidateIdentifier(std::string("a\0", 2)).message(), HasSubstr("\"a\\x00\""));
}

TEST_F(SqliteHostileNamesTest, TypesAreValidatedAndDataIsStoredVerbatim) {
  for (const std::string& type : {std::string("a'b"), std::string("x\"; DROP TABLE sentinel; --"), std::string("Upper"),
                                  std::string("\""), std::string("")}) {
    SCOPED_TRACE(type);
    EXPECT_THAT(TypeId::New(type), StatusIs(StatusCode::kInvalidArgument));
    WritableEvent e;
    e.type = type;
    std::vector<WritableEvent> one{e};
    EXPECT_THAT(store_->AppendStream(TypeId::New("account").value(), one), StatusIs(StatusCode::kInvalidArgument));
  }
  for (const std::string& name : HostileNames()) {
    SCOPED_TRACE("data \"" + name + "\"");
    WritableEvent e;
    e.type = "main.estoria_events";  // a valid (dotted) type name: data, not a table
    e.data = name;
    e.content_type = name.empty() ? "application/octet-stream" : name;
    // (An empty metadata key is refused: "empty metadata key".)
    if (!name.empty() && name.find('\0') == std::string::npos) e.metadata[name] = name;
    std::vector<WritableEvent> one{e};
    TypeId stream = TypeId::New("sentinel").value();
    ESTORIA_ASSERT_OK(store_->AppendStream(stream, one));
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto it, store_->ReadStream(stream));
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto read, Collect(*it));
    ASSERT_EQ(read.size(), 1u);
    EXPECT_EQ(read[0].data, name);
    EXPECT_EQ(read[0].metadata, e.metadata);
  }
}

TEST_F(SqliteHostileNamesTest, ProjectionNamesAreStoredVerbatimOrRefused) {
  WritableEvent e;
  e.type = "hostile";
  std::vector<WritableEvent> one{e};
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto appended, store_->AppendStream(TypeId::New("account").value(), one));
  for (const std::string& name : HostileNames()) {
    SCOPED_TRACE("name \"" + name + "\"");
    DeadLetter letter;
    letter.projection = name;
    letter.event = appended[0];
    letter.error = "failed";
    letter.attempts = 1;
    if (name.empty() || name.find('\0') != std::string::npos) {
      // Empty names, and NUL bytes (which PostgreSQL cannot store), are refused
      // by every backend alike.
      EXPECT_THAT(checkpoints_->Save(name, 7), StatusIs(StatusCode::kInvalidArgument));
      EXPECT_THAT(checkpoints_->Load(name), StatusIs(StatusCode::kInvalidArgument));
      EXPECT_THAT(dead_letters_->Park(letter), StatusIs(StatusCode::kInvalidArgument));
      EXPECT_THAT(versions_->SetActiveVersion(name, 2), StatusIs(StatusCode::kInvalidArgument));
      continue;
    }
    ESTORIA_ASSERT_OK(checkpoints_->Save(name, 7));
    ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t loaded, checkpoints_->Load(name));
    EXPECT_EQ(loaded, 7);
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto listed, checkpoints_->List());
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].name, name);
    ESTORIA_ASSERT_OK(checkpoints_->Delete(name));

    ESTORIA_ASSERT_OK(dead_letters_->Park(letter));
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto parked, dead_letters_->List(name));
    ASSERT_EQ(parked.size(), 1u);
    EXPECT_EQ(parked[0].projection, name);
    ESTORIA_ASSERT_OK(dead_letters_->Discard(name, appended[0].global_position));

    ESTORIA_ASSERT_OK(versions_->SetActiveVersion(name, 2));
    ESTORIA_ASSERT_OK_AND_ASSIGN(int active, versions_->ActiveVersion(name));
    EXPECT_EQ(active, 2);

    ESTORIA_ASSERT_OK_AND_ASSIGN(bool acquired, lease_->TryAcquire(name));
    EXPECT_TRUE(acquired);
    lease_->Release(name);
  }
  // The read model's checkpoint and lease use the name as data too.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto model,
                               SqliteReadModel::Open(SqliteReadModelOptions{.path = path_},
                                                     [](SqliteDatabase&, const Event&) { return Status::Ok(); }));
  const std::string name = "x'); DROP TABLE sentinel; --";
  ESTORIA_ASSERT_OK_AND_ASSIGN(bool acquired, model->TryAcquire(name));
  ASSERT_TRUE(acquired);
  ESTORIA_ASSERT_OK(model->Begin(name));
  ESTORIA_ASSERT_OK(model->Apply(appended[0]));
  ESTORIA_ASSERT_OK(model->Commit(name, appended[0].global_position));
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t position, model->LoadPosition(name));
  EXPECT_EQ(position, appended[0].global_position);
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t by_store, checkpoints_->Load(name));
  EXPECT_EQ(by_store, position);
  model->Release(name);
}

TEST_F(SqliteHostileNamesTest, HostilePathsNameFilesNotTables) {
  // A path is a file name: quotes and SQL in it make a file of that name (or an
  // error), never a statement. Names with '/' or NUL are not tried as files.
  for (const std::string& name : HostileNames()) {
    if (name.empty() || name.size() > 200 || name.find('\0') != std::string::npos) continue;
    SCOPED_TRACE("file \"" + name + "\"");
    const std::string path = dir_.File(name);
    auto opened = OpenEventStore("sqlite:" + path);
    ASSERT_TRUE(opened.has_value()) << opened.error();
    EXPECT_TRUE(std::filesystem::exists(path));
  }
  // Unknown URI parameters are refused, whatever they hold.
  EXPECT_THAT(OpenEventStore("sqlite:" + path_ + "?x'; DROP TABLE sentinel; --=1"),
              StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace estoria::sqlite
