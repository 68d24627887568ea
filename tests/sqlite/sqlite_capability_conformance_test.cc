// The capability conformance suites instantiated for SQLite, each on a fresh
// file in a temporary directory: AppendWatcher, EventImporter and StreamLister
// of SqliteEventStore (also on sqlite::memory:), SqliteDeadLetterStore,
// HandlerSink over SqliteCheckpointStore + SqliteDeadLetterStore, and
// SqliteReadModel (effects read back on a second connection).
#include "estoria/sqlite/sqlite_checkpoint_store.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "estoria/sqlite/sqlite_projection_stores.h"
#include "estoria/sqlite/sqlite_read_model.h"
#include "estoria/testing/dead_letter_store_conformance.h"
#include "estoria/testing/event_store_capability_conformance.h"
#include "estoria/testing/projection_sink_conformance.h"
#include "sqlite_test_util.h"

namespace {

using estoria::Event;
using estoria::Result;
using estoria::Status;
using estoria::sqlite::SqliteDatabase;
using estoria::testing::ProjectionSinkUnderTest;

estoria::sqlite::testing::TempDir& Dir() { return estoria::sqlite::testing::ProgramTempDir(); }

ESTORIA_INSTANTIATE_EVENT_STORE_CAPABILITY_CONFORMANCE(SqliteFile,
                                                       []() -> Result<std::shared_ptr<estoria::EventStore>> {
                                                         estoria::sqlite::SqliteOptions o;
                                                         o.path = Dir().NewFile("events");
                                                         o.durability = estoria::Durability::kRelaxed;
                                                         auto store = estoria::sqlite::SqliteEventStore::Open(o);
                                                         if (!store) return store.error();
                                                         return std::shared_ptr<estoria::EventStore>(*store);
                                                       });

ESTORIA_INSTANTIATE_DEAD_LETTER_STORE_CONFORMANCE(SqliteFile,
                                                  []() -> Result<std::shared_ptr<estoria::DeadLetterStore>> {
                                                    auto store = estoria::sqlite::SqliteDeadLetterStore::Open(
                                                        {Dir().NewFile("dead-letters"), estoria::Durability::kRelaxed,
                                                         std::chrono::milliseconds(5000)});
                                                    if (!store) return store.error();
                                                    return std::shared_ptr<estoria::DeadLetterStore>(*store);
                                                  });

// HandlerSink with both stores in one SQLite file.
ESTORIA_INSTANTIATE_PROJECTION_SINK_CONFORMANCE(
    SqliteHandlerSink, [](estoria::EventHandler verdict) -> Result<ProjectionSinkUnderTest> {
      const std::string path = Dir().NewFile("handler-sink");
      auto checkpoints = estoria::sqlite::SqliteCheckpointStore::Open({path, estoria::Durability::kRelaxed});
      if (!checkpoints) return checkpoints.error();
      auto dead_letters = estoria::sqlite::SqliteDeadLetterStore::Open({path, estoria::Durability::kRelaxed});
      if (!dead_letters) return dead_letters.error();
      return estoria::testing::MakeHandlerSinkUnderTest(std::move(verdict), *checkpoints, *dead_letters);
    });

constexpr const char* kEffectsTable =
    "CREATE TABLE IF NOT EXISTS conf_effects (seq INTEGER PRIMARY KEY AUTOINCREMENT, position INTEGER NOT NULL)";

Result<std::vector<int64_t>> ReadEffects(SqliteDatabase& db) {
  ESTORIA_ASSIGN_OR_RETURN(auto st, db.Prepare("SELECT position FROM conf_effects ORDER BY seq"));
  std::vector<int64_t> out;
  for (;;) {
    ESTORIA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(st.ColumnInt64(0));
  }
  return out;
}

// SqliteReadModel: the handler inserts the effect row, then returns the verdict.
Result<ProjectionSinkUnderTest> OpenReadModel(estoria::EventHandler verdict) {
  estoria::sqlite::SqliteReadModelOptions o;
  o.path = Dir().NewFile("read-model");
  o.durability = estoria::Durability::kRelaxed;
  o.setup = [](SqliteDatabase& db) { return db.Exec(kEffectsTable); };
  auto model = estoria::sqlite::SqliteReadModel::Open(
      o, [verdict = std::move(verdict)](SqliteDatabase& db, const Event& e) -> Status {
        ESTORIA_ASSIGN_OR_RETURN(auto st, db.Prepare("INSERT INTO conf_effects (position) VALUES (?)"));
        ESTORIA_RETURN_IF_ERROR(st.BindInt64(1, e.global_position));
        ESTORIA_RETURN_IF_ERROR(st.Run());
        return verdict(e);
      });
  if (!model) return model.error();
  auto reader = SqliteDatabase::Open(o.path);
  if (!reader) return reader.error();
  std::shared_ptr<SqliteDatabase> db(std::move(*reader));
  return ProjectionSinkUnderTest{*model, [db] { return ReadEffects(*db); }};
}

ESTORIA_INSTANTIATE_PROJECTION_SINK_CONFORMANCE(SqliteReadModel, OpenReadModel);

}  // namespace

namespace memory_instantiation {
ESTORIA_INSTANTIATE_EVENT_STORE_CAPABILITY_CONFORMANCE(SqliteMemory,
                                                       []() -> Result<std::shared_ptr<estoria::EventStore>> {
                                                         auto store = estoria::sqlite::SqliteEventStore::OpenUri(
                                                             "sqlite::memory:");
                                                         if (!store) return store.error();
                                                         return std::shared_ptr<estoria::EventStore>(*store);
                                                       });
}  // namespace memory_instantiation
