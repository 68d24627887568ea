// Two processes appending to one SQLite file at the same time, to a shared
// stream (optimistic concurrency) and to their own streams: no lost,
// duplicated or reordered events, and failed expectations are Conflicts.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "child_process.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "estoria/testing/matchers.h"

namespace estoria::sqlite {
namespace {

using ::estoria::testing::ChildProcess;

TEST(SqliteMultiProcessTest, TwoProcessesAppendToTheSameFile) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "estoria-mp-XXXXXX").string();
  std::string dir = mkdtemp(tmpl.data());
  std::string path = dir + "/shared.db";
  constexpr int kAttempts = 150;
  TypeId shared = TypeId::New("shared").value();
  {
    SqliteOptions o;
    o.path = path;
    ESTORIA_ASSERT_OK(SqliteEventStore::Open(o).error());  // create the schema once
  }
  struct Outcome {
    int ok = 0, conflicts = 0;
    std::string own;
  };
  std::map<std::string, Outcome> outcomes;
  {
    ChildProcess a({ESTORIA_SQLITE_CHILD, "race", path, "a", shared.ToString(), std::to_string(kAttempts)});
    ChildProcess b({ESTORIA_SQLITE_CHILD, "race", path, "b", shared.ToString(), std::to_string(kAttempts)});
    ASSERT_TRUE(a.started() && b.started());
    ASSERT_EQ(a.ReadLine(), "ready");
    ASSERT_EQ(b.ReadLine(), "ready");
    a.WriteStdin("go\n");
    b.WriteStdin("go\n");
    for (auto [tag, child] : {std::pair<std::string, ChildProcess*>{"a", &a}, {"b", &b}}) {
      std::istringstream done(child->ReadLine());
      std::string word;
      Outcome& out = outcomes[tag];
      done >> word >> out.ok >> out.conflicts >> out.own;
      EXPECT_EQ(word, "done") << "child " << tag << " failed";
      int status = child->Wait();
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child " << tag << " status " << status;
      EXPECT_EQ(out.ok + out.conflicts, kAttempts);
    }
  }
  int total_ok = outcomes["a"].ok + outcomes["b"].ok;
  EXPECT_GT(outcomes["a"].conflicts + outcomes["b"].conflicts, 0) << "the processes never raced";
  EXPECT_GT(total_ok, 0);

  SqliteOptions o;
  o.path = path;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, SqliteEventStore::Open(o));
  // The shared stream: exactly the acknowledged appends, each process's in its
  // own order, no duplicates.
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto it, store->ReadStream(shared));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto events, Collect(*it));
  ASSERT_EQ(static_cast<int>(events.size()), total_ok);
  std::set<std::string> seen;
  std::map<char, int> last_seq{{'a', -1}, {'b', -1}};
  std::map<char, int> per_tag;
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].stream_version, static_cast<int64_t>(i) + 1);
    EXPECT_TRUE(seen.insert(events[i].data).second) << "duplicate " << events[i].data;
    char tag = events[i].data[0];
    int seq = std::stoi(events[i].data.substr(2));
    EXPECT_GT(seq, last_seq[tag]) << "reordered " << events[i].data;
    last_seq[tag] = seq;
    ++per_tag[tag];
  }
  EXPECT_EQ(per_tag['a'], outcomes["a"].ok);
  EXPECT_EQ(per_tag['b'], outcomes["b"].ok);
  // Each process's own stream: every append, in order.
  for (const auto& [tag, out] : outcomes) {
    ESTORIA_ASSERT_OK_AND_ASSIGN(TypeId own, TypeId::Parse(out.own));
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto own_it, store->ReadStream(own));
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto own_events, Collect(*own_it));
    ASSERT_EQ(static_cast<int>(own_events.size()), kAttempts);
    for (int i = 0; i < kAttempts; ++i) EXPECT_EQ(own_events[i].data, tag + ":" + std::to_string(i));
  }
  // The global log: gap-free positions 1..head, every event once.
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, store->HeadPosition());
  EXPECT_EQ(head, total_ok + 2 * kAttempts);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto all_it, store->ReadAll());
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, Collect(*all_it));
  ASSERT_EQ(static_cast<int64_t>(all.size()), head);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].global_position, static_cast<int64_t>(i) + 1);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace estoria::sqlite
