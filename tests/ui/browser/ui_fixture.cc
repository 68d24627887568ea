// estoria_ui_fixture: the data and the running projection behind the web UI's
// browser tests (tests/ui/browser/ui_test.mjs).
//   estoria_ui_fixture STORE_PATH MODEL_PATH CONTROL_DIR
// Fills the SQLite store STORE_PATH (when empty) with streams of several types:
// JSON events, a text/plain event, a binary event, events whose data and
// metadata carry "<script>" payloads, and two "poisoned" events. Then runs the
// projection "ui-fixture" (SqliteReadModel in MODEL_PATH, FailurePolicy::Park)
// whose handler records every applied position in the table applied(position)
// and fails on a "poisoned" event until the file CONTROL_DIR/heal exists: both
// are parked as dead letters, and a replay requested after the test created
// the file applies one. Prints "ready <head position> <first poisoned position>"
// once the processor has caught up, then runs until SIGTERM (exit 0).
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "estoria/projection/processor.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "estoria/sqlite/sqlite_read_model.h"

namespace {

using namespace estoria;
using namespace std::chrono_literals;

int Fail(const Status& s, const char* what) {
  std::fprintf(stderr, "ui_fixture: %s: %s\n", what, s.ToString().c_str());
  return 2;
}

WritableEvent Json(std::string type, std::string data, Metadata metadata = {}) {
  WritableEvent e;
  e.type = std::move(type);
  e.data = std::move(data);
  e.metadata = std::move(metadata);
  return e;
}

WritableEvent Typed(std::string type, std::string data, std::string content_type) {
  WritableEvent e;
  e.type = std::move(type);
  e.data = std::move(data);
  e.content_type = std::move(content_type);
  return e;
}

// Appends the fixture's streams; returns the first poisoned event's position
// (the second one follows it).
Result<int64_t> Fill(EventStore& store) {
  struct Stream {
    std::string type;
    std::vector<WritableEvent> events;
  };
  std::string binary("\x00\x01\x02\xff\xfe<script>", 11);
  std::vector<Stream> streams = {
      {"account",
       {Json("account_opened", R"({"owner":"Ada Lovelace","currency":"EUR"})", {{"user", "ada"}}),
        Json("money_deposited", R"({"amount":125,"note":"first deposit"})"),
        Json("money_withdrawn", R"({"amount":25})")}},
      {"account",
       {Json("account_opened", R"({"owner":"Grace Hopper","currency":"USD"})"),
        Json("money_deposited", R"({"amount":900})")}},
      {"order",
       {Json("order_placed", R"({"sku":"BOOK-42","quantity":2,"lines":[{"sku":"BOOK-42","price":19.5}]})"),
        Typed("order_note", "Please deliver after 6 pm.", "text/plain")}},
      {"blob", {Typed("blob_stored", binary, "application/octet-stream")}},
      {"note",
       {Json(
            "note_added",
            R"({"text":"<script>window.__pwned=1;alert(1)</script>","html":"<img src=x onerror=\"window.__pwned=2\">"})",
            {{"comment", "<script>window.__pwned=3</script>"}}),
        Typed("note_added", "<script>window.__pwned=4</script>", "text/html")}},
      {"account",
       {Json("poisoned", R"({"reason":"the handler fails on this event"})"),
        Json("poisoned", R"({"reason":"this one is skipped"})")}},
  };
  int64_t poisoned = 0;
  for (auto& s : streams) {
    auto appended = store.AppendStream(TypeId(s.type, Uuid::NewV7()), s.events);
    if (!appended) return appended.error();
    for (const Event& e : *appended)
      if (e.type() == "poisoned" && poisoned == 0) poisoned = e.global_position;
  }
  return poisoned;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s STORE_PATH MODEL_PATH CONTROL_DIR\n", argv[0]);
    return 64;
  }
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigaddset(&term, SIGINT);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);  // every thread inherits it; main waits below

  sqlite::SqliteOptions so;
  so.path = argv[1];
  so.durability = Durability::kRelaxed;
  auto opened = sqlite::SqliteEventStore::Open(so);
  if (!opened) return Fail(opened.error(), "open store");
  std::shared_ptr<EventStore> store = *opened;
  auto head = (*opened)->HeadPosition();
  if (!head) return Fail(head.error(), "head");
  int64_t poisoned = 0;
  if (*head == 0) {
    auto filled = Fill(*store);
    if (!filled) return Fail(filled.error(), "fill");
    poisoned = *filled;
  }

  std::filesystem::path heal = std::filesystem::path(argv[3]) / "heal";
  sqlite::SqliteReadModelOptions mo;
  mo.path = argv[2];
  mo.durability = Durability::kRelaxed;
  mo.lease_ttl = 3000ms;
  mo.setup = [](sqlite::SqliteDatabase& db) {
    return db.Exec("CREATE TABLE IF NOT EXISTS applied (position INTEGER NOT NULL)");
  };
  auto model = sqlite::SqliteReadModel::Open(mo, [heal](sqlite::SqliteDatabase& db, const Event& e) -> Status {
    if (e.type() == "poisoned" && !std::filesystem::exists(heal))
      return Status::Internal("ui_fixture: refusing the poisoned event until the heal file exists");
    auto st = db.Prepare("INSERT INTO applied (position) VALUES (?)");
    if (!st) return st.error();
    if (Status s = st->BindInt64(1, e.global_position); !s.ok()) return s;
    return st->Run();
  });
  if (!model) return Fail(model.error(), "open model");

  ProcessorOptions po;
  po.name = "ui-fixture";
  po.batch_size = 64;
  po.poll_interval = 100ms;
  po.retry_interval = 50ms;
  po.failure_policy = FailurePolicy::Park(1);
  po.lock = *model;
  po.lock_retry_interval = 50ms;
  auto processor = Processor::Create(store, *model, po);
  if (!processor) return Fail(processor.error(), "create processor");
  if (Status s = (*processor)->Start(); !s.ok()) return Fail(s, "start");
  if (Status s = (*processor)->WaitUntilCaughtUp(30s); !s.ok()) return Fail(s, "catch up");
  head = (*opened)->HeadPosition();
  if (!head) return Fail(head.error(), "head");
  std::printf("ready %lld %lld\n", static_cast<long long>(*head), static_cast<long long>(poisoned));
  std::fflush(stdout);

  int sig = 0;
  sigwait(&term, &sig);
  if (Status s = (*processor)->Stop(); !s.ok()) return Fail(s, "stop");
  return 0;
}
