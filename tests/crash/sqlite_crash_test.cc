// Crash safety of the SQLite event store: a child process appends from 8
// threads (strict durability) and reports each acknowledged append on a pipe;
// the parent kills it with SIGKILL mid-run, reopens the file and checks that
// every acknowledged event is there, positions form a gap-free prefix and
// PRAGMA integrity_check says ok. Six rounds on the same file, different kill
// delays.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <sstream>

#include "child_process.h"
#include "estoria/sqlite/database.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "estoria/testing/matchers.h"

namespace estoria::sqlite {
namespace {

using ::estoria::testing::ChildProcess;

struct Ack {
  std::string stream;
  int64_t version = 0;
  std::string uuid;
};

// Parses complete "ack ..." lines from buf into acks, leaving a partial line.
void ParseAcks(std::string& buf, std::map<int64_t, Ack>& acks) {
  size_t start = 0;
  for (size_t nl; (nl = buf.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::istringstream line(buf.substr(start, nl - start));
    std::string word;
    int64_t position = 0;
    Ack a;
    line >> word >> position >> a.stream >> a.version >> a.uuid;
    ASSERT_EQ(word, "ack") << buf.substr(start, nl - start);
    ASSERT_TRUE(acks.emplace(position, a).second) << "position acknowledged twice: " << position;
  }
  buf.erase(0, start);
}

TEST(SqliteCrashTest, AcknowledgedAppendsSurviveSigkill) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "estoria-crash-XXXXXX").string();
  std::string dir = mkdtemp(tmpl.data());
  std::string path = dir + "/crash.db";
  std::map<int64_t, Ack> acks;  // every acknowledged event of every round
  const std::vector<int> kill_delays_ms = {30, 90, 200, 350, 600, 1000};
  for (size_t round = 0; round < kill_delays_ms.size(); ++round) {
    SCOPED_TRACE("round " + std::to_string(round) + ", kill after " + std::to_string(kill_delays_ms[round]) + " ms");
    size_t before = acks.size();
    {
      ChildProcess child({ESTORIA_SQLITE_CHILD, "crash", path, "8", "{fd}"}, /*extra_pipe=*/true);
      ASSERT_TRUE(child.started());
      std::string buf;
      // Wait for the first acknowledgement (the child is running), then let it
      // run for the round's delay and kill it.
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (acks.size() == before && std::chrono::steady_clock::now() < deadline) {
        ASSERT_TRUE(ChildProcess::ReadSome(child.extra_fd(), buf, std::chrono::milliseconds(100)))
            << "child exited early";
        ParseAcks(buf, acks);
      }
      ASSERT_GT(acks.size(), before) << "child acknowledged nothing";
      auto kill_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(kill_delays_ms[round]);
      while (std::chrono::steady_clock::now() < kill_at) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(kill_at - std::chrono::steady_clock::now());
        ASSERT_TRUE(ChildProcess::ReadSome(child.extra_fd(), buf, std::max(left, std::chrono::milliseconds(1))))
            << "child exited early";
        ParseAcks(buf, acks);
      }
      child.Kill(SIGKILL);
      while (ChildProcess::ReadSome(child.extra_fd(), buf, std::chrono::seconds(5))) ParseAcks(buf, acks);
      ParseAcks(buf, acks);
      EXPECT_TRUE(buf.empty()) << "partial acknowledgement line: " << buf;
      int status = child.Wait();
      ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child did not die by SIGKILL: " << status;
    }
    // Integrity first, on a plain connection (recovers the WAL).
    {
      ESTORIA_ASSERT_OK_AND_ASSIGN(auto raw, SqliteDatabase::Open(path));
      ESTORIA_ASSERT_OK_AND_ASSIGN(std::string check, raw->QueryText("PRAGMA integrity_check"));
      EXPECT_EQ(check, "ok");
    }
    SqliteOptions o;
    o.path = path;
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, SqliteEventStore::Open(o));
    ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, store->HeadPosition());
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto it, store->ReadAll());
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto all, Collect(*it));
    ASSERT_EQ(static_cast<int64_t>(all.size()), head) << "positions are not a gap-free prefix";
    std::map<std::string, int64_t> tips;
    for (size_t i = 0; i < all.size(); ++i) {
      ASSERT_EQ(all[i].global_position, static_cast<int64_t>(i) + 1);
      ASSERT_EQ(all[i].stream_version, ++tips[all[i].stream_id.ToString()]) << "stream versions have a gap";
    }
    ASSERT_GE(head, acks.rbegin()->first);
    for (const auto& [position, ack] : acks) {
      const Event& e = all[position - 1];
      ASSERT_EQ(e.stream_id.ToString(), ack.stream) << "at position " << position;
      ASSERT_EQ(e.stream_version, ack.version) << "at position " << position;
      ASSERT_EQ(e.id.uuid().ToString(), ack.uuid) << "at position " << position;
    }
    RecordProperty("round" + std::to_string(round) + "_acks", static_cast<int>(acks.size() - before));
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace estoria::sqlite
