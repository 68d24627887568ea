// Golden tests of the estoria binary, run as a subprocess, against a real SQLite
// file, a real PostgreSQL server (when ESTORIA_TEST_POSTGRES is set) and a real
// NATS JetStream server (when ESTORIA_NATS_URL is set, a stream per test): each
// command's output and exit code, bad arguments, a missing store, malformed JSON.
#include <gtest/gtest.h>
#include <signal.h>

#include "cli_test_util.h"

namespace estoria_cli_test {
namespace {

const std::string kA = "account_00000000-0000-7000-8000-000000000001";
const std::string kB = "account_00000000-0000-7000-8000-000000000002";
const std::string kC = "order_00000000-0000-7000-8000-000000000003";

const std::string kEventHeader =
    "POSITION STREAM                                          VERSION TYPE                    TIMESTAMP          "
    "         DATA\n";

class CliGoldenTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (std::string skip = BackendSkipReason(GetParam()); !skip.empty()) GTEST_SKIP() << skip;
    if (GetParam() == "postgres") {
      store_ = PostgresStore("golden");
    } else if (GetParam() == "nats") {
      store_ = NatsStore("golden");
    } else {
      store_ = "sqlite:" + dir_.File("store.db");
    }
  }

  // Runs `estoria ARGS... --store URI` (the store last: accepted anywhere).
  RunResult E(std::vector<std::string> args, const std::string& stdin_text = "") {
    args.insert(args.begin(), kBinary);
    args.push_back("--store");
    args.push_back(store_);
    return RunCommand(args, stdin_text);
  }

  // Expects success with empty stderr and returns the normalised stdout.
  std::string Ok(std::vector<std::string> args) {
    RunResult r = E(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    return Normalize(r.out);
  }

  // Expects failure with `code` and a one-line error containing `needle`.
  void Fails(std::vector<std::string> args, int code, const std::string& needle, bool with_store = true) {
    RunResult r = with_store ? E(args) : RunCommand([&] {
      args.insert(args.begin(), kBinary);
      return args;
    }());
    EXPECT_EQ(r.exit_code, code) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(CountLines(r.err), 1) << r.err;
    EXPECT_TRUE(r.err.starts_with("estoria: error: ")) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  }

  // The three-stream fixture of several tests.
  void Populate() {
    Ok({"append", kA, "--type", "opened", "--data", R"({"owner": "ann"})", "--metadata", R"({"user":"u1"})",
        "--no-stream"});
    Ok({"append", kA, "--type", "deposited", "--data", R"({"amount":10})", "--expect-version", "1"});
    Ok({"append", kB, "--type", "deposited", "--data", R"({"amount":5})"});
    Ok({"append", kC, "--type", "placed", "--content-type", "text/plain", "--data", "hello world"});
  }

  TempDir dir_;
  std::string store_;
};

TEST_P(CliGoldenTest, AppendPrintsTheStoredEvent) {
  EXPECT_EQ(
      Ok({"append", kA, "--type", "opened", "--data", R"({"owner": "ann"})", "--metadata", R"({"user":"u1"})",
          "--no-stream", "--json"}),
      R"({"id":"opened_<uuid>","stream_id":")" + kA +
          R"(","type":"opened","version":1,"position":1,"timestamp":"<ts>","content_type":"application/json","metadata":{"user":"u1"},"data":{"owner":"ann"}})"
          "\n");
  EXPECT_EQ(Ok({"append", kA, "--type", "deposited", "--data", R"({"amount":10})", "--expect-version", "1"}),
            kEventHeader + "2        " + kA + "    2       deposited               <ts> {\"amount\":10}\n");
}

TEST_P(CliGoldenTest, ReadAStream) {
  Populate();
  EXPECT_EQ(Ok({"read", kA}), kEventHeader + "1        " + kA + "    1       opened                  <ts> " +
                                  "{\"owner\":\"ann\"}\n" + "2        " + kA +
                                  "    2       deposited               <ts> {\"amount\":10}\n");
  EXPECT_EQ(
      Ok({"read", kA, "--reverse", "--count", "1", "--json"}),
      R"({"id":"deposited_<uuid>","stream_id":")" + kA +
          R"(","type":"deposited","version":2,"position":2,"timestamp":"<ts>","content_type":"application/json","metadata":{},"data":{"amount":10}})"
          "\n");
  EXPECT_EQ(CountLines(Ok({"read", kA, "--after", "1", "--json"})), 1);
  EXPECT_EQ(Ok({"read", kA, "--after", "2"}), "");  // past the tip: empty, not an error
  // Binary (non-JSON) payloads are base64 in JSON output.
  EXPECT_NE(
      Ok({"read", kC, "--json"}).find(R"("content_type":"text/plain","metadata":{},"data_base64":"aGVsbG8gd29ybGQ="})"),
      std::string::npos);
  EXPECT_EQ(Ok({"read", kC}),
            kEventHeader + "4        " + kC + "      1       placed                  <ts> hello world\n");
}

TEST_P(CliGoldenTest, ListStreams) {
  EXPECT_EQ(Ok({"streams"}), "(no streams)\n");
  EXPECT_EQ(Ok({"streams", "--json"}), "");
  Populate();
  const std::string header =
      "STREAM                                          TYPE                VERSION  LAST_TIMESTAMP\n";
  EXPECT_EQ(Ok({"streams"}), header + kA + "    account             2        <ts>\n" + kB +
                                 "    account             1        <ts>\n" + kC +
                                 "      order               1        <ts>\n");
  EXPECT_EQ(Ok({"streams", "--type", "order", "--json"}), R"({"stream_id":")" + kC +
                                                              R"(","type":"order","version":1,"last_timestamp":"<ts>"})"
                                                              "\n");
  EXPECT_EQ(CountLines(Ok({"streams", "--limit", "2", "--json"})), 2);
}

TEST_P(CliGoldenTest, ReadAllWithFilters) {
  Populate();
  EXPECT_EQ(CountLines(Ok({"read-all", "--json"})), 4);
  EXPECT_EQ(Ok({"read-all", "--event-type", "deposited"}),
            kEventHeader + "2        " + kA + "    2       deposited               <ts> {\"amount\":10}\n" +
                "3        " + kB + "    1       deposited               <ts> {\"amount\":5}\n");
  EXPECT_EQ(
      Ok({"read-all", "--after", "3", "--json"}),
      R"({"id":"placed_<uuid>","stream_id":")" + kC +
          R"(","type":"placed","version":1,"position":4,"timestamp":"<ts>","content_type":"text/plain","metadata":{},"data_base64":"aGVsbG8gd29ybGQ="})"
          "\n");
  std::string orders = Ok({"read-all", "--type", "order", "--json"});
  EXPECT_EQ(CountLines(orders), 1);
  EXPECT_NE(orders.find(kC), std::string::npos);
  EXPECT_EQ(CountLines(Ok({"read-all", "--after", "1", "--count", "2", "--json"})), 2);
}

TEST_P(CliGoldenTest, FollowTailsNewEventsUntilInterrupted) {
  Populate();
  Child follow({kBinary, "read-all", "--follow", "--json", "--after", "3", "--poll-ms", "50", "--store", store_});
  ASSERT_TRUE(WaitFor([&] { return CountLines(follow.OutSoFar()) == 1; })) << follow.OutSoFar();
  Ok({"append", kB, "--type", "withdrawn", "--data", R"({"amount":1})"});
  ASSERT_TRUE(WaitFor([&] { return CountLines(follow.OutSoFar()) == 2; })) << follow.OutSoFar();
  follow.Signal(SIGINT);
  RunResult r = follow.Wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  std::string out = Normalize(r.out);
  EXPECT_NE(out.find(R"("type":"withdrawn","version":2,"position":5)"), std::string::npos) << out;
}

TEST_P(CliGoldenTest, DeleteAndTruncate) {
  Populate();
  Ok({"append", kA, "--type", "deposited", "--data", R"({"amount":1})"});
  EXPECT_EQ(Ok({"delete", kA, "--to-version", "2"}), "stream_id: " + kA + "\ndeleted: truncated\nto_version: 2\n");
  std::string left = Ok({"read", kA, "--json"});
  EXPECT_EQ(CountLines(left), 1);
  EXPECT_NE(left.find(R"("version":3)"), std::string::npos);
  EXPECT_NE(Ok({"streams", "--type", "account"}).find(kA + "    account             3 "), std::string::npos);
  EXPECT_EQ(Ok({"delete", kB, "--json"}), R"({"stream_id":")" + kB +
                                              R"(","deleted":"stream"})"
                                              "\n");
  Fails({"read", kB}, 4, "NotFound: stream " + kB + " not found");
  Fails({"delete", kB}, 4, "NotFound");
  EXPECT_EQ(CountLines(Ok({"read-all", "--json"})), 2);  // A v3 and C v1 remain
}

TEST_P(CliGoldenTest, FailedExpectationIsAConflict) {
  Populate();
  Fails({"append", kA, "--type", "deposited", "--data", "{}", "--expect-version", "5"}, 3, "Conflict");
  Fails({"append", kA, "--type", "opened", "--data", "{}", "--no-stream"}, 3, "Conflict");
  EXPECT_EQ(CountLines(Ok({"read", kA, "--json"})), 2);  // nothing appended
}

TEST_P(CliGoldenTest, MalformedJsonAppendsNothing) {
  Fails({"append", kA, "--type", "opened", "--data", R"({"owner": )"}, 1, "--data is not valid JSON");
  Fails({"append", kA, "--type", "opened", "--data", "{}", "--metadata", "{nope"}, 1, "--metadata is not valid JSON");
  Fails({"append", kA, "--type", "opened", "--data", "{}", "--metadata", R"({"n": 1})"}, 1,
        "--metadata value \"n\" must be a string");
  Fails({"append", kA, "--type", "opened", "--data", "{}", "--metadata", "[]"}, 1, "JSON object");
  Fails({"read", kA}, 4, "NotFound");
  EXPECT_EQ(Ok({"streams"}), "(no streams)\n");
}

TEST_P(CliGoldenTest, BadArguments) {
  Fails({"frobnicate"}, 2, "frobnicate");
  Fails({"read"}, 2, "STREAM_ID");
  Fails({"read", kA, "--count", "-1"}, 2, "--count");
  Fails({"read-all", "--after", "abc"}, 2, "--after");
  Fails({"append", kA, "--data", "{}"}, 2, "--type");
  Fails({"append", kA, "--type", "x", "--data", "{}", "--expect-version", "1", "--no-stream"}, 2, "excludes");
  Fails({"read", "not-an-id"}, 1, "InvalidArgument: invalid stream id \"not-an-id\"");
  Fails({"append", kA, "--type", "Bad-Type", "--data", "{}"}, 1, "InvalidArgument");
}

TEST_P(CliGoldenTest, HelpExitsZero) {
  RunResult r = RunCommand({kBinary, "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("read-all"), std::string::npos);
  EXPECT_NE(r.out.find("Exit status"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backends, CliGoldenTest, ::testing::Values("sqlite", "postgres", "nats"),
                         [](const auto& info) { return info.param; });

TEST(CliMissingStoreTest, EachGivesAOneLineError) {
  unsetenv("ESTORIA_STORE");
  auto fails = [](std::vector<std::string> args, const std::string& needle, int code = 1) {
    args.insert(args.begin(), kBinary);
    RunResult r = RunCommand(args);
    EXPECT_EQ(r.exit_code, code) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(CountLines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  };
  fails({"streams"}, "no store given: pass --store URI");
  fails({"streams", "--store", "sqlite:/nonexistent-estoria-dir/x.db"},
        "cannot open store sqlite:/nonexistent-estoria-dir/x.db");
  fails({"read-all", "--store", "nosuch:thing"}, "unknown store URI");
  fails({"copy", "--from", "sqlite:/nonexistent-estoria-dir/a.db", "--to", "memory:"}, "cannot open source store");
  TempDir dir;
  fails({"import", "--from", dir.File("missing.jsonl"), "--store", "memory:"}, "cannot read", 4);
}

}  // namespace
}  // namespace estoria_cli_test
