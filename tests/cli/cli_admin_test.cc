// The estoria binary's export/import, projections, dead-letters and bench
// commands, run as a subprocess against real SQLite files (and, for
// export/import, PostgreSQL when ESTORIA_TEST_POSTGRES is set and NATS JetStream
// when ESTORIA_NATS_URL is set).
#include <gtest/gtest.h>

#include "cli_test_util.h"
#include "estoria/sqlite/sqlite_checkpoint_store.h"
#include "estoria/sqlite/sqlite_projection_stores.h"
#include "estoria/testing/matchers.h"
#include "event_json.h"

namespace estoria_cli_test {
namespace {

std::string MaskTimestamps(const std::string& text) {
  static const std::regex kTs(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)");
  return std::regex_replace(text, kTs, "<ts>");
}

class CliExportImportTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string NewStore(const std::string& name) {
    if (GetParam() == "postgres") return PostgresStore(name);
    if (GetParam() == "nats") return NatsStore(name);
    return "sqlite:" + dir_.File(name + ".db");
  }
  void SetUp() override {
    if (std::string skip = BackendSkipReason(GetParam()); !skip.empty()) GTEST_SKIP() << skip;
  }
  RunResult E(const std::string& store, std::vector<std::string> args, const std::string& stdin_text = "") {
    args.insert(args.begin(), kBinary);
    args.push_back("--store=" + store);
    return RunCommand(args, stdin_text);
  }
  TempDir dir_;
};

TEST_P(CliExportImportTest, ExportThenImportRoundTrips) {
  const std::string a = NewStore("exp_a"), b = NewStore("exp_b");
  const std::string s1 = "account_00000000-0000-7000-8000-000000000001";
  const std::string s2 = "blob_00000000-0000-7000-8000-000000000002";
  ASSERT_EQ(E(a, {"append", s1, "--type", "opened", "--data", R"({"owner":"ann","tags":[1,2]})", "--metadata",
                  R"({"user":"u1","trace":"t"})"})
                .exit_code,
            0);
  ASSERT_EQ(E(a, {"append", s2, "--type", "stored", "--content-type", "application/octet-stream", "--data",
                  "\x01\x02\xfe binary"})
                .exit_code,
            0);
  ASSERT_EQ(E(a, {"append", s1, "--type", "deposited", "--data", "[1, 2.5, \"x\"]"}).exit_code, 0);
  const std::string file = dir_.File("export.jsonl");
  RunResult ex = E(a, {"export", "--to", file});
  ASSERT_EQ(ex.exit_code, 0) << ex.err;
  EXPECT_EQ(ex.out, "exported 3 events to " + file + "\n");
  const std::string exported = ReadFile(file);
  // The export format is the --json event format of read-all.
  EXPECT_EQ(exported, E(a, {"read-all", "--json"}).out);
  EXPECT_EQ(E(a, {"export"}).out, exported);  // to stdout
  EXPECT_NE(exported.find(R"("data_base64":"AQL+IGJpbmFyeQ==")"), std::string::npos) << exported;

  RunResult im = E(b, {"import", "--from", file, "--json"});
  bool verbatim = im.exit_code == 0;
  if (!verbatim) {
    // The backend has no EventImporter yet: a clear error, nothing written...
    EXPECT_EQ(im.exit_code, 1);
    EXPECT_NE(im.err.find("cannot import events verbatim"), std::string::npos) << im.err;
    EXPECT_EQ(E(b, {"read-all", "--json"}).out, "");
    // ...and --allow-append keeps everything but the timestamps.
    im = E(b, {"import", "--from", file, "--allow-append", "--json"});
  }
  ASSERT_EQ(im.exit_code, 0) << im.err;
  EXPECT_NE(im.out.find(R"("imported":3)"), std::string::npos) << im.out;
  const std::string again = E(b, {"export"}).out;
  if (verbatim) {
    EXPECT_EQ(again, exported);
  } else {
    EXPECT_EQ(MaskTimestamps(again), MaskTimestamps(exported));
  }
  // Importing the same events twice is refused (ids already stored).
  RunResult twice = E(b, {"import", "--allow-append"}, exported);
  EXPECT_NE(twice.exit_code, 0);
  EXPECT_EQ(CountLines(twice.err), 1) << twice.err;
}

TEST_P(CliExportImportTest, MalformedLineStopsWithItsNumber) {
  const std::string b = NewStore("imp_bad");
  RunResult r = E(b, {"import", "--allow-append"}, "\n{\"id\": 1}\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("line 2 (0 events imported before it)"), std::string::npos) << r.err;
  r = E(b, {"import", "--allow-append"}, "not json\n");
  EXPECT_NE(r.err.find("line 1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not a valid JSON line"), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Backends, CliExportImportTest, ::testing::Values("sqlite", "postgres", "nats"),
                         [](const auto& info) { return info.param; });

TEST(CliProjectionsTest, ListResetAndDeadLetters) {
  TempDir dir;
  const std::string path = dir.File("store.db");
  const std::string store = "sqlite:" + path;
  const std::string s1 = "account_00000000-0000-7000-8000-000000000001";
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(RunCommand({kBinary, "append", s1, "--type", "deposited", "--data", "{}", "--store", store}).exit_code,
              0);
  }
  RunResult r = RunCommand({kBinary, "projections", "--store", store});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "(no projections)\n");

  estoria::sqlite::SqliteStoreOptions co;
  co.path = path;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto checkpoints, estoria::sqlite::SqliteCheckpointStore::Open(co));
  ESTORIA_ASSERT_OK(checkpoints->Save("balances", 1));
  ESTORIA_ASSERT_OK(checkpoints->Save("summary", 3));
  estoria::sqlite::SqliteStoreOptions po;
  po.path = path;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto dead, estoria::sqlite::SqliteDeadLetterStore::Open(po));
  estoria::DeadLetter letter;
  letter.projection = "balances";
  letter.event.id = estoria::TypeId("deposited", estoria::Uuid::NewV7());
  letter.event.stream_id = estoria::TypeId::Parse(s1).value();
  letter.event.stream_version = 2;
  letter.event.global_position = 2;
  letter.event.content_type = "application/json";
  letter.event.data = "{}";
  letter.event.timestamp = estoria::Now();
  letter.error = "Internal: boom";
  letter.attempts = 3;
  letter.parked_at = estoria::Now();
  ESTORIA_ASSERT_OK(dead->Park(letter));

  r = RunCommand({kBinary, "projections", "--json", "--store", store});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(CountLines(r.out), 2) << r.out;
  EXPECT_NE(r.out.find(R"({"name":"balances","position":1,"head":3,"lag_events":2,"lag_ms":)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(R"({"name":"summary","position":3,"head":3,"lag_events":0,"lag_ms":0,)"), std::string::npos)
      << r.out;
  r = RunCommand({kBinary, "projections", "--store", store});
  EXPECT_TRUE(r.out.starts_with("NAME")) << r.out;

  r = RunCommand({kBinary, "projections", "reset", "summary", "--store", store});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "name: summary\nprevious_position: 3\nposition: 0\n");
  EXPECT_EQ(*checkpoints->Load("summary"), 0);
  r = RunCommand({kBinary, "projections", "reset", "summary", "--to", "2", "--json", "--store", store});
  EXPECT_EQ(r.out, R"({"name":"summary","previous_position":0,"position":2})"
                   "\n");

  r = RunCommand({kBinary, "dead-letters", "balances", "--store", store});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Normalize(r.out), "position 2  " + s1 + " v2  deposited  attempts 3  parked <ts>  error: Internal: boom\n");
  r = RunCommand({kBinary, "dead-letters", "balances", "list", "--json", "--store", store});
  EXPECT_NE(r.out.find(R"("projection":"balances","position":2,"error":"Internal: boom","attempts":3)"),
            std::string::npos)
      << r.out;
  // replay marks the parked events; the projection's running processor replays them.
  r = RunCommand({kBinary, "dead-letters", "balances", "replay", "--store", store});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("needs --position P or --all"), std::string::npos) << r.err;
  r = RunCommand({kBinary, "dead-letters", "balances", "replay", "--position", "5", "--store", store});
  EXPECT_EQ(r.exit_code, 4) << r.err;  // not parked: NotFound
  EXPECT_TRUE(dead->ListReplayRequests("balances").value().empty());
  r = RunCommand({kBinary, "dead-letters", "balances", "replay", "--all", "--store", store});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "projection: balances\nrequested: 1\n");
  EXPECT_EQ(dead->ListReplayRequests("balances").value(), (std::vector<int64_t>{2}));
  r = RunCommand({kBinary, "dead-letters", "balances", "--store", store});
  EXPECT_EQ(
      Normalize(r.out),
      "position 2  " + s1 + " v2  deposited  attempts 3  parked <ts>  error: Internal: boom  (replay requested)\n");
  r = RunCommand({kBinary, "dead-letters", "balances", "list", "--json", "--store", store});
  EXPECT_NE(r.out.find(R"("replay_requested":true)"), std::string::npos) << r.out;
  r = RunCommand({kBinary, "dead-letters", "balances", "replay", "--position", "2", "--json", "--store", store});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, R"({"projection":"balances","requested":1})"
                   "\n");
  r = RunCommand({kBinary, "dead-letters", "balances", "discard", "--store", store});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("needs --position P or --all"), std::string::npos);
  r = RunCommand({kBinary, "dead-letters", "balances", "discard", "--position", "2", "--store", store});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "projection: balances\ndiscarded: 1\n");
  r = RunCommand({kBinary, "dead-letters", "balances", "discard", "--position", "2", "--store", store});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_EQ(RunCommand({kBinary, "dead-letters", "balances", "--store", store}).out, "(no dead letters)\n");
  r = RunCommand({kBinary, "projections", "--store", "memory:"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("NotSupported"), std::string::npos);
}

#ifdef ESTORIA_BENCH_BINARY
// The benchmarks are their own program (estoria-bench), not part of the installed CLI.
TEST(CliBenchTest, RunsAWorkloadAndPrintsOneJsonObject) {
  RunResult r =
      RunCommand({ESTORIA_BENCH_BINARY, "append", "--events", "200", "--writers", "2", "--json", "--store", "memory:"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(CountLines(r.out), 1);
  auto j = estoria::cli::Json::parse(r.out);
  for (const char* key :
       {"events_per_sec", "p50_us", "p99_us", "p999_us", "writers", "streams", "batch", "payload", "durability"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["events"], 200);
  EXPECT_EQ(j["conflicts"], 0);
  EXPECT_EQ(j["writers"], 2);
  r = RunCommand({ESTORIA_BENCH_BINARY, "raw-ceiling", "--store", "memory:"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("NotSupported"), std::string::npos) << r.err;
  r = RunCommand({ESTORIA_BENCH_BINARY, "nosuchworkload"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("nosuchworkload"), std::string::npos) << r.err;
}
#endif

TEST(CliBenchTest, TheInstalledCliHasNoBenchCommand) {
  RunResult r = RunCommand({kBinary, "bench", "append"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

}  // namespace
}  // namespace estoria_cli_test
