// Power loss on SQLite, simulated. A process crash (kill -9, tests/crash/)
// keeps everything the process wrote, because the kernel's page cache survives
// it; a power cut does not. To test the stronger promise, PowerCutVfs sits over
// the default VFS (unix) and plays the page cache itself: a write goes to an
// in-memory image of the file that every connection reads, and reaches the real
// file only when the file is synced (xSync). ArmCut() makes the power go off
// in the middle of a commit: each write not yet synced is kept or dropped at
// random (seeded; a disk cache may have written any of them, in any order,
// SQLite's own assumption), and every later I/O fails, as the process is as
// good as dead. The file on disk is then opened
// again with the plain unix VFS, as after a reboot.
//
// Promises checked (docs/reliability.md):
//  - strict (synchronous=FULL): every append acknowledged before or after the
//    cut is present after the reboot, no other event exists, the file passes
//    PRAGMA integrity_check and the store appends again at the next position;
//  - relaxed (synchronous=NORMAL): the last acknowledged appends may be lost,
//    but what survives is a prefix of the log (gap-free positions 1..P, each
//    stream a prefix of what it was sent) and the file is intact.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "estoria/sqlite/database.h"
#include "estoria/sqlite/sqlite_event_store.h"
#include "estoria/testing/matchers.h"
#include "sqlite_test_util.h"

namespace estoria::sqlite {
namespace {

using testing::TempDir;

class PowerCutVfs {
 public:
  // Registers the VFS as the process default; the previous default comes back
  // with Uninstall. No connection may be open across either call.
  void Install() {
    real_ = sqlite3_vfs_find(nullptr);
    ASSERT_NE(real_, nullptr);
    vfs_ = sqlite3_vfs{};
    vfs_.iVersion = 2;
    vfs_.szOsFile = static_cast<int>(sizeof(File)) + real_->szOsFile;
    vfs_.mxPathname = real_->mxPathname;
    vfs_.zName = "estoria-power-cut";
    vfs_.pAppData = this;
    vfs_.xOpen = &Open;
    vfs_.xDelete = &Delete;
    vfs_.xAccess = [](sqlite3_vfs* v, const char* name, int flags, int* out) {
      return Real(v)->xAccess(Real(v), name, flags, out);
    };
    vfs_.xFullPathname = [](sqlite3_vfs* v, const char* name, int n, char* out) {
      return Real(v)->xFullPathname(Real(v), name, n, out);
    };
    vfs_.xDlOpen = [](sqlite3_vfs* v, const char* name) { return Real(v)->xDlOpen(Real(v), name); };
    vfs_.xDlError = [](sqlite3_vfs* v, int n, char* msg) { Real(v)->xDlError(Real(v), n, msg); };
    vfs_.xDlSym = [](sqlite3_vfs* v, void* h, const char* sym) { return Real(v)->xDlSym(Real(v), h, sym); };
    vfs_.xDlClose = [](sqlite3_vfs* v, void* h) { Real(v)->xDlClose(Real(v), h); };
    vfs_.xRandomness = [](sqlite3_vfs* v, int n, char* out) { return Real(v)->xRandomness(Real(v), n, out); };
    vfs_.xSleep = [](sqlite3_vfs* v, int us) { return Real(v)->xSleep(Real(v), us); };
    vfs_.xCurrentTime = [](sqlite3_vfs* v, double* t) { return Real(v)->xCurrentTime(Real(v), t); };
    vfs_.xGetLastError = [](sqlite3_vfs* v, int n, char* msg) { return Real(v)->xGetLastError(Real(v), n, msg); };
    vfs_.xCurrentTimeInt64 = [](sqlite3_vfs* v, sqlite3_int64* t) { return Real(v)->xCurrentTimeInt64(Real(v), t); };
    {
      std::lock_guard<std::mutex> lock(mu_);
      files_.clear();
      off_ = false;
    }
    ASSERT_EQ(sqlite3_vfs_register(&vfs_, 1), SQLITE_OK);
  }

  void Uninstall() {
    ASSERT_EQ(sqlite3_vfs_register(real_, 1), SQLITE_OK);
    ASSERT_EQ(sqlite3_vfs_unregister(&vfs_), SQLITE_OK);
  }

  // Arms the cut: the power goes off right after the `writes`-th write from
  // now reaches the page cache (so writes of a commit in flight are unsynced
  // at the cut, whatever the timing). Then each unsynced write (or truncation)
  // reaches the disk with probability 1/2 (seeded), in order; the rest are
  // lost; every later read, write, sync or delete fails with an I/O error.
  void ArmCut(uint64_t seed, int writes) {
    std::lock_guard<std::mutex> lock(mu_);
    seed_ = seed;
    writes_until_cut_ = writes;
  }
  bool off() const {
    std::lock_guard<std::mutex> lock(mu_);
    return off_;
  }
  // Unsynced writes dropped at the cut.
  int dropped() const {
    std::lock_guard<std::mutex> lock(mu_);
    return dropped_;
  }

  int syncs() const { return syncs_.load(); }

 private:
  void CutLocked() {
    std::mt19937_64 rng(seed_);
    for (auto& [path, image] : files_) {
      for (const Op& op : image.pending) {
        if (rng() % 2 == 0) {
          ++dropped_;
          continue;
        }
        if (ApplyToDisk(path, op) != SQLITE_OK) ADD_FAILURE() << "could not write " << path;
      }
      image.pending.clear();
    }
    off_ = true;
  }

  struct Op {
    bool truncate = false;
    sqlite3_int64 offset = 0;  // the new size for a truncation
    std::string bytes;
  };
  // What the page cache holds of one file: its current bytes (what every
  // connection reads) and the writes the disk has not been promised yet.
  struct Image {
    std::string bytes;
    std::vector<Op> pending;
  };
  struct File {
    sqlite3_file base;
    PowerCutVfs* vfs;
    std::string* path;  // key of files_ (stable: std::map), null: passed through
    sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
  };
  static_assert(sizeof(File) % 8 == 0);

  static sqlite3_vfs* Real(sqlite3_vfs* v) { return static_cast<PowerCutVfs*>(v->pAppData)->real_; }
  static File* F(sqlite3_file* f) { return reinterpret_cast<File*>(f); }

  // Writes op to the real file (a fresh handle: the file may be closed).
  int ApplyToDisk(const std::string& path, const Op& op) {
    std::vector<char> mem(static_cast<size_t>(real_->szOsFile));
    auto* f = reinterpret_cast<sqlite3_file*>(mem.data());
    int out = 0;
    int rc = real_->xOpen(real_, path.c_str(), f, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MAIN_DB, &out);
    if (rc != SQLITE_OK) return rc;
    rc = op.truncate ? f->pMethods->xTruncate(f, op.offset)
                     : f->pMethods->xWrite(f, op.bytes.data(), static_cast<int>(op.bytes.size()), op.offset);
    f->pMethods->xClose(f);
    return rc;
  }

  static int Open(sqlite3_vfs* v, const char* name, sqlite3_file* file, int flags, int* out_flags) {
    auto* self = static_cast<PowerCutVfs*>(v->pAppData);
    File* f = F(file);
    f->base.pMethods = nullptr;
    f->vfs = self;
    f->path = nullptr;
    int rc = self->real_->xOpen(self->real_, name, f->real(), flags, out_flags);
    if (rc != SQLITE_OK) return rc;
    f->base.pMethods = &kMethods;
    if (name == nullptr) return SQLITE_OK;  // a temporary file: passed through
    std::lock_guard<std::mutex> lock(self->mu_);
    if (self->off_) return SQLITE_IOERR;
    auto [it, added] = self->files_.try_emplace(name);
    f->path = const_cast<std::string*>(&it->first);
    if (added) {  // the page cache starts as the disk
      sqlite3_int64 size = 0;
      rc = f->real()->pMethods->xFileSize(f->real(), &size);
      if (rc != SQLITE_OK) return rc;
      it->second.bytes.resize(static_cast<size_t>(size));
      if (size > 0) rc = f->real()->pMethods->xRead(f->real(), it->second.bytes.data(), static_cast<int>(size), 0);
    }
    return rc;
  }

  static int Delete(sqlite3_vfs* v, const char* name, int sync_dir) {
    auto* self = static_cast<PowerCutVfs*>(v->pAppData);
    std::lock_guard<std::mutex> lock(self->mu_);
    if (self->off_) return SQLITE_IOERR_DELETE;
    self->files_.erase(name);
    return self->real_->xDelete(self->real_, name, sync_dir);
  }

  static int Close(sqlite3_file* file) { return F(file)->real()->pMethods->xClose(F(file)->real()); }

  static int Read(sqlite3_file* file, void* buf, int amount, sqlite3_int64 offset) {
    File* f = F(file);
    if (f->path == nullptr) return f->real()->pMethods->xRead(f->real(), buf, amount, offset);
    std::lock_guard<std::mutex> lock(f->vfs->mu_);
    if (f->vfs->off_) return SQLITE_IOERR_READ;
    const std::string& bytes = f->vfs->files_[*f->path].bytes;
    const auto have = static_cast<sqlite3_int64>(bytes.size());
    const sqlite3_int64 n = offset >= have ? 0 : std::min<sqlite3_int64>(amount, have - offset);
    if (n > 0) std::memcpy(buf, bytes.data() + offset, static_cast<size_t>(n));
    if (n == amount) return SQLITE_OK;
    std::memset(static_cast<char*>(buf) + n, 0, static_cast<size_t>(amount - n));
    return SQLITE_IOERR_SHORT_READ;
  }

  static int Write(sqlite3_file* file, const void* buf, int amount, sqlite3_int64 offset) {
    File* f = F(file);
    if (f->path == nullptr) return f->real()->pMethods->xWrite(f->real(), buf, amount, offset);
    std::lock_guard<std::mutex> lock(f->vfs->mu_);
    if (f->vfs->off_) return SQLITE_IOERR_WRITE;
    Image& image = f->vfs->files_[*f->path];
    const auto end = static_cast<size_t>(offset + amount);
    if (image.bytes.size() < end) image.bytes.resize(end);
    std::memcpy(image.bytes.data() + offset, buf, static_cast<size_t>(amount));
    image.pending.push_back(Op{false, offset, std::string(static_cast<const char*>(buf), static_cast<size_t>(amount))});
    if (f->vfs->writes_until_cut_ > 0 && --f->vfs->writes_until_cut_ == 0) f->vfs->CutLocked();
    return SQLITE_OK;
  }

  static int Truncate(sqlite3_file* file, sqlite3_int64 size) {
    File* f = F(file);
    if (f->path == nullptr) return f->real()->pMethods->xTruncate(f->real(), size);
    std::lock_guard<std::mutex> lock(f->vfs->mu_);
    if (f->vfs->off_) return SQLITE_IOERR_TRUNCATE;
    Image& image = f->vfs->files_[*f->path];
    image.bytes.resize(static_cast<size_t>(size));
    image.pending.push_back(Op{true, size, {}});
    return SQLITE_OK;
  }

  // The disk now holds everything written to this file so far.
  static int Sync(sqlite3_file* file, int flags) {
    File* f = F(file);
    if (f->path == nullptr) return f->real()->pMethods->xSync(f->real(), flags);
    std::lock_guard<std::mutex> lock(f->vfs->mu_);
    if (f->vfs->off_) return SQLITE_IOERR_FSYNC;
    Image& image = f->vfs->files_[*f->path];
    for (const Op& op : image.pending) {
      sqlite3_file* r = f->real();
      int rc = op.truncate ? r->pMethods->xTruncate(r, op.offset)
                           : r->pMethods->xWrite(r, op.bytes.data(), static_cast<int>(op.bytes.size()), op.offset);
      if (rc != SQLITE_OK) return rc;
    }
    image.pending.clear();
    ++f->vfs->syncs_;
    return SQLITE_OK;
  }

  static int FileSize(sqlite3_file* file, sqlite3_int64* size) {
    File* f = F(file);
    if (f->path == nullptr) return f->real()->pMethods->xFileSize(f->real(), size);
    std::lock_guard<std::mutex> lock(f->vfs->mu_);
    if (f->vfs->off_) return SQLITE_IOERR_FSTAT;
    *size = static_cast<sqlite3_int64>(f->vfs->files_[*f->path].bytes.size());
    return SQLITE_OK;
  }

  static int FileControl(sqlite3_file* file, int op, void* arg) {
    // A size hint would grow the real file behind the image's back.
    if (op == SQLITE_FCNTL_SIZE_HINT) return SQLITE_OK;
    return F(file)->real()->pMethods->xFileControl(F(file)->real(), op, arg);
  }

  // iVersion 2: shared memory (WAL) but no memory-mapped reads, which would
  // bypass the image.
  static constexpr sqlite3_io_methods kMethods = {
      2,
      &Close,
      &Read,
      &Write,
      &Truncate,
      &Sync,
      &FileSize,
      [](sqlite3_file* f, int lock) { return F(f)->real()->pMethods->xLock(F(f)->real(), lock); },
      [](sqlite3_file* f, int lock) { return F(f)->real()->pMethods->xUnlock(F(f)->real(), lock); },
      [](sqlite3_file* f, int* out) { return F(f)->real()->pMethods->xCheckReservedLock(F(f)->real(), out); },
      &FileControl,
      [](sqlite3_file* f) { return F(f)->real()->pMethods->xSectorSize(F(f)->real()); },
      [](sqlite3_file* f) { return F(f)->real()->pMethods->xDeviceCharacteristics(F(f)->real()); },
      [](sqlite3_file* f, int region, int size, int extend, void volatile** out) {
        return F(f)->real()->pMethods->xShmMap(F(f)->real(), region, size, extend, out);
      },
      [](sqlite3_file* f, int offset, int n, int flags) {
        return F(f)->real()->pMethods->xShmLock(F(f)->real(), offset, n, flags);
      },
      [](sqlite3_file* f) { F(f)->real()->pMethods->xShmBarrier(F(f)->real()); },
      [](sqlite3_file* f, int del) { return F(f)->real()->pMethods->xShmUnmap(F(f)->real(), del); },
      nullptr,
      nullptr,
  };

  sqlite3_vfs vfs_{};
  sqlite3_vfs* real_ = nullptr;
  mutable std::mutex mu_;
  std::map<std::string, Image> files_;  // by path as SQLite opened it
  bool off_ = false;
  uint64_t seed_ = 0;
  int writes_until_cut_ = 0;  // 0: not armed
  int dropped_ = 0;
  std::atomic<int> syncs_{0};
};

WritableEvent Ev(int writer, int n) {
  WritableEvent e;
  e.type = "deposited";
  e.data = "{\"writer\":" + std::to_string(writer) + ",\"n\":" + std::to_string(n) + ",\"pad\":\"" +
           std::string(100, 'x') + "\"}";
  e.content_type = "application/json";
  return e;
}

struct RoundResult {
  std::vector<TypeId> streams;        // one per writer
  std::vector<int64_t> acknowledged;  // appends acknowledged OK, per writer
  std::vector<int64_t> attempted;     // appends sent, per writer
  int dropped_writes = 0;
};

constexpr int kWriters = 4;

// Appends from kWriters threads (one stream each, one event per append) until
// `cut_after` appends were acknowledged, cuts the power in the middle of a commit,
// then closes the store (every I/O failing) and restores the real VFS.
RoundResult RunUntilPowerCut(const std::string& path, Durability durability, int cut_after, uint64_t seed) {
  PowerCutVfs vfs;
  vfs.Install();
  RoundResult r;
  r.acknowledged.assign(kWriters, 0);
  r.attempted.assign(kWriters, 0);
  for (int w = 0; w < kWriters; ++w) r.streams.push_back(TypeId::New("account").value());
  {
    SqliteOptions o;
    o.path = path;
    o.durability = durability;
    o.wal_autocheckpoint_pages = 40;  // checkpoints (and their syncs) happen within a round
    o.logger = NullLogger();
    auto store = SqliteEventStore::Open(o);
    EXPECT_TRUE(store.has_value()) << store.error();
    if (!store) {
      vfs.Uninstall();
      return r;
    }
    std::atomic<int> acked{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        for (int n = 1;; ++n) {
          r.attempted[w] = n;
          auto done = (*store)->AppendStream(r.streams[w], std::vector<WritableEvent>{Ev(w, n)},
                                             AppendOptions::ExpectVersion(n - 1));
          if (!done) {
            // Only the cut may fail an append, with the I/O error reported.
            EXPECT_TRUE(vfs.off()) << "append failed before the power cut: " << done.error();
            EXPECT_TRUE(done.error().IsUnavailable()) << done.error();
            return;
          }
          r.acknowledged[w] = n;
          ++acked;
        }
      });
    }
    while (acked.load() < cut_after) std::this_thread::yield();
    // A commit writes at least three WAL frames (the row and its two index
    // entries): cutting after the third write from now catches one in flight.
    vfs.ArmCut(seed, 3);
    for (auto& t : writers) t.join();  // each stops at its first failed append
    r.dropped_writes = vfs.dropped();
  }  // the store closes with every I/O failing
  vfs.Uninstall();
  return r;
}

// After the "reboot": the file is intact, positions are gap-free from 1, and
// each stream holds a prefix of what its writer sent. Returns the events per
// writer.
std::vector<int64_t> CheckRecovered(const std::string& path, const RoundResult& r, Durability durability) {
  {
    auto db = SqliteDatabase::Open(path);
    EXPECT_TRUE(db.has_value()) << db.error();
    if (!db) return {};
    auto check = (*db)->QueryText("PRAGMA integrity_check");
    EXPECT_TRUE(check.has_value()) << check.error();
    if (check) {
      EXPECT_EQ(*check, "ok");
    }
  }
  SqliteOptions o;
  o.path = path;
  o.durability = durability;
  o.logger = NullLogger();
  auto store = SqliteEventStore::Open(o);
  EXPECT_TRUE(store.has_value()) << store.error();
  if (!store) return {};
  auto it = (*store)->ReadAll();
  EXPECT_TRUE(it.has_value()) << it.error();
  if (!it) return {};
  auto all = Collect(**it);
  EXPECT_TRUE(all.has_value()) << all.error();
  if (!all) return {};
  std::map<TypeId, int> writer_of;
  for (int w = 0; w < kWriters; ++w) writer_of[r.streams[w]] = w;
  std::vector<int64_t> seen(kWriters, 0);
  for (size_t i = 0; i < all->size(); ++i) {
    const Event& e = (*all)[i];
    EXPECT_EQ(e.global_position, static_cast<int64_t>(i) + 1) << "a gap in the recovered log";
    auto w = writer_of.find(e.stream_id);
    if (w == writer_of.end()) {
      ADD_FAILURE() << "an event of an unknown stream survived";
      continue;
    }
    const int64_t n = ++seen[w->second];
    EXPECT_EQ(e.stream_version, n);
    EXPECT_EQ(e.data, Ev(w->second, static_cast<int>(n)).data) << "event " << n << " of writer " << w->second;
  }
  for (int w = 0; w < kWriters; ++w) EXPECT_LE(seen[w], r.attempted[w]) << "an event no writer sent";
  // The store appends again, at the next position.
  auto next = (*store)->AppendStream(r.streams[0], std::vector<WritableEvent>{Ev(0, static_cast<int>(seen[0]) + 1)},
                                     AppendOptions::ExpectVersion(seen[0]));
  EXPECT_TRUE(next.has_value()) << next.error();
  if (next) {
    EXPECT_EQ(next->back().global_position, static_cast<int64_t>(all->size()) + 1);
  }
  return seen;
}

TEST(SqlitePowerLossTest, StrictKeepsEveryAcknowledgedAppend) {
  int dropped = 0;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    TempDir dir;
    const std::string path = dir.File("bank.db");
    RoundResult r = RunUntilPowerCut(path, Durability::kStrict, 150 + 25 * static_cast<int>(seed), seed);
    dropped += r.dropped_writes;
    std::vector<int64_t> seen = CheckRecovered(path, r, Durability::kStrict);
    ASSERT_EQ(seen.size(), static_cast<size_t>(kWriters));
    for (int w = 0; w < kWriters; ++w) {
      EXPECT_GE(seen[w], r.acknowledged[w]) << "writer " << w << " lost an acknowledged append";
    }
  }
  // The cut must have caught writes in flight, or the test proved nothing.
  EXPECT_GT(dropped, 0);
}

TEST(SqlitePowerLossTest, RelaxedKeepsAnIntactPrefix) {
  int dropped = 0;
  int64_t lost = 0;
  for (uint64_t seed = 11; seed <= 18; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    TempDir dir;
    const std::string path = dir.File("bank.db");
    RoundResult r = RunUntilPowerCut(path, Durability::kRelaxed, 150 + 25 * static_cast<int>(seed % 10), seed);
    dropped += r.dropped_writes;
    std::vector<int64_t> seen = CheckRecovered(path, r, Durability::kRelaxed);
    ASSERT_EQ(seen.size(), static_cast<size_t>(kWriters));
    for (int w = 0; w < kWriters; ++w) lost += std::max<int64_t>(0, r.acknowledged[w] - seen[w]);
  }
  EXPECT_GT(dropped, 0);
  // Relaxed mode does not sync each commit, so a cut loses acknowledged
  // appends; if none were ever lost the simulation would not be cutting power.
  EXPECT_GT(lost, 0);
}

}  // namespace
}  // namespace estoria::sqlite
