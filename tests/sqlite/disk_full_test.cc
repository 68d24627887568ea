// Disk full on a real file system: a small tmpfs mounted in a private mount
// namespace (the test process calls unshare(CLONE_NEWNS) once, so nothing is
// visible outside it), made exactly full with a ballast file (written until
// ENOSPC; statfs then reports no free block) or full but for a known number
// of pages, and freed by deleting the ballast.
//  - Appends from several threads on a full disk fail with Unavailable naming
//    "disk full"; none that failed is visible, every one that returned OK is
//    read back (also after reopening the file); the same store object appends
//    again once space is freed; PRAGMA integrity_check says ok.
//  - A processor with a SQLite read model on a full disk: its read-model
//    transactions (and lease renewals) fail with the same error, it keeps
//    running, the model stays equal to the fold of the log up to its
//    checkpoint, and once space is freed it catches up and the model equals
//    the fold of the whole log.
//  - The same when the handler's own writes hit the full disk (they spill
//    from SQLite's page cache): the processor retries instead of applying its
//    failure policy, so it neither stops (kStop) nor parks events (kPark).
// Skips (with the reason) where mounting is not permitted (not root, no
// CAP_SYS_ADMIN).
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../projection/sqlite_totals.h"
#include "estoria/projection/processor.h"
#include "estoria/sqlite/database.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "estoria/sqlite/sqlite_read_model.h"
#include "estoria/testing/matchers.h"
#include "sqlite_test_util.h"

namespace estoria::testing {
namespace {

using namespace std::chrono_literals;

// Enters a private mount namespace once per process. Returns why not, or "".
const std::string& PrivateMountNamespace() {
  static const std::string why = []() -> std::string {
    if (unshare(CLONE_NEWNS) != 0) return std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
    // Mounts made from now on must not propagate to the parent namespace.
    if (mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      return std::string("mount --make-rprivate /: ") + std::strerror(errno);
    }
    return "";
  }();
  return why;
}

// A tmpfs of `bytes` mounted on a new directory, with a ballast file that fills
// it exactly. Unmounted (lazily, even with files still open) on destruction.
class SmallFileSystem {
 public:
  ~SmallFileSystem() {
    if (mounted_) umount2(path_.c_str(), MNT_DETACH);
  }
  // Returns "" or why mounting is impossible here.
  std::string Mount(const std::string& path, int64_t bytes) {
    path_ = path;
    if (mkdir(path.c_str(), 0755) != 0) return "mkdir " + path + ": " + std::strerror(errno);
    const std::string& why = PrivateMountNamespace();
    if (!why.empty()) return why;
    std::string opts = "size=" + std::to_string(bytes);
    if (mount("tmpfs", path.c_str(), "tmpfs", 0, opts.c_str()) != 0) {
      return "mount -t tmpfs -o " + opts + " " + path + ": " + std::strerror(errno);
    }
    mounted_ = true;
    return "";
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  int64_t FreeBytes() const {
    struct statvfs st {};
    if (statvfs(path_.c_str(), &st) != 0) return -1;
    return static_cast<int64_t>(st.f_bavail) * static_cast<int64_t>(st.f_frsize);
  }
  // Writes the ballast until the file system refuses (ENOSPC): no block is
  // left. Returns the bytes written.
  int64_t Fill() {
    int fd = open(File("ballast").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    EXPECT_GE(fd, 0) << std::strerror(errno);
    if (fd < 0) return 0;
    std::string chunk(64 * 1024, 'b');
    int64_t written = 0;
    for (size_t size : {chunk.size(), size_t{4096}, size_t{1}}) {
      for (;;) {
        ssize_t n = write(fd, chunk.data(), size);
        if (n <= 0) {
          EXPECT_EQ(errno, ENOSPC) << std::strerror(errno);
          break;
        }
        written += n;
      }
    }
    close(fd);
    return written;
  }
  // Gives `bytes` (whole pages) back by shortening the ballast.
  void Leave(int64_t bytes) {
    struct stat st {};
    ASSERT_EQ(stat(File("ballast").c_str(), &st), 0) << std::strerror(errno);
    ASSERT_GE(st.st_size, bytes);
    ASSERT_EQ(truncate(File("ballast").c_str(), st.st_size - bytes), 0) << std::strerror(errno);
  }
  void Free() { EXPECT_EQ(unlink(File("ballast").c_str()), 0) << std::strerror(errno); }

 private:
  std::string path_;
  bool mounted_ = false;
};

Result<std::string> IntegrityCheck(const std::string& path) {
  ESTORIA_ASSIGN_OR_RETURN(auto db, sqlite::SqliteDatabase::Open(path));
  return db->QueryText("PRAGMA integrity_check");
}

bool NamesDiskFull(const Status& s) { return s.message().find("disk full") != std::string::npos; }

class DiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = fs_.Mount(dir_.File("small"), 8 * 1024 * 1024);
    if (!why.empty()) GTEST_SKIP() << "cannot mount a small tmpfs here (needs root/CAP_SYS_ADMIN): " << why;
  }
  TempDir dir_;
  SmallFileSystem fs_;  // unmounted before dir_ is removed
};

// What one appended (or refused) event carries: "<thread>-<attempt>" in its data.
struct Attempt {
  int thread = 0;
  int attempt = 0;
  std::string tag() const { return std::to_string(thread) + "-" + std::to_string(attempt); }
};

std::string EventData(const Attempt& a) {
  return "{\"tag\":\"" + a.tag() + "\",\"pad\":\"" + std::string(1500, 'p') + "\"}";
}

std::string TagOf(const Event& e) {
  auto j = nlohmann::json::parse(e.data, nullptr, false);
  return j.is_object() && j.contains("tag") ? j["tag"].get<std::string>() : "";
}

TEST_F(DiskFullTest, AppendsFailCleanlyAndNothingAcknowledgedIsLost) {
  std::string path = fs_.File("store.db");
  sqlite::SqliteOptions so;
  so.path = path;  // kStrict: an OK append is on disk
  so.logger = NullLogger();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, sqlite::SqliteEventStore::Open(so));
  ESTORIA_ASSERT_OK(AppendEvents(*store, 20, 4).error());

  // Exactly 64 pages left: the first appends fit, then a commit runs out of
  // space part-way through its WAL frames, then nothing fits.
  ASSERT_GT(fs_.Fill(), 0);
  ASSERT_EQ(fs_.FreeBytes(), 0);
  fs_.Leave(64 * 4096);
  ASSERT_EQ(fs_.FreeBytes(), 64 * 4096);

  // Four threads append (group commit batches them) until each has seen 20
  // refusals; a thread's attempts are numbered, so acknowledged and refused
  // appends are told apart when read back.
  constexpr int kThreads = 4, kRefusals = 20, kMaxAttempts = 5000;
  struct Outcome {
    std::map<std::string, Event> ok;  // by tag
    std::set<std::string> refused;
    std::vector<Status> errors;
  };
  std::vector<Outcome> outcomes(kThreads);
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        TypeId stream("counter", Uuid::NewV7());
        Outcome& out = outcomes[t];
        for (int i = 0; i < kMaxAttempts && static_cast<int>(out.refused.size()) < kRefusals; ++i) {
          Attempt a{t, i};
          WritableEvent e;
          e.type = "added";
          e.data = EventData(a);
          auto r = store->AppendStream(stream, {&e, 1});
          if (r.ok()) {
            out.ok[a.tag()] = r->front();
          } else {
            out.refused.insert(a.tag());
            out.errors.push_back(r.error());
          }
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  std::map<std::string, Event> acknowledged;
  std::set<std::string> refused;
  for (const Outcome& o : outcomes) {
    ASSERT_EQ(static_cast<int>(o.refused.size()), kRefusals) << "the disk never filled up";
    for (const Status& s : o.errors) {
      EXPECT_TRUE(s.IsUnavailable()) << s;
      EXPECT_TRUE(NamesDiskFull(s)) << s;
    }
    acknowledged.insert(o.ok.begin(), o.ok.end());
    refused.insert(o.refused.begin(), o.refused.end());
  }
  EXPECT_FALSE(acknowledged.empty()) << "the pages left took no append";
  std::cout << "[          ] full disk: " << acknowledged.size() << " appends acknowledged, " << refused.size()
            << " refused; first error: " << outcomes[0].errors.front() << "\n";

  // Every acknowledged append is there and no refused one, gap-free, as read
  // through `reader` (the store while full, after freeing, and reopened).
  int64_t expected_extra = 0;
  auto check = [&](sqlite::SqliteEventStore& reader, const char* when) {
    SCOPED_TRACE(when);
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto it, reader.ReadAll());
    std::set<std::string> seen;
    int64_t position = 0, tagged = 0;
    for (;;) {
      ESTORIA_ASSERT_OK_AND_ASSIGN(auto e, it->Next());
      if (!e) break;
      EXPECT_EQ(e->global_position, position + 1) << "a gap in the log";
      position = e->global_position;
      std::string tag = TagOf(*e);
      if (tag.empty()) continue;
      ++tagged;
      EXPECT_FALSE(refused.contains(tag)) << "a refused append is visible: " << tag;
      auto ack = acknowledged.find(tag);
      if (ack == acknowledged.end()) continue;
      seen.insert(tag);
      EXPECT_EQ(e->global_position, ack->second.global_position) << tag;
      EXPECT_EQ(e->stream_id, ack->second.stream_id) << tag;
      EXPECT_EQ(e->stream_version, ack->second.stream_version) << tag;
      EXPECT_EQ(e->id, ack->second.id) << tag;
    }
    EXPECT_EQ(seen.size(), acknowledged.size()) << "an acknowledged append was lost";
    EXPECT_EQ(tagged, static_cast<int64_t>(acknowledged.size()) + expected_extra);
    ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, reader.HeadPosition());
    EXPECT_EQ(head, position);
  };
  check(*store, "while the disk is full");

  // Space freed: the same store object appends again.
  fs_.Free();
  for (int i = 0; i < 50; ++i) {
    Attempt a{kThreads, i};
    WritableEvent e;
    e.type = "added";
    e.data = EventData(a);
    auto r = store->AppendStream(TypeId("counter", Uuid::NewV7()), {&e, 1});
    ESTORIA_ASSERT_OK(r) << "append " << i << " after space was freed";
    acknowledged[a.tag()] = r->front();
  }
  check(*store, "after space was freed");
  store.reset();
  ESTORIA_ASSERT_OK_AND_ASSIGN(std::string integrity, IntegrityCheck(path));
  EXPECT_EQ(integrity, "ok");
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto reopened, sqlite::SqliteEventStore::Open(so));
  check(*reopened, "reopened");
}

TEST_F(DiskFullTest, ReadModelCatchesUpOnceSpaceIsFreed) {
  // The log on the ordinary disk; the read model alone on the small file system.
  sqlite::SqliteOptions so;
  so.path = dir_.File("store.db");
  so.durability = Durability::kRelaxed;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, sqlite::SqliteEventStore::Open(so));
  std::string model_path = fs_.File("model.db");
  sqlite::SqliteReadModelOptions mo;
  mo.path = model_path;  // kStrict
  mo.setup = [](sqlite::SqliteDatabase& db) { return CreateTables(db); };
  mo.lease_ttl = 300ms;
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto model,
      sqlite::SqliteReadModel::Open(mo, [](sqlite::SqliteDatabase& db, const Event& e) { return ApplyTotals(db, e); }));
  ProcessorOptions po;
  po.name = "totals";
  po.batch_size = 16;
  po.poll_interval = 20ms;
  po.retry_interval = 20ms;
  po.lock = model;  // its renewals hit the full disk too
  po.lock_retry_interval = 20ms;
  po.logger = NullLogger();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto processor, Processor::Create(store, model, po));
  ESTORIA_ASSERT_OK(processor->Start());
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, AppendEvents(*store, 100, 8));
  ESTORIA_ASSERT_OK(processor->WaitForPosition(head, 30s));

  ASSERT_GT(fs_.Fill(), 0);
  ASSERT_EQ(fs_.FreeBytes(), 0);
  // Far more than the model's WAL can take without growing.
  ESTORIA_ASSERT_OK_AND_ASSIGN(head, AppendEvents(*store, 400, 8));
  // Wait (bounded) until the processor has hit the full disk.
  ProcessorState state;
  for (auto deadline = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < deadline;) {
    state = processor->state();
    if (NamesDiskFull(state.last_error)) break;
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(NamesDiskFull(state.last_error)) << "last error: " << state.last_error;
  EXPECT_TRUE(state.last_error.IsUnavailable()) << state.last_error;
  std::cout << "[          ] processor on a full disk: " << state.last_error << "\n";
  EXPECT_LT(state.position, head);
  EXPECT_NE(state.phase, ProcessorPhase::kFailed);

  // While full: the model (read through another connection) equals the fold
  // of the log up to its checkpoint: no partial transaction.
  {
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto db, sqlite::SqliteDatabase::Open(model_path));
    ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t checkpoint,
                                 db->QueryInt64("SELECT position FROM estoria_checkpoints WHERE name = 'totals'"));
    EXPECT_LT(checkpoint, head);
    ESTORIA_ASSERT_OK_AND_ASSIGN(TotalsByStream model_totals, ReadTotals(*db));
    TotalsByStream fold;
    ESTORIA_ASSERT_OK_AND_ASSIGN(auto it, store->ReadAll({0, checkpoint}));
    for (;;) {
      ESTORIA_ASSERT_OK_AND_ASSIGN(auto e, it->Next());
      if (!e) break;
      fold[e->stream_id.ToString()].total += EventN(*e);
      fold[e->stream_id.ToString()].events += 1;
    }
    EXPECT_EQ(model_totals, fold);
    auto [rows, distinct] = AppliedCounts(*db);
    EXPECT_EQ(rows, checkpoint);
    EXPECT_EQ(distinct, checkpoint);
  }

  // Space freed: the same processor catches up, and goes on.
  fs_.Free();
  ESTORIA_ASSERT_OK(processor->WaitForPosition(head, 30s));
  ESTORIA_ASSERT_OK_AND_ASSIGN(head, AppendEvents(*store, 50, 8));
  ESTORIA_ASSERT_OK(processor->WaitForPosition(head, 30s));
  ESTORIA_ASSERT_OK(processor->Stop());
  EXPECT_EQ(processor->state().phase, ProcessorPhase::kStopped);

  ESTORIA_ASSERT_OK_AND_ASSIGN(TotalsByStream fold, FoldLog(*store));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto db, sqlite::SqliteDatabase::Open(model_path));
  ESTORIA_ASSERT_OK_AND_ASSIGN(TotalsByStream model_totals, ReadTotals(*db));
  EXPECT_EQ(model_totals, fold);
  auto [rows, distinct] = AppliedCounts(*db);
  EXPECT_EQ(rows, head);  // every event once: none twice, none missed
  EXPECT_EQ(distinct, head);
  db.reset();
  ESTORIA_ASSERT_OK_AND_ASSIGN(std::string integrity, IntegrityCheck(model_path));
  EXPECT_EQ(integrity, "ok");
}

// The handler's writes spill from SQLite's page cache (4 pages, 1 KB per event,
// batches of 64) into the WAL on the full disk: Apply itself fails with disk
// full. That is the sink's failure, not the handler's: the processor retries
// instead of applying its failure policy (kStop would stop it, kPark would park
// healthy events), and catches up once space is freed.
void HandlerWritesFailOnAFullDisk(SmallFileSystem& fs, TempDir& dir, FailurePolicy policy) {
  sqlite::SqliteOptions so;
  so.path = dir.File("store.db");
  so.durability = Durability::kRelaxed;
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto store, sqlite::SqliteEventStore::Open(so));
  std::string model_path = fs.File("model.db");
  sqlite::SqliteReadModelOptions mo;
  mo.path = model_path;
  mo.setup = [](sqlite::SqliteDatabase& db) {
    ESTORIA_RETURN_IF_ERROR(db.Exec("PRAGMA cache_size=4"));
    ESTORIA_RETURN_IF_ERROR(db.Exec("CREATE TABLE IF NOT EXISTS pads (position INTEGER PRIMARY KEY, pad BLOB)"));
    return CreateTables(db);
  };
  ESTORIA_ASSERT_OK_AND_ASSIGN(
      auto model, sqlite::SqliteReadModel::Open(mo, [](sqlite::SqliteDatabase& db, const Event& e) {
        ESTORIA_RETURN_IF_ERROR(ApplyTotals(db, e));
        ESTORIA_ASSIGN_OR_RETURN(auto st, db.Prepare("INSERT INTO pads VALUES (?, zeroblob(1000))"));
        ESTORIA_RETURN_IF_ERROR(st.BindInt64(1, e.global_position));
        return st.Run();
      }));
  ProcessorOptions po;
  po.name = "totals";
  po.batch_size = 64;
  po.poll_interval = 20ms;
  po.retry_interval = 20ms;
  po.failure_policy = policy;
  po.logger = NullLogger();
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto processor, Processor::Create(store, model, po));
  ESTORIA_ASSERT_OK(processor->Start());
  ESTORIA_ASSERT_OK_AND_ASSIGN(int64_t head, AppendEvents(*store, 100, 8));
  ESTORIA_ASSERT_OK(processor->WaitForPosition(head, 30s));
  ESTORIA_ASSERT_OK(processor->Stop());

  // A backlog first, so that the processor's first batch is a full one.
  ASSERT_GT(fs.Fill(), 0);
  ASSERT_EQ(fs.FreeBytes(), 0);
  ESTORIA_ASSERT_OK_AND_ASSIGN(head, AppendEvents(*store, 400, 8));
  ESTORIA_ASSERT_OK(processor->Start());
  ProcessorState state;
  for (auto deadline = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < deadline;) {
    state = processor->state();
    // The failed statement is the handler's: the failure happened in Apply.
    bool in_apply = state.last_error.message().find("[INSERT INTO ") != std::string::npos;
    if (state.phase == ProcessorPhase::kFailed || state.events_parked > 0 || in_apply) break;
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_NE(state.phase, ProcessorPhase::kFailed) << state.last_error;
  EXPECT_NE(state.last_error.message().find("[INSERT INTO "), std::string::npos) << state.last_error;
  EXPECT_TRUE(NamesDiskFull(state.last_error)) << state.last_error;
  EXPECT_TRUE(state.last_error.IsUnavailable()) << state.last_error;
  std::cout << "[          ] handler on a full disk: " << state.last_error << "\n";

  fs.Free();
  ESTORIA_ASSERT_OK(processor->WaitForPosition(head, 30s));
  ESTORIA_ASSERT_OK(processor->Stop());
  EXPECT_EQ(processor->state().events_parked, 0);
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto parked, processor->ListParked());
  EXPECT_TRUE(parked.empty()) << parked.size() << " healthy events were parked";

  ESTORIA_ASSERT_OK_AND_ASSIGN(TotalsByStream fold, FoldLog(*store));
  ESTORIA_ASSERT_OK_AND_ASSIGN(auto db, sqlite::SqliteDatabase::Open(model_path));
  ESTORIA_ASSERT_OK_AND_ASSIGN(TotalsByStream model_totals, ReadTotals(*db));
  EXPECT_EQ(model_totals, fold);
  auto [rows, distinct] = AppliedCounts(*db);
  EXPECT_EQ(rows, head);
  EXPECT_EQ(distinct, head);
  EXPECT_EQ(db->QueryInt64("SELECT COUNT(*) FROM pads").value_or(-1), head);
  db.reset();
  ESTORIA_ASSERT_OK_AND_ASSIGN(std::string integrity, IntegrityCheck(model_path));
  EXPECT_EQ(integrity, "ok");
}

TEST_F(DiskFullTest, HandlerWritesOnAFullDiskDoNotStopTheProcessor) {
  HandlerWritesFailOnAFullDisk(fs_, dir_, FailurePolicy::Stop());
}

TEST_F(DiskFullTest, HandlerWritesOnAFullDiskParkNothing) {
  HandlerWritesFailOnAFullDisk(fs_, dir_, FailurePolicy::Park(1));
}

}  // namespace
}  // namespace estoria::testing
