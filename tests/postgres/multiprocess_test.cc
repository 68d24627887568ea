// Multi-process: 4 processes x 4 threads append to overlapping streams with
// version expectations. Afterwards: no lost, duplicated or misordered events,
// positions gap-free, and every Conflict reported was a real version conflict.
#include <spawn.h>
#include <sys/wait.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "estoria/postgres/postgres_event_store.h"
#include "estoria/testing/matchers.h"
#include "pg_test_util.h"

extern char** environ;

namespace estoria::postgres {
namespace {

using testing::ScopedSchema;
using testing::TestOptions;

constexpr int kProcesses = 4;
constexpr int kThreads = 4;
constexpr int kAppends = 40;  // per thread
constexpr int kStreams = 6;

struct Attempt {
  bool ok = false;
  std::string stream;
  int64_t expected = 0;
  int64_t first_version = 0;   // OK
  int64_t first_position = 0;  // OK
  int64_t actual = 0;          // CONFLICT
  std::vector<std::string> ids;
};

TEST(PostgresMultiProcessTest, FourProcessesFourThreadsOverlappingStreams) {
  ScopedSchema schema("multi");
  // Create the schema once (children then open concurrently anyway).
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, PostgresEventStore::Open(TestOptions(schema.name())));

  std::string dir = ::testing::TempDir();
  std::vector<std::string> logs;
  std::vector<pid_t> pids;
  std::string uri = testing::ServerUri();
  for (int p = 0; p < kProcesses; ++p) {
    logs.push_back(dir + "/" + schema.name() + "_" + std::to_string(p) + ".log");
    std::vector<std::string> args = {ESTORIA_PG_APPEND_CHILD,
                                     uri,
                                     schema.name(),
                                     std::to_string(p),
                                     std::to_string(kThreads),
                                     std::to_string(kAppends),
                                     std::to_string(kStreams),
                                     logs.back()};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid;
    ASSERT_EQ(posix_spawn(&pid, ESTORIA_PG_APPEND_CHILD, nullptr, nullptr, argv.data(), environ), 0);
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child failed, status " << status;
  }

  std::vector<Attempt> attempts;
  for (const auto& path : logs) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ss(line);
      std::string kind;
      Attempt a;
      int n = 0;
      ss >> kind >> a.stream >> a.expected;
      ASSERT_TRUE(kind == "OK" || kind == "CONFLICT") << line;
      a.ok = kind == "OK";
      if (a.ok) {
        ss >> a.first_version >> a.first_position >> n;
      } else {
        ss >> a.actual >> n;
      }
      a.ids.resize(static_cast<size_t>(n));
      for (auto& id : a.ids) ss >> id;
      attempts.push_back(std::move(a));
    }
    std::remove(path.c_str());
  }
  ASSERT_EQ(attempts.size(), static_cast<size_t>(kProcesses * kThreads * kAppends));

  // The whole log, in position order.
  auto it = store->ReadAll();
  ESTORIA_ASSERT_OK(it);
  ESTORIA_ASSERT_OK_AND_ASSIGN(std::vector<Event> all, Collect(**it));
  std::map<std::string, const Event*> by_id;
  std::map<std::string, std::vector<const Event*>> by_stream;
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(all[i].global_position, static_cast<int64_t>(i) + 1) << "positions must be gap-free";
    ASSERT_TRUE(by_id.emplace(all[i].id.uuid().ToString(), &all[i]).second) << "duplicate event id";
    by_stream[all[i].stream_id.ToString()].push_back(&all[i]);
  }
  // Per stream: versions 1..n in position order (commit order).
  for (const auto& [stream, events] : by_stream) {
    for (size_t v = 0; v < events.size(); ++v) {
      ASSERT_EQ(events[v]->stream_version, static_cast<int64_t>(v) + 1) << stream;
    }
  }
  size_t acknowledged = 0;
  int conflicts = 0;
  for (const Attempt& a : attempts) {
    if (a.ok) {
      // Every acknowledged event is stored exactly where it was reported.
      EXPECT_EQ(a.first_version, a.expected + 1);
      for (size_t k = 0; k < a.ids.size(); ++k) {
        auto found = by_id.find(a.ids[k]);
        ASSERT_NE(found, by_id.end()) << "lost event " << a.ids[k];
        EXPECT_EQ(found->second->stream_id.ToString(), a.stream);
        EXPECT_EQ(found->second->stream_version, a.first_version + static_cast<int64_t>(k));
        EXPECT_EQ(found->second->global_position, a.first_position + static_cast<int64_t>(k));
      }
      acknowledged += a.ids.size();
    } else {
      ++conflicts;
      // A real conflict: nothing of it was written, the stream really was
      // past the expected version, and the version it reported exists.
      for (const auto& id : a.ids) EXPECT_EQ(by_id.count(id), 0u) << "conflicted event was written";
      EXPECT_NE(a.actual, a.expected);
      EXPECT_GT(a.actual, a.expected) << "versions only grow here";
      const auto& events = by_stream[a.stream];
      ASSERT_GE(static_cast<int64_t>(events.size()), a.actual);
      // The event at expected+1 was written by a successful append of
      // another attempt: the expectation was stale when checked.
      const Event* next = events[static_cast<size_t>(a.expected)];
      EXPECT_EQ(next->stream_version, a.expected + 1);
    }
  }
  EXPECT_EQ(acknowledged, all.size()) << "every stored event was acknowledged to exactly one attempt";
  EXPECT_GT(conflicts, 0) << "overlapping streams should produce some conflicts";
}

}  // namespace
}  // namespace estoria::postgres
