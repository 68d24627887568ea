// The `estoria ui` server in-process on 127.0.0.1:0, talked to by a real
// httplib::Client over the socket, over a SQLite file, the memory store and
// PostgreSQL (when ESTORIA_TEST_POSTGRES is set).
#include "ui_server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "estoria/memory/memory_event_store.h"
#include "estoria/open.h"
#include "estoria/projection/processor.h"
#include "estoria/sqlite/database.h"
#include "estoria/sqlite/sqlite_checkpoint_store.h"
#include "estoria/sqlite/sqlite_projection_stores.h"
#ifdef ESTORIA_UI_TEST_POSTGRES
#include "estoria/postgres/postgres_advisory_lock.h"
#include "estoria/postgres/postgres_checkpoint_store.h"
#include "estoria/postgres/postgres_projection_stores.h"
#include "postgres/pg_test_util.h"
#endif

namespace estoria::ui {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

Json Body(const httplib::Result& r) { return Json::parse(r->body); }

WritableEvent JsonEvent(std::string type, std::string data) {
  WritableEvent e;
  e.type = std::move(type);
  e.data = std::move(data);
  return e;
}

// A store of one backend plus where its projection state lives.
struct Backend {
  std::string name;
  std::string uri;  // "" for the in-process memory store
  std::shared_ptr<EventStore> store;
  std::shared_ptr<CheckpointStore> checkpoints;
  std::shared_ptr<DeadLetterStore> dead_letters;
};

class UiServerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    backend_.name = GetParam();
    if (backend_.name == "sqlite") {
      std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
      std::replace(test.begin(), test.end(), '/', '_');
      path_ =
          std::filesystem::temp_directory_path() / ("estoria_ui_test_" + std::to_string(getpid()) + "_" + test + ".db");
      Cleanup();
      backend_.uri = "sqlite:" + path_;
      backend_.store = OpenEventStore(backend_.uri).value();
      sqlite::SqliteStoreOptions o;
      o.path = path_;
      backend_.checkpoints = sqlite::SqliteCheckpointStore::Open(o).value();
      backend_.dead_letters = sqlite::SqliteDeadLetterStore::Open(o).value();
    } else if (backend_.name == "memory") {
      backend_.store = memory::MemoryEventStore::Open().value();
    } else {
#ifdef ESTORIA_UI_TEST_POSTGRES
      ESTORIA_REQUIRE_POSTGRES();
      schema_ = postgres::testing::UniqueSchema("ui");
      postgres::PostgresOptions po = postgres::testing::TestOptions(schema_);
      std::string base = postgres::testing::ServerUri();
      backend_.uri = base + (base.find('?') == std::string::npos ? "?" : "&") + "estoria_schema=" + schema_;
      backend_.store = OpenEventStore(backend_.uri).value();
      backend_.checkpoints = postgres::PostgresCheckpointStore::Open(po).value();
      backend_.dead_letters = postgres::PostgresDeadLetterStore::Open(po).value();
#else
      GTEST_SKIP() << "PostgreSQL backend not built";
#endif
    }
  }

  void TearDown() override {
    server_.reset();
    backend_ = Backend{};
    if (!path_.empty()) Cleanup();
#ifdef ESTORIA_UI_TEST_POSTGRES
    if (!schema_.empty()) postgres::testing::DropSchema(schema_);
#endif
  }

  void Cleanup() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  }

  void StartServer(UiOptions o = {}) {
    o.store_uri = backend_.uri.empty() ? "memory:" : backend_.uri;
    if (o.host.empty()) o.host = "127.0.0.1";
    o.port = 0;
    auto s = UiServer::Start(o, backend_.store);
    ASSERT_TRUE(s.has_value()) << s.error();
    server_ = std::move(*s);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(10, 0);
  }

  std::vector<Event> Append(const TypeId& stream, std::vector<WritableEvent> events) {
    auto r = backend_.store->AppendStream(stream, events);
    EXPECT_TRUE(r.has_value()) << r.error();
    return r ? *r : std::vector<Event>{};
  }

  Backend backend_;
  std::string path_;
  std::string schema_;
  std::unique_ptr<UiServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_P(UiServerTest, OverviewCountsStreamsUpToTheCap) {
  for (int i = 0; i < 5; ++i) Append(TypeId::New("order").value(), {JsonEvent("placed", R"({"n":1})")});
  UiOptions o;
  o.stream_count_cap = 3;
  StartServer(o);
  Json j = Body(client_->Get("/api/overview"));
  EXPECT_EQ(j["streams"], 3);
  EXPECT_EQ(j["streams_capped"], true);
  server_->Stop();
  o.stream_count_cap = 5;
  StartServer(o);
  j = Body(client_->Get("/api/overview"));
  EXPECT_EQ(j["streams"], 5);
  EXPECT_EQ(j["streams_capped"], false);
}

TEST_P(UiServerTest, EndpointsReturnWhatWasStored) {
  TypeId a = TypeId::New("order").value();
  TypeId b = TypeId::New("order").value();
  TypeId u = TypeId::New("user").value();
  Append(a, {JsonEvent("placed", R"({"n":1})"), JsonEvent("shipped", R"({"n":2})")});
  WritableEvent evil = JsonEvent("note", R"({"html":"<script>alert(1)</script>"})");
  WritableEvent binary;
  binary.type = "blob";
  binary.data = std::string("\x00\xff\x10", 3);
  binary.content_type = "application/octet-stream";
  WritableEvent text;
  text.type = "memo";
  text.data = "plain <b>text</b>";
  text.content_type = "text/plain";
  Append(u, {evil, binary, text});
  Append(b, {JsonEvent("placed", R"({"n":3})")});
  StartServer();

  // Session.
  auto r = client_->Get("/api/session");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Cache-Control"), "no-store");
  EXPECT_EQ(r->get_header_value("Content-Security-Policy"), kCsp);
  EXPECT_EQ(Body(r)["allow_writes"], false);
  EXPECT_EQ(Body(r)["csrf"].get<std::string>().size(), 64u);

  // $all, paged by 2: positions 1..6 over three pages.
  std::vector<int64_t> positions;
  Json after = 0;
  for (int page = 0; page < 5 && !after.is_null(); ++page) {
    r = client_->Get("/api/all?limit=2&after=" + std::to_string(after.get<int64_t>()));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    Json j = Body(r);
    EXPECT_EQ(j["head"], 6);
    for (const Json& e : j["events"]) positions.push_back(e["position"]);
    after = j["next"];
    if (j["events"].size() < 2) {
      EXPECT_TRUE(after.is_null());
    }
  }
  EXPECT_EQ(positions, (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));

  // Filters.
  r = client_->Get("/api/all?stream_type=user");
  Json j = Body(r);
  ASSERT_EQ(j["events"].size(), 3u);
  EXPECT_EQ(j["events"][0]["stream"], u.ToString());
  EXPECT_TRUE(j["next"].is_null());
  r = client_->Get("/api/all?event_type=placed,memo");
  j = Body(r);
  ASSERT_EQ(j["events"].size(), 3u);
  EXPECT_EQ(j["events"][0]["type"], "placed");
  EXPECT_EQ(j["events"][1]["type"], "memo");
  EXPECT_EQ(j["events"][2]["stream_id"], b.uuid().ToString());

  // One event: data kinds; <script> comes back as data.
  r = client_->Get("/api/events/3");
  ASSERT_EQ(r->status, 200);
  j = Body(r);
  EXPECT_EQ(j["data"]["html"], "<script>alert(1)</script>");
  EXPECT_EQ(j["stream_type"], "user");
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(Body(client_->Get("/api/events/4"))["data_hex"], "00ff10");
  EXPECT_EQ(Body(client_->Get("/api/events/5"))["data_text"], "plain <b>text</b>");
  EXPECT_EQ(client_->Get("/api/events/99")->status, 404);
  r = client_->Get("/api/events/x");
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(Body(r)["error"].get<std::string>().find("position"), std::string::npos);

  // Bad parameters name the parameter.
  for (const char* bad : {"/api/all?limit=0", "/api/all?limit=501", "/api/all?after=-1", "/api/all?stream_type=Bad!"}) {
    r = client_->Get(bad);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad;
    std::string param = std::string(bad).substr(9, std::string(bad).find('=') - 9);
    EXPECT_NE(Body(r)["error"].get<std::string>().find(param), std::string::npos) << r->body;
    EXPECT_EQ(Body(r)["code"], "InvalidArgument");
  }

  // Streams: by type, paged with the cursor, by id prefix.
  std::vector<std::string> order_streams = {a.ToString(), b.ToString()};
  std::sort(order_streams.begin(), order_streams.end());
  r = client_->Get("/api/streams?type=order&limit=1");
  j = Body(r);
  ASSERT_EQ(j["streams"].size(), 1u);
  EXPECT_EQ(j["streams"][0]["stream"], order_streams[0]);
  ASSERT_FALSE(j["next"].is_null());
  r = client_->Get("/api/streams?type=order&limit=1&after=" + j["next"].get<std::string>());
  j = Body(r);
  ASSERT_EQ(j["streams"].size(), 1u);
  EXPECT_EQ(j["streams"][0]["stream"], order_streams[1]);
  r = client_->Get("/api/streams?type=user&prefix=" + u.uuid().ToString().substr(0, 13));
  j = Body(r);
  ASSERT_EQ(j["streams"].size(), 1u);
  EXPECT_EQ(j["streams"][0]["id"], u.uuid().ToString());
  EXPECT_EQ(j["streams"][0]["version"], 3);
  EXPECT_TRUE(j["next"].is_null());
  EXPECT_EQ(Body(client_->Get("/api/streams?type=user&prefix=zz"))["streams"].size(), 0u);
  EXPECT_EQ(client_->Get("/api/streams?prefix=A")->status, 400);

  // One stream, paged by version.
  r = client_->Get("/api/streams/user/" + u.uuid().ToString() + "?limit=2");
  ASSERT_EQ(r->status, 200) << r->body;
  j = Body(r);
  EXPECT_EQ(j["version"], 3);
  ASSERT_EQ(j["events"].size(), 2u);
  EXPECT_EQ(j["next"], 2);
  r = client_->Get("/api/streams/user/" + u.uuid().ToString() + "?from=2");
  j = Body(r);
  ASSERT_EQ(j["events"].size(), 1u);
  EXPECT_EQ(j["events"][0]["version"], 3);
  EXPECT_TRUE(j["next"].is_null());
  EXPECT_EQ(client_->Get("/api/streams/user/" + TypeId::New("user")->uuid().ToString())->status, 404);
  EXPECT_EQ(client_->Get("/api/streams/user/not-a-uuid")->status, 400);

  // Overview: head and the append rate (everything was appended just now).
  r = client_->Get("/api/overview");
  ASSERT_EQ(r->status, 200) << r->body;
  j = Body(r);
  EXPECT_EQ(j["head"], 6);
  EXPECT_EQ(j["streams"], 3);  // two order streams and a user stream
  EXPECT_EQ(j["streams_capped"], false);
  EXPECT_EQ(j["backend"], backend_.name);
  ASSERT_EQ(j["append_rate"]["buckets"].size(), 15u);
  int64_t total = 0;
  for (const Json& bucket : j["append_rate"]["buckets"]) total += bucket["events"].get<int64_t>();
  EXPECT_EQ(total, 6);
  EXPECT_EQ(j["append_rate"]["buckets"][14]["events"].get<int64_t>() +
                j["append_rate"]["buckets"][13]["events"].get<int64_t>(),
            6);

  // Assets: the page and its files, with the CSP header.
  for (const char* path : {"/", "/index.html", "/assets/app.js", "/assets/app.css"}) {
    r = client_->Get(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->get_header_value("Content-Security-Policy"), kCsp) << path;
    EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(r->get_header_value("Referrer-Policy"), "no-referrer");
  }
  EXPECT_EQ(client_->Get("/")->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(client_->Get("/assets/app.js")->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(client_->Get("/assets/app.css")->get_header_value("Content-Type"), "text/css; charset=utf-8");
  EXPECT_EQ(client_->Get("/assets/missing.js")->status, 404);
}

TEST_P(UiServerTest, ProjectionsAndDeadLetterWrites) {
  if (!backend_.checkpoints) GTEST_SKIP() << "the memory store keeps no projection state the UI reads";
  TypeId a = TypeId::New("order").value();
  std::vector<Event> events =
      Append(a, {JsonEvent("placed", "{}"), JsonEvent("paid", "{}"), JsonEvent("shipped", R"({"x":"<script>"})")});
  ASSERT_TRUE(backend_.checkpoints->Save("orders_view", 1).ok());
  for (int i = 1; i <= 2; ++i) {
    DeadLetter d;
    d.projection = "orders_view";
    d.event = events[i];
    d.error = "Internal: boom " + std::to_string(i);
    d.attempts = 3;
    d.parked_at = Now();
    ASSERT_TRUE(backend_.dead_letters->Park(d).ok());
  }
  if (backend_.name == "sqlite") {
    auto db = sqlite::SqliteDatabase::Open(path_).value();
    ASSERT_TRUE(db->Exec("BEGIN IMMEDIATE").ok());
    ASSERT_TRUE(sqlite::SqliteProjectionTables::ClaimLeaseIn(*db, "orders_view", "host-a:1234", 60s, true).value());
    ASSERT_TRUE(db->Exec("COMMIT").ok());
  }
#ifdef ESTORIA_UI_TEST_POSTGRES
  std::shared_ptr<postgres::PostgresAdvisoryLock> pg_lock;
  if (backend_.name == "postgres") {
    // A processor's lock on another session: the UI names that session.
    postgres::PostgresAdvisoryLockOptions lo;
    lo.conninfo = postgres::testing::TestOptions(schema_).conninfo;
    lo.scope = schema_;
    pg_lock = postgres::PostgresAdvisoryLock::Open(lo).value();
    ASSERT_TRUE(pg_lock->TryAcquire("orders_view").value());
  }
#endif
  UiOptions o;
  StartServer(o);

  auto r = client_->Get("/api/projections");
  ASSERT_EQ(r->status, 200) << r->body;
  Json j = Body(r);
  EXPECT_EQ(j["head"], 3);
  ASSERT_EQ(j["projections"].size(), 1u);
  Json p = j["projections"][0];
  EXPECT_EQ(p["name"], "orders_view");
  EXPECT_EQ(p["position"], 1);
  EXPECT_EQ(p["lag_events"], 2);
  EXPECT_GE(p["lag_ms"].get<int64_t>(), 0);
  EXPECT_EQ(p["dead_letters"], 2);
  if (backend_.name == "sqlite") {
    ASSERT_TRUE(p["lease"].is_object()) << p;
    EXPECT_EQ(p["lease"]["holder"], "host-a:1234");
  } else {
    ASSERT_TRUE(p["lease"].is_object()) << p;
    std::string holder = p["lease"]["holder"];
    EXPECT_TRUE(holder.starts_with("pid ")) << holder;
    EXPECT_NE(holder.find("(" + schema_ + ")"), std::string::npos) << holder;
    EXPECT_TRUE(p["lease"]["expires_at"].is_null());
  }
  Json overview = Body(client_->Get("/api/overview"));
  ASSERT_EQ(overview["projections"].size(), 1u);
  EXPECT_EQ(overview["projections"][0]["name"], "orders_view");
  EXPECT_EQ(overview["projections"][0]["dead_letters"], 2);

  // Dead letters, paged.
  r = client_->Get("/api/projections/orders_view/dead-letters?limit=1");
  ASSERT_EQ(r->status, 200) << r->body;
  j = Body(r);
  ASSERT_EQ(j["dead_letters"].size(), 1u);
  EXPECT_EQ(j["dead_letters"][0]["position"], 2);
  EXPECT_EQ(j["dead_letters"][0]["error"], "Internal: boom 1");
  EXPECT_EQ(j["dead_letters"][0]["attempts"], 3);
  EXPECT_EQ(j["dead_letters"][0]["replay_requested"], false);
  EXPECT_EQ(j["dead_letters"][0]["event"]["type"], "paid");
  EXPECT_EQ(j["next"], 2);
  j = Body(client_->Get("/api/projections/orders_view/dead-letters?after=2"));
  ASSERT_EQ(j["dead_letters"].size(), 1u);
  EXPECT_EQ(j["dead_letters"][0]["event"]["data"]["x"], "<script>");
  EXPECT_TRUE(j["next"].is_null());

  // Writes are off without --allow-writes.
  std::string csrf = Body(client_->Get("/api/session"))["csrf"];
  httplib::Headers h = {{"X-Estoria-CSRF", csrf}};
  r = client_->Post("/api/projections/orders_view/dead-letters/2/replay", h, "", "application/json");
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(Body(r)["code"], "Forbidden");
  EXPECT_EQ(backend_.dead_letters->ListReplayRequests("orders_view").value().size(), 0u);

  o.allow_writes = true;
  StartServer(o);
  csrf = Body(client_->Get("/api/session"))["csrf"].get<std::string>();
  EXPECT_EQ(Body(client_->Get("/api/session"))["allow_writes"], true);
  // No CSRF header, a wrong one, a foreign Origin: 403, nothing changes.
  r = client_->Post("/api/projections/orders_view/dead-letters/2/replay", "", "application/json");
  EXPECT_EQ(r->status, 403);
  r = client_->Post("/api/projections/orders_view/dead-letters/2/replay", {{"X-Estoria-CSRF", "nope"}}, "",
                    "application/json");
  EXPECT_EQ(r->status, 403);
  r = client_->Post("/api/projections/orders_view/dead-letters/2/replay",
                    {{"X-Estoria-CSRF", csrf}, {"Origin", "http://evil.example"}}, "", "application/json");
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(backend_.dead_letters->ListReplayRequests("orders_view").value().size(), 0u);
  // GET on a write action is not a write.
  EXPECT_NE(client_->Get("/api/projections/orders_view/dead-letters/2/replay")->status, 200);

  // With both: replay is requested, skip discards.
  std::string origin = "http://127.0.0.1:" + std::to_string(server_->port());
  r = client_->Post("/api/projections/orders_view/dead-letters/2/replay",
                    {{"X-Estoria-CSRF", csrf}, {"Origin", origin}}, "", "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Body(r)["requested"], 1);
  EXPECT_EQ(backend_.dead_letters->ListReplayRequests("orders_view").value(), std::vector<int64_t>{2});
  EXPECT_EQ(Body(client_->Get("/api/projections/orders_view/dead-letters"))["dead_letters"][0]["replay_requested"],
            true);
  r = client_->Post("/api/projections/orders_view/dead-letters/3/skip", {{"X-Estoria-CSRF", csrf}}, "",
                    "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Body(r)["discarded"], 1);
  EXPECT_TRUE(backend_.dead_letters->Get("orders_view", 3).error().IsNotFound());
  r = client_->Post("/api/projections/orders_view/dead-letters/3/skip", {{"X-Estoria-CSRF", csrf}}, "",
                    "application/json");
  EXPECT_EQ(r->status, 404);
  r = client_->Post("/api/projections/orders_view/dead-letters/x/skip", {{"X-Estoria-CSRF", csrf}}, "",
                    "application/json");
  EXPECT_EQ(r->status, 400);
}

TEST_P(UiServerTest, ProcessorRecordsItsFailurePolicyForTheUi) {
  if (!backend_.checkpoints) GTEST_SKIP() << "the memory store keeps no projection state the UI reads";
  TypeId a = TypeId::New("order").value();
  Append(a, {JsonEvent("placed", "{}"), JsonEvent("paid", "{}")});
  auto sink = std::make_shared<HandlerSink>([](const Event&) { return Status::Ok(); }, backend_.checkpoints,
                                            backend_.dead_letters);
  ProcessorOptions po;
  po.name = "policy_view";
  po.failure_policy = FailurePolicy::Park(3);
  auto processor = Processor::Create(backend_.store, sink, po).value();
  ASSERT_TRUE(processor->Start().ok());
  ASSERT_TRUE(processor->WaitForPosition(2, 10s).ok());
  ASSERT_TRUE(processor->Stop().ok());
  StartServer();
  Json j = Body(client_->Get("/api/projections"));
  ASSERT_EQ(j["projections"].size(), 1u) << j;
  EXPECT_EQ(j["projections"][0]["name"], "policy_view");
  EXPECT_EQ(j["projections"][0]["position"], 2);
  EXPECT_EQ(j["projections"][0]["failure_policy"], FailurePolicyToString(FailurePolicy::Park(3)));
  EXPECT_EQ(FailurePolicyToString(FailurePolicy::Park(3)),
            "park after 3 attempts (backoff 50 ms x2.0, at most 5000 ms)");
  EXPECT_EQ(FailurePolicyToString(FailurePolicy::Stop()), "stop on the first failure");
}

TEST_P(UiServerTest, TokenGuardsEveryRequest) {
  UiOptions o;
  o.token = "s3cret-token";
  StartServer(o);
  for (const char* path : {"/", "/assets/app.js", "/api/session", "/api/all"}) {
    auto r = client_->Get(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << path;
    EXPECT_EQ(Body(r)["code"], "Unauthenticated");
    EXPECT_EQ(r->get_header_value("Content-Security-Policy"), kCsp);
    EXPECT_EQ(client_->Get(path, {{"Authorization", "Bearer wrong"}})->status, 401);
    EXPECT_EQ(client_->Get(path, {{"Authorization", "Bearer s3cret-token"}})->status, 200) << path;
    EXPECT_EQ(client_->Get(path, {{"Cookie", "a=b; estoria_ui_token=s3cret-token"}})->status, 200) << path;
  }
  auto r = client_->Get("/?token=s3cret-token");
  EXPECT_EQ(r->status, 303);
  EXPECT_EQ(r->get_header_value("Location"), "/");
  EXPECT_EQ(r->get_header_value("Set-Cookie"), "estoria_ui_token=s3cret-token; HttpOnly; SameSite=Strict; Path=/");
  EXPECT_EQ(client_->Get("/?token=wrong")->status, 401);
}

TEST_P(UiServerTest, NonLoopbackWithoutTokenIsRefused) {
  UiOptions o;
  o.store_uri = "memory:";
  o.host = "0.0.0.0";
  o.port = 0;
  auto s = UiServer::Start(o, backend_.store);
  ASSERT_FALSE(s.has_value());
  EXPECT_TRUE(s.error().IsInvalidArgument());
  EXPECT_NE(s.error().message().find("--token"), std::string::npos) << s.error();
  o.token = "bad token";
  s = UiServer::Start(o, backend_.store);
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message().find("--token"), std::string::npos) << s.error();
  o.token = "t";
  s = UiServer::Start(o, backend_.store);
  ASSERT_TRUE(s.has_value()) << s.error();
  httplib::Client c("127.0.0.1", (*s)->port());
  EXPECT_EQ(c.Get("/api/session")->status, 401);
  EXPECT_EQ(c.Get("/api/session", {{"Authorization", "Bearer t"}})->status, 200);
}

// Reads the SSE stream on a thread; the test waits on conditions with deadlines.
struct TailReader {
  std::mutex mu;
  std::condition_variable cv;
  bool connected = false;
  bool finished = false;
  std::string received;
  std::thread thread;

  void Start(int port, std::string path) {
    thread = std::thread([this, port, path] {
      httplib::Client c("127.0.0.1", port);
      c.set_read_timeout(30, 0);
      auto r = c.Get(
          path,
          [&](const httplib::Response& res) {
            std::lock_guard<std::mutex> lock(mu);
            connected = res.status == 200;
            cv.notify_all();
            return true;
          },
          [&](const char* data, size_t n) {
            std::lock_guard<std::mutex> lock(mu);
            received.append(data, n);
            cv.notify_all();
            return true;
          });
      std::lock_guard<std::mutex> lock(mu);
      finished = true;
      cv.notify_all();
    });
  }
  template <class Pred>
  bool WaitFor(Pred pred, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, timeout, [&] { return pred(); });
  }
  ~TailReader() {
    if (thread.joinable()) thread.join();
  }
};

TEST_P(UiServerTest, LiveTailDeliversNewAppendsAndStopIsPrompt) {
  TypeId a = TypeId::New("order").value();
  Append(a, {JsonEvent("placed", "{}")});
  StartServer();
  TailReader tail;
  tail.Start(server_->port(), "/api/all/tail?stream_type=order");
  ASSERT_TRUE(tail.WaitFor([&] { return tail.connected; }, 10s));
  // Appended after the connection opened: delivered, filtered.
  Append(TypeId::New("user").value(), {JsonEvent("ignored", "{}")});
  Append(a, {JsonEvent("paid", R"({"x":"<script>"})")});
  ASSERT_TRUE(tail.WaitFor([&] { return tail.received.find("\n\n") != std::string::npos; }, 10s)) << tail.received;
  {
    std::lock_guard<std::mutex> lock(tail.mu);
    std::string first = tail.received.substr(0, tail.received.find("\n\n"));
    EXPECT_TRUE(first.starts_with("id: 3\nevent: event\ndata: ")) << first;
    Json e = Json::parse(first.substr(first.find("data: ") + 6));
    EXPECT_EQ(e["type"], "paid");
    EXPECT_EQ(e["data"]["x"], "<script>");
    EXPECT_EQ(tail.received.find("ignored"), std::string::npos);
  }
  // Last-Event-ID resumes after the given position.
  TailReader resumed;
  resumed.Start(server_->port(), "/api/all/tail?after=0");
  ASSERT_TRUE(resumed.WaitFor([&] { return resumed.received.find("id: 3\n") != std::string::npos; }, 10s))
      << resumed.received;
  // The server stops promptly with tails open, and the tails end.
  auto t0 = std::chrono::steady_clock::now();
  server_->Stop();
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, 5s);
  EXPECT_TRUE(tail.WaitFor([&] { return tail.finished; }, 10s));
  EXPECT_TRUE(resumed.WaitFor([&] { return resumed.finished; }, 10s));
}

TEST_P(UiServerTest, TailHonoursLastEventIdAndEndsWhenTheClientLeaves) {
  TypeId a = TypeId::New("order").value();
  Append(a, {JsonEvent("one", "{}"), JsonEvent("two", "{}"), JsonEvent("three", "{}")});
  StartServer();
  // Clients that read the first event and hang up: their tails end (the
  // server notices at its next wait slice, within about 250 ms), so that the
  // slots are freed and 40 sequential tails get past the limit of 32. A tail
  // refused with 503 because a slot is not freed yet is retried until a
  // deadline; a leaked slot would make the retries fail for good.
  auto deadline = std::chrono::steady_clock::now() + 20s;
  for (int i = 0; i < 40; ++i) {
    std::string got;
    int status = 0;
    do {
      httplib::Client c("127.0.0.1", server_->port());
      c.set_read_timeout(10, 0);
      got.clear();
      auto r = c.Get(
          "/api/all/tail", {{"Last-Event-ID", "1"}},
          [&](const httplib::Response& res) {
            status = res.status;
            return true;
          },
          [&](const char* data, size_t n) {
            got.append(data, n);
            return status != 200 || got.find("\n\n") == std::string::npos;  // stop after the first event
          });
    } while (status == 503 && std::chrono::steady_clock::now() < deadline);
    ASSERT_EQ(status, 200) << i << ": " << got;
    ASSERT_TRUE(got.starts_with("id: 2\nevent: event\n")) << i << ": " << got;
  }
  auto r = client_->Get("/api/all/tail", {{"Last-Event-ID", "x"}});
  EXPECT_EQ(r->status, 400);
}

TEST_P(UiServerTest, AtMost32TailsThen503) {
  if (backend_.name != "memory") GTEST_SKIP() << "the limit is the server's, not the backend's";
  StartServer();
  std::vector<std::unique_ptr<TailReader>> tails;
  for (int i = 0; i < 32; ++i) {
    tails.push_back(std::make_unique<TailReader>());
    tails.back()->Start(server_->port(), "/api/all/tail");
  }
  for (auto& t : tails) ASSERT_TRUE(t->WaitFor([&] { return t->connected; }, 10s));
  auto r = client_->Get("/api/all/tail");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(Body(r)["code"], "Unavailable");
  // Other requests are still served while the tails are open.
  EXPECT_EQ(client_->Get("/api/session")->status, 200);
  auto t0 = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  for (auto& t : tails) EXPECT_TRUE(t->WaitFor([&] { return t->finished; }, 10s));
}

std::vector<std::string> Backends() {
  std::vector<std::string> b = {"sqlite", "memory"};
#ifdef ESTORIA_UI_TEST_POSTGRES
  b.push_back("postgres");
#endif
  return b;
}

INSTANTIATE_TEST_SUITE_P(Backends, UiServerTest, ::testing::ValuesIn(Backends()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace estoria::ui
